import Foundation
import HTTPSupport
import HTTPTypes
import Hummingbird
import Logging
import OrderCore
import OrderStore
import Postgres
import ServiceSupport
import TextCodecs

/// `POST /webhooks/wms/shipments`: the warehouse's carrier scans,
/// `{"orderId", "trackingNumber", "carrier", "status": "SHIPPED" | "IN_TRANSIT" | "DELIVERED", "occurredAt"?}`,
/// with `Authorization: Bearer <WMS_CALLBACK_TOKEN>`. One transaction
/// records the parcel's scan and moves the order up to it (a scan implies
/// the states before it); a scan the order is past changes nothing.
struct WarehouseCallbackController<Context: RequestContext>: Sendable {
    /// nil: `WMS_CALLBACK_TOKEN` unset, every callback refused.
    let token: BearerToken?
    let database: PostgresPool
    let routing: OutboxRouting
    let maxBodyBytes: Int

    init(token: String?, database: PostgresPool, routing: OutboxRouting, maxBodyBytes: Int) {
        self.token = token.map(BearerToken.init)
        self.database = database
        self.routing = routing
        self.maxBodyBytes = maxBodyBytes
    }

    func addRoutes(to router: HTTPRouter<Context>) {
        router.post("/webhooks/wms/shipments", use: receive)
    }

    private struct Answer: Encodable {
        let orderId: String
        let status: String
        /// `applied` (the order moved) or `unchanged`.
        let result: String
        /// The states the order went through, in order.
        let transitions: [String]
        /// `recorded`, or `ignored` for a scan older than the parcel's last one.
        let shipment: String
    }

    @Sendable func receive(_ request: Request, context: Context) async throws -> Response {
        try authorize(request)
        let scan = try Self.scan(in: try await JSONBody.object(of: request, upTo: maxBodyBytes))
        var logger = context.logger
        logger[metadataKey: LogKey.orderId] = .string(UUIDText.string(scan.orderId))
        let routing = routing
        let result = try await Problem.refusing {
            try await database.withConnection { try Fulfilment.record(scan, routing: routing, on: $0) }
        }
        let metadata: Logger.Metadata = ["tracking_number": .string(scan.trackingNumber), "scan": .string(scan.status.rawValue)]
        switch result {
        case .cancelled:
            logger.warning("shipment scan for a cancelled order; flagged for review", metadata: metadata)
            throw Problem(
                status: .conflict, code: "order-cancelled", title: "The order was cancelled",
                detail: "the scan was not applied; the order is flagged for review")
        case .advanced(let states, let parcel):
            logger.info("shipment scan applied", metadata: metadata.merging(["transitions": "\(states.map(\.rawValue))", "shipment": "\(parcel.rawValue)"]) { $1 })
            return try JSONResponse.make(Answer(
                orderId: UUIDText.string(scan.orderId), status: states.last!.rawValue, result: "applied", transitions: states.map(\.rawValue),
                shipment: parcel.rawValue))
        case .unchanged(let state, let parcel):
            logger.info("shipment scan changed no state", metadata: metadata.merging(["status": "\(state.rawValue)", "shipment": "\(parcel.rawValue)"]) { $1 })
            return try JSONResponse.make(Answer(
                orderId: UUIDText.string(scan.orderId), status: state.rawValue, result: "unchanged", transitions: [], shipment: parcel.rawValue))
        }
    }

    /// No token configured: 503; none presented: 401; a wrong one: 403.
    private func authorize(_ request: Request) throws {
        guard let token else {
            throw Problem(
                status: .serviceUnavailable, code: "webhooks-not-configured", title: "Warehouse callbacks are not configured",
                detail: "set WMS_CALLBACK_TOKEN to the token the warehouse sends")
        }
        guard request.headers[.authorization] != nil else {
            throw Problem(
                status: .unauthorized, code: "unauthorized", title: "Send Authorization: Bearer <WMS_CALLBACK_TOKEN>",
                headers: [.wwwAuthenticate: #"Bearer realm="order-api""#])
        }
        guard token.isPresented(in: request) else {
            throw Problem(status: .forbidden, code: "forbidden", title: "The token is not valid")
        }
    }

    /// The body's scan; every wrong field named in one 400. Fields it does not
    /// know are left alone: a warehouse adds to its callbacks without asking.
    static func scan(in body: [String: JSONValue]) throws -> Fulfilment.Scan {
        var errors: [FieldError] = []
        func required(_ field: String) -> String? {
            switch body[field] {
            // Counted as PostgreSQL's char_length counts (code points), which the table's CHECK uses.
            case .string(let text)? where (1...255).contains(text.unicodeScalars.count): return text
            case nil, .null?: errors.append(FieldError(field: field, message: "is required"))
            case .string?: errors.append(FieldError(field: field, message: "must be 1 to 255 characters"))
            case let other?: errors.append(FieldError(field: field, message: "must be a string, not \(other.typeName)"))
            }
            return nil
        }
        let orderId = required("orderId").flatMap { text -> UUID? in
            guard let id = UUIDText.parse(text) else {
                errors.append(FieldError(field: "orderId", message: "must be a UUID"))
                return nil
            }
            return id
        }
        let trackingNumber = required("trackingNumber")
        let carrier = required("carrier")
        let status = required("status").flatMap { text -> OrderState? in
            guard let state = OrderState(rawValue: text), Fulfilment.Scan.statuses.contains(state) else {
                errors.append(FieldError(field: "status", message: "must be SHIPPED, IN_TRANSIT or DELIVERED"))
                return nil
            }
            return state
        }
        var occurredAt: Date?
        switch body["occurredAt"] {
        case nil, .null?: break
        case .string(let text)?:
            if let (seconds, nanoseconds) = TimestampText.message.parse(text) {
                occurredAt = Date(timeIntervalSince1970: Double(seconds) + Double(nanoseconds) / 1e9)
            } else {
                errors.append(FieldError(field: "occurredAt", message: "must be an RFC 3339 timestamp"))
            }
        case let other?: errors.append(FieldError(field: "occurredAt", message: "must be a string, not \(other.typeName)"))
        }
        guard errors.isEmpty, let orderId, let trackingNumber, let status else { throw Problem.invalidBody(ValidationFailure(errors)) }
        return Fulfilment.Scan(orderId: orderId, trackingNumber: trackingNumber, carrier: carrier, status: status, occurredAt: occurredAt)
    }
}
