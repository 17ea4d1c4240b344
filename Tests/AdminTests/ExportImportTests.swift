import AMQP
import Admin
import Foundation
import OrderCore
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(3))) struct ExportImportTests {
    /// Messages using every property and every header type the broker keeps.
    static func messages(_ system: DLQFixture) -> [(body: [UInt8], properties: AMQPProperties)] {
        let headers: AMQPTable = [
            "x-retry-count": .int64(3), "x-error-reason": "database-unavailable", "x-failed-at": "2026-01-02T03:04:05.678Z",
            "x-original-queue": .string(system.topology.orders.main), "bool": .bool(true), "int8": .int8(-8), "uint8": .uint8(200),
            "int16": .int16(-16_000), "uint16": .uint16(60_000), "int32": .int32(-2_000_000_000), "uint32": .uint32(4_000_000_000),
            "int64": .int64(-9_000_000_000_000), "float": .float(1.25), "double": .double(0.1), "decimal": .decimal(scale: 2, value: 12_345),
            "bytes": .bytes([0, 1, 2, 0xFF]), "timestamp": .timestamp(1_767_225_600), "void": .void,
            "array": .array([.int64(1), "two", .array([.bool(false)])]),
            "table": .table(["nested": .table(["deep": .string("ünïcödé ✓")]), "n": .int32(7)]),
            "x-death": .array([.table([
                "count": .int64(1), "reason": "delivery_limit", "queue": .string(system.topology.orders.main),
                "time": .timestamp(1_767_225_000), "exchange": "", "routing-keys": .array([.string(system.topology.orders.main)]),
            ])]),
        ]
        let full = AMQPProperties(
            contentType: "application/json", contentEncoding: "identity", headers: headers, deliveryMode: .persistent, priority: 3,
            correlationID: "corr-1", replyTo: "reply-here", expiration: "86400000", messageID: "full", timestamp: Date(timeIntervalSince1970: 1_767_225_600),
            type: OrderPlaced.messageType, userID: "guest", appID: "order-api")
        return [
            (Array(#"{"orderId":"6f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5b","note":"\u00e9\n"}"#.utf8), full),
            ((0..<256).map { UInt8($0) }, AMQPProperties(contentType: "application/octet-stream", headers: ["only": "one"], messageID: "binary")),
            ([], AMQPProperties()),
        ]
    }

    static func temporaryFile(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("\(TestEnvironment.uniqueName(name)).jsonl")
    }

    @Test func exportThenImportReproducesBodiesAndHeadersByteForByte() async throws {
        try await DLQFixture.with { system in
            let originals = Self.messages(system)
            try await system.publish(originals, to: system.ordersDLQ)
            let file = Self.temporaryFile("export")
            let copy = Self.temporaryFile("export-copy")
            defer {
                try? FileManager.default.removeItem(at: file)
                try? FileManager.default.removeItem(at: copy)
            }

            // Export and remove: the file has every message, the queue none.
            let exported = try await system.admin.export(queues: [system.ordersDLQ], to: file, remove: true)
            #expect(exported.total == originals.count && exported.removed)
            #expect(try await system.depth(system.ordersDLQ) == 0)
            let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n")
            #expect(lines.count == originals.count)
            #expect(lines[0].contains(#""x-retry-count":{"type":"int64","value":3}"#), "headers keep their AMQP types")
            #expect(lines[0].contains(#""uint8":{"type":"uint8","value":200}"#))

            // Import: back into the queue it came from, exactly.
            let imported = try await system.admin.importMessages(from: file)
            #expect(imported.total == originals.count && imported.failures.isEmpty)
            #expect(imported.imported.map(\.queue) == [system.ordersDLQ])

            // A second export (without --remove) reads the imported messages: the same as the originals.
            let second = try await system.admin.export(queues: [system.ordersDLQ], to: copy)
            #expect(second.total == originals.count && !second.removed)
            #expect(try await system.waitForDepth(system.ordersDLQ, toBe: originals.count) == originals.count, "without --remove the messages stay")
            let first = try JSONLines.read(file).map(\.message)
            let again = try JSONLines.read(copy).map(\.message)
            #expect(first.count == again.count)
            for (before, after) in zip(first, again) {
                #expect(before.properties == after.properties)
                #expect(before.body == after.body)
            }
            for (original, record) in zip(originals, again) {
                #expect(try record.bodyBytes() == original.body, "body byte for byte")
                #expect(try record.amqpProperties() == original.properties, "every property and header, with its type")
                #expect(try record.amqpProperties().headers == original.properties.headers)
            }

            // What the broker delivers now is what was first published.
            let delivered = try await system.drain(system.ordersDLQ)
            #expect(delivered.map(\.body) == originals.map(\.body))
            for (message, original) in zip(delivered, originals) {
                var headers = message.properties.headers
                #expect(headers.removeValue(forKey: "x-delivery-count") == .int64(1), "the quorum queue counts the second export's read")
                #expect(headers == original.properties.headers)
                #expect(message.properties.messageID == original.properties.messageID)
            }
        }
    }

    @Test func exportNeverOverwritesAndImportChecksTheWholeFileFirst() async throws {
        try await DLQFixture.with { system in
            try await system.publish(Array(Self.messages(system).prefix(2)), to: system.ordersDLQ)
            let file = Self.temporaryFile("existing")
            defer { try? FileManager.default.removeItem(at: file) }
            try Data("keep me\n".utf8).write(to: file)

            await #expect(throws: AdminError.self) { try await system.admin.export(queues: [system.ordersDLQ], to: file, remove: true) }
            #expect(try String(contentsOf: file, encoding: .utf8) == "keep me\n", "an existing file is left alone")
            #expect(try await system.waitForDepth(system.ordersDLQ, toBe: 2) == 2)

            // A file whose second line is damaged: nothing is published.
            let written = try await system.admin.export(queues: [system.ordersDLQ], to: file, overwrite: true)
            #expect(written.total == 2)
            var lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map(String.init)
            lines[1] = String(lines[1].dropLast(5))
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: file)
            let target = try await system.extraQueue("restore")
            do {
                _ = try await system.admin.importMessages(from: file, to: target)
                Issue.record("a damaged file was imported")
            } catch let error as AdminError {
                #expect(error.message.contains("line 2") && error.message.contains("nothing was imported"), "\(error.message)")
            }
            #expect(try await system.depth(target) == 0)

            // A target that does not exist: nothing is published.
            #expect(try await system.waitForDepth(system.ordersDLQ, toBe: 2) == 2)
            _ = try await system.admin.export(queues: [system.ordersDLQ], to: file, overwrite: true)
            await #expect(throws: AdminError.self) { try await system.admin.importMessages(from: file, to: system.prefix + "missing") }
            let dry = try await system.admin.importMessages(from: file, to: target, dryRun: true)
            #expect(dry.total == 2)
            #expect(try await system.depth(target) == 0)
            let real = try await system.admin.importMessages(from: file, to: target)
            #expect(real.total == 2)
            #expect(try await system.depth(target) == 2)
            #expect(try await system.waitForDepth(system.ordersDLQ, toBe: 2) == 2)
        }
    }
}
