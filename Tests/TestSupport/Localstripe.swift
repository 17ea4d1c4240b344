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

    /// Every object of a kind: the emulator has no page size limit, so one request.
    private static func list(_ resource: String) throws -> [[String: Any]] {
        let output = try Command.run("/usr/bin/curl", ["-s", "-f", "-u", "\(secretKey):", "\(baseURL)/v1/\(resource)?limit=10000000"])
        guard output.status == 0 else { throw ChildProcessError(message: "localstripe answered no \(resource) list (is it running? scripts/services start)") }
        let object = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any]
        return object?["data"] as? [[String: Any]] ?? []
    }
}
