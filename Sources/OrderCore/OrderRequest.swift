import Foundation
import TextCodecs

/// A payment the order asks for (`"payment": {"method": "pm_card_visa"}`): a
/// Stripe PaymentMethod id the shop's front end obtained. An order with one
/// holds its stock (RESERVED) until the payment is done or the hold expires.
public struct PaymentRequest: Sendable, Hashable, Codable {
    public let method: String

    public init(method: String) { self.method = method }

    /// Stripe's object ids: a prefix, an underscore and letters, digits or underscores.
    static func isValidMethod(_ text: String) -> Bool {
        (3...255).contains(text.utf8.count) && text.contains("_")
            && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F }
    }
}

/// A valid `POST /order` body: its lines, and optionally the checkout hold it
/// consumes and the payment it asks for.
public struct OrderSubmission: Sendable, Hashable {
    public let lines: [OrderLine]
    /// `POST /inventory/reservations`' id: the order takes the held units instead of taking stock again.
    public let reservationId: UUID?
    public let payment: PaymentRequest?

    public init(lines: [OrderLine], reservationId: UUID? = nil, payment: PaymentRequest? = nil) {
        self.lines = lines
        self.reservationId = reservationId
        self.payment = payment
    }
}

/// Validates the body of `POST /order`: either one line
/// (`{"productId":"p1","quantity":2}`) or several (`{"items":[…]}`), with the
/// optional `reservationId` and `payment`. Every invalid field is reported,
/// not just the first.
public enum OrderRequest {
    public static func parse(_ body: some Collection<UInt8>) -> Result<OrderSubmission, ValidationFailure> {
        guard !body.isEmpty else {
            return .failure(ValidationFailure([FieldError(field: "body", message: "is empty; send a JSON object")]))
        }
        let value: JSONValue
        do {
            value = try JSONValue.parse(body)
        } catch {
            if let duplicate = error.duplicateField { return .failure(ValidationFailure([duplicate])) }
            // Checked only on failure (parsing validates every string), and
            // reported before any syntax fault: a client that sends another
            // encoding learns that, not where the first odd byte sits.
            let message = String(validating: body, as: UTF8.self) == nil ? "is not valid UTF-8" : "is not valid JSON"
            return .failure(ValidationFailure([FieldError(field: "body", message: message)]))
        }
        guard case .object(var object) = value else { return validate(value).map { OrderSubmission(lines: $0) } }
        var errors: [FieldError] = []
        let reservationId = validateReservationId(object.removeValue(forKey: "reservationId"), errors: &errors)
        let payment = validatePayment(object.removeValue(forKey: "payment"), errors: &errors)
        if reservationId != nil, payment != nil {
            // A consumed checkout hold confirms the order at once; a payment must
            // hold the stock until it is paid. Until a hold can be handed to a
            // paying order, the two are not taken together.
            errors.append(FieldError(field: "payment", message: "cannot be combined with reservationId"))
        }
        switch validate(.object(object)) {
        case .success(let lines) where errors.isEmpty:
            return .success(OrderSubmission(lines: lines, reservationId: reservationId, payment: payment))
        case .success: return .failure(ValidationFailure(errors))
        case .failure(let failure): return .failure(ValidationFailure(failure.errors + errors))
        }
    }

    static func validateReservationId(_ value: JSONValue?, errors: inout [FieldError]) -> UUID? {
        switch value {
        case nil, .null?: return nil
        case .string(let text)?:
            if let id = UUIDText.parse(text) { return id }
            errors.append(FieldError(field: "reservationId", message: "must be a reservation id (a UUID) from POST /inventory/reservations"))
        case let other?: errors.append(FieldError(field: "reservationId", message: "must be a string, not \(other.typeName)"))
        }
        return nil
    }

    static func validatePayment(_ value: JSONValue?, errors: inout [FieldError]) -> PaymentRequest? {
        switch value {
        case nil, .null?: return nil
        case .object(let fields)?:
            for key in fields.keys.sorted() where key != "method" {
                errors.append(FieldError(field: "payment." + key, message: "is not a known field"))
            }
            switch fields["method"] {
            case .string(let method)? where PaymentRequest.isValidMethod(method): return PaymentRequest(method: method)
            case .string?: errors.append(FieldError(field: "payment.method", message: "must be a payment method id such as pm_card_visa"))
            case nil: errors.append(FieldError(field: "payment.method", message: "is required"))
            case let other?: errors.append(FieldError(field: "payment.method", message: "must be a string, not \(other.typeName)"))
            }
        case let other?: errors.append(FieldError(field: "payment", message: "must be an object, not \(other.typeName)"))
        }
        return nil
    }

    public static func validate(_ value: JSONValue) -> Result<[OrderLine], ValidationFailure> {
        guard case .object(let object) = value else {
            return .failure(ValidationFailure([FieldError(field: "body", message: "must be a JSON object, not \(value.typeName)")]))
        }
        var errors: [FieldError] = []
        let single = object["productId"] != nil || object["quantity"] != nil
        if single && object["items"] != nil {
            return .failure(ValidationFailure([FieldError(field: "items", message: "cannot be combined with productId/quantity; send one form")]))
        }
        for key in object.keys.sorted() where !["productId", "quantity", "items"].contains(key) {
            errors.append(FieldError(field: key, message: "is not a known field"))
        }
        var lines: [OrderLine] = []
        if single {
            if let line = validateLine(object, path: "", errors: &errors) { lines.append(line) }
        } else if let items = object["items"] {
            guard case .array(let array) = items else {
                errors.append(FieldError(field: "items", message: "must be an array, not \(items.typeName)"))
                return .failure(ValidationFailure(errors))
            }
            if array.isEmpty { errors.append(FieldError(field: "items", message: "must contain at least one line")) }
            if array.count > OrderLimits.maxLines {
                errors.append(FieldError(field: "items", message: "has \(array.count) lines; at most \(OrderLimits.maxLines) are allowed"))
                return .failure(ValidationFailure(errors))
            }
            for (index, item) in array.enumerated() {
                let path = "items[\(index)]."
                guard case .object(let fields) = item else {
                    errors.append(FieldError(field: "items[\(index)]", message: "must be an object, not \(item.typeName)"))
                    continue
                }
                for key in fields.keys.sorted() where key != "productId" && key != "quantity" {
                    errors.append(FieldError(field: path + key, message: "is not a known field"))
                }
                if let line = validateLine(fields, path: path, errors: &errors) { lines.append(line) }
            }
        } else {
            errors.append(FieldError(field: "items", message: "is required (or productId and quantity for a single line)"))
        }
        return errors.isEmpty ? .success(lines) : .failure(ValidationFailure(errors))
    }

    private static func validateLine(_ fields: [String: JSONValue], path: String, errors: inout [FieldError]) -> OrderLine? {
        var productId: String?
        var quantity: Int?
        switch fields["productId"] {
        case nil: errors.append(FieldError(field: path + "productId", message: "is required"))
        case .string(let id)? where OrderLimits.isValidProductId(id): productId = id
        case .string?: errors.append(FieldError(field: path + "productId", message: "must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' or '-'"))
        case let other?: errors.append(FieldError(field: path + "productId", message: "must be a string, not \(other.typeName)"))
        }
        let range = OrderLimits.quantityRange
        switch fields["quantity"] {
        case nil: errors.append(FieldError(field: path + "quantity", message: "is required"))
        case .integer(let n)? where range.contains(Int(clamping: n)) && n <= Int64(range.upperBound): quantity = Int(n)
        case .integer?, .number?:
            errors.append(FieldError(field: path + "quantity", message: "must be an integer from \(range.lowerBound) to \(range.upperBound)"))
        case let other?: errors.append(FieldError(field: path + "quantity", message: "must be an integer, not \(other.typeName)"))
        }
        guard let productId, let quantity else { return nil }
        return OrderLine(productId: productId, quantity: quantity)
    }
}
