import Foundation

/// Validates the body of `POST /order`: either one line
/// (`{"productId":"p1","quantity":2}`) or several (`{"items":[…]}`).
/// Every invalid field is reported, not just the first.
public enum OrderRequest {
    public static func parse(_ body: some Collection<UInt8>) -> Result<[OrderLine], ValidationFailure> {
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
        return validate(value)
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
