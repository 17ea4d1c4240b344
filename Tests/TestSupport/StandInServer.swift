import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A remote party with no emulator (a warehouse, Shopify's Admin API) played
/// by a real HTTP server on loopback inside the test: it records every request
/// and answers through `respond`, or fails on command (an HTTP status for
/// everything, a delay, or down: the connection refused or reset).
public final class StandInServer: Sendable {
    public struct Request: Sendable {
        public let method: String
        public let path: String
        /// The raw query string, without `?` (empty when none).
        public let query: String
        public let headers: [String: String]  // lower-cased names
        public let body: [UInt8]
        public let receivedAt: ContinuousClock.Instant

        public var text: String { String(decoding: body, as: UTF8.self) }
        /// The body as a JSON object, when it is one.
        public var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] }
        /// One query parameter, percent-decoded.
        public func parameter(_ name: String) -> String? {
            URLComponents(string: "http://x/?" + query)?.queryItems?.first { $0.name == name }?.value
        }
    }

    public struct Response: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: [UInt8]

        public init(status: Int = 200, headers: [String: String] = [:], body: [UInt8] = []) {
            self.status = status
            self.headers = headers
            self.body = body
        }

        public static func json(_ object: Any, status: Int = 200) -> Response {
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            return Response(status: status, headers: ["content-type": "application/json"], body: Array(data))
        }
    }

    /// How the stand-in behaves, whatever `respond` would say.
    public enum Mode: Sendable, Equatable {
        case normal
        /// Every request answered with this status (a 503 outage, a 429).
        case failing(status: Int)
        /// Every request answered after this delay (a slow remote; a client timeout).
        case slow(Duration)
    }

    private struct State {
        var requests: [Request] = []
        var mode: Mode = .normal
    }

    private let state = Mutex(State())
    private let respond: @Sendable (Request) async -> Response
    private let running: Mutex<(task: Task<Void, any Error>, port: Int)?> = Mutex(nil)

    /// `respond` answers a request in `.normal` mode (it is called once per
    /// request, after the request is recorded).
    public init(respond: @escaping @Sendable (Request) async -> Response = { _ in Response() }) {
        self.respond = respond
    }

    /// Every request received so far, in arrival order (failed ones included).
    public var requests: [Request] { state.withLock { $0.requests } }

    public var mode: Mode {
        get { state.withLock { $0.mode } }
        set { state.withLock { $0.mode = newValue } }
    }

    /// `http://127.0.0.1:<port>` once started.
    public var url: String {
        guard let port = running.withLock({ $0?.port }) else { preconditionFailure("StandInServer.start() first") }
        return "http://127.0.0.1:\(port)"
    }

    /// Starts listening, on a free port the first time and on the same port after
    /// a `stop()` (a remote that went down and came back at its address).
    public func start() async throws {
        let previous = running.withLock { $0?.port }
        let portStream = AsyncStream<Int>.makeStream()
        let router = Router()
        router.add(middleware: Recorder(server: self))
        var logger = Logger(label: "stand-in")
        logger.logLevel = .critical
        let application = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: previous ?? 0), serverName: "stand-in"),
            onServerRunning: { channel in
                portStream.continuation.yield(channel.localAddress?.port ?? 0)
                portStream.continuation.finish()
            },
            logger: logger)
        let task = Task { try await application.runService(gracefulShutdownSignals: []) }
        var iterator = portStream.stream.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            task.cancel()
            throw StandInError(message: "the stand-in server did not start")
        }
        running.withLock { $0 = (task, port) }
    }

    /// Stops listening: connections are refused until `start()` again.
    public func stop() async {
        guard let task = running.withLock({ $0?.task }) else { return }
        task.cancel()
        _ = await task.result
        // The port stays remembered for a restart.
    }

    /// Records a request and answers it: the mode first, then `respond`.
    fileprivate func handle(_ request: Request) async -> Response {
        let mode = state.withLock { state -> Mode in
            state.requests.append(request)
            return state.mode
        }
        switch mode {
        case .normal: return await respond(request)
        case .failing(let status): return Response(status: status, body: Array("stand-in failing with \(status)".utf8))
        case .slow(let delay):
            try? await Task.sleep(for: delay)
            return await respond(request)
        }
    }

    deinit {
        running.withLock { $0?.task.cancel() }
    }
}

public struct StandInError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Takes every request before routing: the stand-in has no routes of its own.
private struct Recorder<Context: RequestContext>: RouterMiddleware {
    let server: StandInServer

    func handle(_ input: Hummingbird.Request, context: Context, next: (Hummingbird.Request, Context) async throws -> Hummingbird.Response) async throws -> Hummingbird.Response {
        let body = try await input.body.collect(upTo: 16 * 1024 * 1024)
        var headers: [String: String] = [:]
        for field in input.headers { headers[field.name.canonicalName] = field.value }
        let recorded = StandInServer.Request(
            method: input.method.rawValue, path: input.uri.path, query: input.uri.query ?? "", headers: headers,
            body: Array(body.readableBytesView), receivedAt: .now)
        let answer = await server.handle(recorded)
        var fields = HTTPFields()
        for (name, value) in answer.headers {
            if let name = HTTPField.Name(name) { fields[name] = value }
        }
        return Hummingbird.Response(
            status: HTTPResponse.Status(code: answer.status), headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body)))
    }
}

extension StandInServer {
    /// A port nothing listens on now: one the system gave a stand-in, which then stopped.
    public static func freePort() async throws -> Int {
        let probe = StandInServer()
        try await probe.start()
        let port = URLComponents(string: probe.url)?.port ?? 0
        await probe.stop()
        return port
    }
}
