import Foundation

/// The local Stripe emulator's own records (scripts/services runs it): what the
/// payment tests reconcile the orders against. Every object it holds, of every
/// test, comes back; callers pick theirs by intent id or `metadata.order_id`.
public enum Localstripe {
    public static var baseURL: String {
        "http://127.0.0.1:\(ProcessInfo.processInfo.environment["LOCALSTRIPE_PORT"] ?? "8420")"
    }

    public static let secretKey = "sk_test_local"

    public struct Intent: Sendable, Hashable {
        public init(id: String, status: String, amount: Int, currency: String, orderId: String?) {
            self.id = id
            self.status = status
            self.amount = amount
            self.currency = currency
            self.orderId = orderId
        }

        public let id: String
        public let status: String
        public let amount: Int
        public let currency: String
        public let orderId: String?
    }

    public struct Charge: Sendable, Hashable {
        public let id: String
        public let paymentIntent: String?
        public let amount: Int
        public let captured: Bool
        public let status: String
        public let amountRefunded: Int
    }

    public struct Refund: Sendable, Hashable {
        public let id: String
        public let paymentIntent: String?
        public let charge: String?
        public let amount: Int
    }

    public static func intents() throws -> [Intent] {
        try list("payment_intents").map { object in
            Intent(
                id: object["id"] as? String ?? "", status: object["status"] as? String ?? "", amount: object["amount"] as? Int ?? 0,
                currency: object["currency"] as? String ?? "", orderId: (object["metadata"] as? [String: Any])?["order_id"] as? String)
        }
    }

    public static func charges() throws -> [Charge] {
        try list("charges").map { object in
            Charge(
                id: object["id"] as? String ?? "", paymentIntent: object["payment_intent"] as? String, amount: object["amount"] as? Int ?? 0,
                captured: object["captured"] as? Bool ?? false, status: object["status"] as? String ?? "",
                amountRefunded: object["amount_refunded"] as? Int ?? 0)
        }
    }

    public static func refunds() throws -> [Refund] {
        try list("refunds").map { object in
            Refund(
                id: object["id"] as? String ?? "", paymentIntent: object["payment_intent"] as? String, charge: object["charge"] as? String,
                amount: object["amount"] as? Int ?? 0)
        }
    }

    /// Registers a webhook endpoint under `id` (the emulator sends every event to every one).
    public static func registerWebhook(id: String, url: String, secret: String) throws {
        let output = try Command.run(
            "/usr/bin/curl", ["-s", "-f", "-X", "POST", "\(baseURL)/_config/webhooks/\(id)", "--data-urlencode", "url=\(url)", "--data-urlencode", "secret=\(secret)"])
        guard output.status == 0 else { throw ChildProcessError(message: "localstripe refused the webhook registration: \(output.stdout)") }
    }

    /// A card PaymentMethod made from a test card number (4000002760003184 asks for 3-D Secure), as
    /// the shop's front end would with Stripe.js; its id.
    public static func cardPaymentMethod(number: String) throws -> String {
        let object = try post("payment_methods", ["type=card", "card[number]=\(number)", "card[exp_month]=12", "card[exp_year]=2030", "card[cvc]=123"])
        guard let id = object["id"] as? String else { throw ChildProcessError(message: "localstripe made no payment method: \(object)") }
        return id
    }

    /// The customer completes 3-D Secure for `intent` (what Stripe.js does in the browser); its status after.
    public static func authenticate(intent: String) throws -> String? {
        let current = try get("payment_intents/\(intent)")
        guard let secret = current["client_secret"] as? String else { throw ChildProcessError(message: "no client_secret on \(intent)") }
        return try post("payment_intents/\(intent)/_authenticate", ["client_secret=\(secret)", "success=true"])["status"] as? String
    }

    public static func intent(_ id: String) throws -> [String: Any] { try get("payment_intents/\(id)") }

    private static func get(_ path: String) throws -> [String: Any] {
        let output = try Command.run("/usr/bin/curl", ["-s", "-u", "\(secretKey):", "\(baseURL)/v1/\(path)"])
        return (try JSONSerialization.jsonObject(with: Data(output.stdout.utf8))) as? [String: Any] ?? [:]
    }

    private static func post(_ path: String, _ fields: [String]) throws -> [String: Any] {
        let output = try Command.run("/usr/bin/curl", ["-s", "-u", "\(secretKey):", "-X", "POST", "\(baseURL)/v1/\(path)"] + fields.flatMap { ["--data-urlencode", $0] })
        return (try JSONSerialization.jsonObject(with: Data(output.stdout.utf8))) as? [String: Any] ?? [:]
    }

    /// Every object of a kind: the emulator has no page size limit, so one request.
    private static func list(_ resource: String) throws -> [[String: Any]] {
        let output = try Command.run("/usr/bin/curl", ["-s", "-f", "-u", "\(secretKey):", "\(baseURL)/v1/\(resource)?limit=10000000"])
        guard output.status == 0 else { throw ChildProcessError(message: "localstripe answered no \(resource) list (is it running? scripts/services start)") }
        let object = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any]
        return object?["data"] as? [[String: Any]] ?? []
    }
}
