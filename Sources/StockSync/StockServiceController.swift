import Foundation
import HTTPSupport
import HTTPTypes
import Hummingbird
import Logging
import OrderCore
import OrderStore
import Postgres
import ServiceSupport

/// The seed's "Stock Service": read a vendor's stock, restock or adjust it,
/// trigger a sync, and set or remove a product's price. Writes need `Authorization: Bearer <STOCK_API_TOKEN>`;
/// without a configured token they are refused.
struct StockServiceController<Context: RequestContext>: Sendable {
    let vendors: [String: PostgresPool]
    /// The orders database, where products and their prices live.
    let local: PostgresPool
    let runner: StockSyncRunner
    /// nil: no STOCK_API_TOKEN, writes disabled.
    let token: BearerToken?

    init(vendors: [String: PostgresPool], local: PostgresPool, runner: StockSyncRunner, token: String?) {
        self.vendors = vendors
        self.local = local
        self.runner = runner
        self.token = token.map(BearerToken.init)
    }

    func addRoutes(to router: HTTPRouter<Context>) {
        router.get("/vendors") { _, _ in try JSONResponse.make(["vendors": vendors.keys.sorted()]) }
        router.get("/vendors/{vendor}/stock", use: list)
        router.get("/vendors/{vendor}/stock/{productId}", use: show)
        router.post("/vendors/{vendor}/stock/{productId}/restock", use: restock)
        router.put("/vendors/{vendor}/stock/{productId}", use: adjust)
        router.put("/products/{productId}/price", use: setPrice)
        router.delete("/products/{productId}/price", use: removePrice)
        router.post("/sync", use: sync)
        router.get("/health/live") { _, _ in try JSONResponse.make(["status": "ok"]) }
    }

    private struct StockFigure: Encodable {
        let vendorId: String
        let productId: String
        let stock: Int
        let updatedAt: Date?
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> Response {
        let (name, pool) = try vendor(context)
        let rows = try await pool.withConnection { try VendorStore.stock(on: $0) }
        return try JSONResponse.make(["stock": rows.map { StockFigure(vendorId: name, productId: $0.productId, stock: $0.stock, updatedAt: $0.updatedAt) }])
    }

    @Sendable func show(_ request: Request, context: Context) async throws -> Response {
        let (name, pool) = try vendor(context)
        let productId = try product(context)
        guard let row = try await pool.withConnection({ try VendorStore.stock(productId, on: $0) }).first else {
            throw Problem(status: .notFound, code: "product-not-found", title: "Unknown product at this vendor", detail: "\(name) has no \(productId)")
        }
        return try JSONResponse.make(StockFigure(vendorId: name, productId: row.productId, stock: row.stock, updatedAt: row.updatedAt))
    }

    @Sendable func restock(_ request: Request, context: Context) async throws -> Response {
        try await write(request, context, field: "quantity", range: 1...1_000_000, event: "vendor restocked") { productId, quantity, connection in
            try VendorStore.restock(productId, by: quantity, on: connection)
        }
    }

    @Sendable func adjust(_ request: Request, context: Context) async throws -> Response {
        try await write(request, context, field: "stock", range: 0...1_000_000_000, event: "vendor stock adjusted") { productId, figure, connection in
            try VendorStore.adjust(productId, to: figure, on: connection)
        }
    }

    /// An authorized change to one product's stock at one vendor, from the integer
    /// body `field`; answers the stock after it.
    private func write(
        _ request: Request, _ context: Context, field: String, range: ClosedRange<Int>, event: Logger.Message,
        _ change: @escaping @Sendable (String, Int, PostgresConnection) throws -> Int
    ) async throws -> Response {
        try authorize(request)
        let (name, pool) = try vendor(context)
        let productId = try product(context)
        let value = try await integerField(field, in: request, range: range)
        let stock = try await pool.withConnection { try change(productId, value, $0) }
        context.logger.info(event, metadata: [LogKey.vendor: "\(name)", LogKey.product: "\(productId)", "\(field)": "\(value)"])
        return try JSONResponse.make(StockFigure(vendorId: name, productId: productId, stock: stock, updatedAt: Date()))
    }

    private struct ProductPrice: Encodable {
        let productId: String
        let price: Money?

        enum CodingKeys: String, CodingKey { case productId, price }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(productId, forKey: .productId)
            // Present as null when unpriced (the synthesized form would leave the key out).
            try container.encode(price, forKey: .price)
        }
    }

    /// `{"minor": 1250, "currency": "EUR"}`: the product's price from now on
    /// (what a paying order is charged when its stock is held).
    @Sendable func setPrice(_ request: Request, context: Context) async throws -> Response {
        try authorize(request)
        let productId = try product(context)
        let object = try await JSONBody.object(of: request, upTo: 4096)
        var errors: [FieldError] = []
        for key in object.keys.sorted() where key != "minor" && key != "currency" {
            errors.append(FieldError(field: key, message: "is not a known field"))
        }
        var minor: Int?
        if case .integer(let number)? = object["minor"], number >= 0, number <= Int64(Money.maximumMinor), let value = Int(exactly: number) {
            minor = value
        } else {
            errors.append(FieldError(field: "minor", message: "must be an integer from 0 to \(Money.maximumMinor) (minor units: cents)"))
        }
        var currency: String?
        if case .string(let code)? = object["currency"], Money.isValidCurrency(code) {
            currency = code
        } else {
            errors.append(FieldError(field: "currency", message: "must be an ISO 4217 code in upper case, such as EUR"))
        }
        guard errors.isEmpty, let minor, let currency else {
            throw Problem(status: .badRequest, code: "invalid-request", title: "The request is invalid", errors: errors)
        }
        return try await changePrice(of: productId, to: Money(minor: minor, currency: currency), context: context)
    }

    /// The product has no price: orders that pay cannot buy it.
    @Sendable func removePrice(_ request: Request, context: Context) async throws -> Response {
        try authorize(request)
        return try await changePrice(of: try product(context), to: nil, context: context)
    }

    private func changePrice(of productId: String, to price: Money?, context: Context) async throws -> Response {
        guard try await local.withConnection({ try ProductPrices.set(productId, to: price, on: $0) }) else {
            throw Problem(status: .notFound, code: "product-not-found", title: "Unknown product", detail: "no product \(productId)")
        }
        context.logger.info("product price set", metadata: [LogKey.product: "\(productId)", "price": "\(price.map(\.description) ?? "none")"])
        return try JSONResponse.make(ProductPrice(productId: productId, price: price))
    }

    @Sendable func sync(_ request: Request, context: Context) async throws -> Response {
        try authorize(request)
        return try JSONResponse.make(try await runner.run())
    }

    // MARK: Helpers

    private func authorize(_ request: Request) throws {
        guard let token else {
            throw Problem(status: .forbidden, code: "writes-disabled", title: "Stock writes are disabled", detail: "set STOCK_API_TOKEN to enable them")
        }
        guard request.headers[.authorization] != nil else {
            throw Problem(
                status: .unauthorized, code: "unauthorized", title: "Send Authorization: Bearer <token>",
                headers: [.wwwAuthenticate: #"Bearer realm="stock-service""#])
        }
        guard token.isPresented(in: request) else {
            throw Problem(status: .forbidden, code: "forbidden", title: "The token is not valid")
        }
    }

    private func vendor(_ context: Context) throws -> (String, PostgresPool) {
        let name = context.parameters.get("vendor") ?? ""
        guard let pool = vendors[name] else {
            throw Problem(status: .notFound, code: "vendor-not-found", title: "Unknown vendor", detail: "configured vendors: \(vendors.keys.sorted().joined(separator: ", "))")
        }
        return (name, pool)
    }

    private func product(_ context: Context) throws -> String {
        let id = context.parameters.get("productId") ?? ""
        guard OrderLimits.isValidProductId(id) else {
            throw Problem(status: .badRequest, code: "invalid-product-id", title: "The product id is invalid",
                          errors: [FieldError(field: "productId", message: "must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' or '-'")])
        }
        return id
    }

    private func integerField(_ name: String, in request: Request, range: ClosedRange<Int>) async throws -> Int {
        let object = try await JSONBody.object(of: request, upTo: 4096)
        guard case .integer(let number)? = object[name], range.contains(Int(clamping: number)) else {
            throw Problem(status: .badRequest, code: "invalid-request", title: "The request is invalid",
                          errors: [FieldError(field: name, message: "must be an integer from \(range.lowerBound) to \(range.upperBound)")])
        }
        return Int(number)
    }
}
