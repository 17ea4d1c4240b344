import HTTPSupport
import Hummingbird
import Messaging
import OrderCore
import OrderStore
import Postgres

/// `GET /products`, `GET /products/{id}`: available stock is the sum over
/// vendors; `price` is the product's price, or null when it has none.
struct ProductsController<Context: RequestContext>: Sendable {
    let database: PostgresPool

    func addRoutes(to router: HTTPRouter<Context>) {
        router.get("/products", use: list)
        router.get("/products/{id}", use: show)
    }

    @Sendable func list(_ request: Request, context: Context) async throws -> Response {
        let products = try await database.withConnection { try Self.priced(OrderQueries.products(on: $0), on: $0) }
        return try JSONResponse.make(["products": products])
    }

    @Sendable func show(_ request: Request, context: Context) async throws -> Response {
        let id = context.parameters.get("id") ?? ""
        guard OrderLimits.isValidProductId(id) else {
            throw Problem(status: .badRequest, code: "invalid-product-id", title: "The product id is invalid",
                          errors: [FieldError(field: "id", message: "must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' or '-'")])
        }
        let products = try await database.withConnection { try Self.priced(OrderQueries.products(id, on: $0), on: $0) }
        guard let product = products.first else {
            throw Problem(status: .notFound, code: "product-not-found", title: "Unknown product", detail: "no product \(id)")
        }
        return try JSONResponse.make(product)
    }

    private static func priced(_ products: [ProductStock], on connection: PostgresConnection) throws -> [PricedProduct] {
        guard !products.isEmpty else { return [] }
        let prices = try ProductPrices.all(on: connection)
        return products.map { PricedProduct(stock: $0, price: prices[$0.productId] ?? nil) }
    }

    /// A product's stock figures and, beside them, its price (null when unpriced).
    private struct PricedProduct: Encodable {
        let stock: ProductStock
        let price: Money?

        enum CodingKeys: String, CodingKey { case price }

        func encode(to encoder: any Encoder) throws {
            try stock.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            // Present as null when unpriced (the synthesized form would leave the key out).
            try container.encode(price, forKey: .price)
        }
    }
}
