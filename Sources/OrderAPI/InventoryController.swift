import Foundation
import HTTPSupport
import Hummingbird
import OrderCore
import OrderStore
import Postgres
import TextCodecs

/// Checkout holds (seed 001): `POST /inventory/check-availability`, and
/// `POST /inventory/reservations`, `GET` and `DELETE /inventory/reservations/{id}`.
/// An order consumes a hold by naming it (`"reservationId"` in `POST /order`).
struct InventoryController<Context: RequestContext>: Sendable {
    let database: PostgresPool
    let authorization: CommandAuthorization
    let routing: OutboxRouting
    let maxBodyBytes: Int
    /// How long a hold lasts when the request does not say (`expiresIn`).
    let defaultHoldSeconds: Int

    static var holdSeconds: ClosedRange<Int> { 1...86_400 }

    func addRoutes(to router: HTTPRouter<Context>) {
        router.post("/inventory/check-availability", use: checkAvailability)
        router.post("/inventory/reservations", use: reserve)
        router.get("/inventory/reservations/{id}", use: show)
        router.delete("/inventory/reservations/{id}", use: release)
    }

    private struct Availability: Encodable {
        let available: Bool
        let items: [ItemAvailability]
    }

    @Sendable func checkAvailability(_ request: Request, context: Context) async throws -> Response {
        let items = try await self.items(of: request, also: [])
        let availability = try await database.withConnection { try Reservations.availability(of: items.lines, on: $0) }
        return try JSONResponse.make(Availability(available: availability.allSatisfy(\.available), items: availability))
    }

    @Sendable func reserve(_ request: Request, context: Context) async throws -> Response {
        try authorization.authorize(request)
        let items = try await self.items(of: request, also: ["expiresIn"])
        var seconds = defaultHoldSeconds
        switch items.others["expiresIn"] {
        case nil, .null?: break
        case .integer(let value)? where Self.holdSeconds.contains(Int(clamping: value)): seconds = Int(value)
        case _?:
            throw Problem.invalidBody(ValidationFailure([
                FieldError(field: "expiresIn", message: "must be an integer from \(Self.holdSeconds.lowerBound) to \(Self.holdSeconds.upperBound) (seconds)"),
            ]))
        }
        let (routing, lifetime) = (routing, seconds)
        let reservation = try await Problem.refusing {
            try await database.withConnection { try Reservations.create(items: items.lines, seconds: lifetime, routing: routing, on: $0) }
        }
        let id = UUIDText.string(reservation.reservationId)
        context.logger.info("checkout hold created", metadata: ["reservation_id": "\(id)", "expires_in": "\(lifetime)"])
        var response = try JSONResponse.make(reservation, status: .created)
        response.headers[.location] = "/inventory/reservations/\(id)"
        return response
    }

    @Sendable func show(_ request: Request, context: Context) async throws -> Response {
        let id = try Self.reservationId(context)
        guard let reservation = try await database.withConnection({ try Reservations.details(id, on: $0) }) else {
            throw Problem(status: .notFound, code: "reservation-not-found", title: "Unknown reservation", detail: "no reservation \(UUIDText.string(id))")
        }
        return try JSONResponse.make(reservation)
    }

    @Sendable func release(_ request: Request, context: Context) async throws -> Response {
        try authorization.authorize(request)
        let id = try Self.reservationId(context)
        let routing = routing
        _ = try await Problem.refusing {
            try await database.withConnection { try Reservations.release(id, routing: routing, on: $0) }
        }
        context.logger.info("checkout hold released", metadata: ["reservation_id": "\(UUIDText.string(id))"])
        var response = Response(status: .noContent)
        response.headers[.contentLength] = nil
        return response
    }

    /// The body's `items` (or `productId` and `quantity`), validated as an
    /// order's lines, and the other fields the route takes.
    private func items(of request: Request, also fields: Set<String>) async throws -> (lines: [OrderLine], others: [String: JSONValue]) {
        var body = try await JSONBody.object(of: request, upTo: maxBodyBytes)
        var others: [String: JSONValue] = [:]
        for field in fields { others[field] = body.removeValue(forKey: field) }
        switch OrderRequest.validate(.object(body)) {
        case .success(let lines): return (lines, others)
        case .failure(let failure): throw Problem.invalidBody(failure)
        }
    }

    private static func reservationId(_ context: Context) throws -> UUID {
        guard let id = UUIDText.parse(context.parameters.get("id") ?? "") else {
            throw Problem(status: .badRequest, code: "invalid-reservation-id", title: "The reservation id is not a UUID",
                          errors: [FieldError(field: "id", message: "must be a UUID")])
        }
        return id
    }
}
