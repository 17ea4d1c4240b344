import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A TCP proxy on loopback in front of a real service (PostgreSQL, a RabbitMQ
/// node) that a test can take down and bring back, so one process under test
/// sees its dependency go away while every other test keeps the shared
/// service. `cut()` resets every proxied connection and stops listening (a
/// new connection is refused, as with a stopped server); `restore()` listens
/// again on the same port.
///
/// Point the process under test at ``url(replacingHostAndPortOf:)``.
public final class FaultProxy: Sendable {
    public let targetHost: String
    public let targetPort: Int
    /// The port the proxy listens on (fixed for its life, so URLs handed out stay valid).
    public let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let state: Mutex<State>

    private struct State {
        var listener: (any Channel)?
        var connections: [ObjectIdentifier: any Channel] = [:]
        var accepted = 0
    }

    /// Listens on 127.0.0.1 at a free port, forwarding to `targetHost:targetPort`.
    public init(targetHost: String = "127.0.0.1", targetPort: Int) async throws {
        self.targetHost = targetHost
        self.targetPort = targetPort
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        state = Mutex(State())
        let probe = try await Self.bind(port: 0, group: group, proxy: nil)
        port = probe.localAddress?.port ?? 0
        try await probe.close()
        try await restore()
    }

    /// `url` (`postgres://…` or `amqp://…`) with its host and port replaced by the proxy's.
    public func url(replacingHostAndPortOf url: String) -> String {
        guard var components = URLComponents(string: url) else { return url }
        components.host = "127.0.0.1"
        components.port = port
        return components.string ?? url
    }

    /// How many client connections the proxy has accepted so far.
    public var acceptedConnections: Int { state.withLock { $0.accepted } }

    public var isUp: Bool { state.withLock { $0.listener != nil } }

    /// Refuses new connections and resets every open one (both sides).
    public func cut() async {
        let (listener, connections) = state.withLock { state in
            defer {
                state.listener = nil
                state.connections = [:]
            }
            return (state.listener, Array(state.connections.values))
        }
        try? await listener?.close()
        for connection in connections {
            // SO_LINGER 0 turns the close into a reset, as when the peer's process dies.
            _ = try? await (connection as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
            try? await connection.close()
        }
    }

    /// Listens again (a no-op when up). Retries briefly: the port can linger after `cut()`.
    public func restore() async throws {
        guard !isUp else { return }
        var lastError: (any Error)?
        for _ in 0..<50 {
            do {
                let listener = try await Self.bind(port: port, group: group, proxy: self)
                state.withLock { $0.listener = listener }
                return
            } catch {
                lastError = error
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        throw lastError ?? ChildProcessError(message: "the fault proxy could not listen on \(port) again")
    }

    public func shutdown() async {
        await cut()
        try? await group.shutdownGracefully()
    }

    private static func bind(port: Int, group: MultiThreadedEventLoopGroup, proxy: FaultProxy?) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.autoRead, value: false)
            .childChannelInitializer { inbound in
                guard let proxy else { return inbound.close() }
                return proxy.accept(inbound)
            }
            .bind(host: "127.0.0.1", port: port).get()
    }

    /// Connects to the target for one accepted client and glues the two together;
    /// a target that does not answer closes the client (as a refused connection would).
    private func accept(_ inbound: any Channel) -> EventLoopFuture<Void> {
        let registered = state.withLock { state -> Bool in
            guard state.listener != nil else { return false }
            state.accepted += 1
            state.connections[ObjectIdentifier(inbound)] = inbound
            return true
        }
        guard registered else { return inbound.close() }
        inbound.closeFuture.whenComplete { [weak self] _ in self?.forget(inbound) }
        let (first, second) = Glue.pair()
        return ClientBootstrap(group: inbound.eventLoop)
            .channelOption(ChannelOptions.autoRead, value: false)
            .channelInitializer { $0.pipeline.addHandler(second) }
            .connect(host: targetHost, port: targetPort)
            .flatMap { outbound in
                self.state.withLock { $0.connections[ObjectIdentifier(outbound)] = outbound }
                outbound.closeFuture.whenComplete { [weak self] _ in self?.forget(outbound) }
                // Reading starts once both ends are glued; from then on the Glue holds reads back.
                return inbound.pipeline.addHandler(first)
                    .flatMap { inbound.setOption(ChannelOptions.autoRead, value: true) }
                    .flatMap { outbound.setOption(ChannelOptions.autoRead, value: true) }
            }
            .flatMapError { _ in inbound.close() }
    }

    private func forget(_ channel: any Channel) {
        _ = state.withLock { $0.connections.removeValue(forKey: ObjectIdentifier(channel)) }
    }
}

/// Copies bytes from one channel to its partner with backpressure (a read
/// is asked for once the partner is writable), and closes both when either ends.
private final class Glue: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: Glue?
    private var context: ChannelHandlerContext?
    private var pendingRead = false

    static func pair() -> (Glue, Glue) {
        let first = Glue()
        let second = Glue()
        first.partner = second
        second.partner = first
        return (first, second)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner?.write(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) { partner?.flush() }

    func channelInactive(context: ChannelHandlerContext) { partner?.closeFromPartner() }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.readFromPartner() }
    }

    func read(context: ChannelHandlerContext) {
        if partner?.isWritable ?? true { context.read() } else { pendingRead = true }
    }

    // The partner lives on the same event loop (the outbound connection is made on the inbound one's loop).
    private func write(_ buffer: ByteBuffer) { context?.write(wrapOutboundOut(buffer), promise: nil) }
    private func flush() { context?.flush() }
    private var isWritable: Bool { context?.channel.isWritable ?? false }
    private func closeFromPartner() { context?.close(promise: nil) }
    private func readFromPartner() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }
}
