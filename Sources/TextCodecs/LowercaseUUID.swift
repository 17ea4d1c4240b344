import Foundation

/// A UUID that Codable writes in `UUIDText`'s lower-case form, for the
/// Codable types the API answers with (`UUID`'s own Encodable writes
/// `uuidString`, upper case). Reads either case.
@propertyWrapper
public struct LowercaseUUID: Sendable, Hashable, Codable {
    public var wrappedValue: UUID

    public init(wrappedValue: UUID) { self.wrappedValue = wrappedValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        guard let id = UUIDText.parse(try container.decode(String.self)) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a UUID")
        }
        wrappedValue = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(UUIDText.string(wrappedValue))
    }
}
