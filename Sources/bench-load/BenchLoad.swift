import ArgumentParser
import BenchReport
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceSupport

/// An open-loop HTTP load generator for `POST /order` (scripts/bench, part d).
///
/// Request i is due at t0 + i/rate whatever happened to the earlier ones
/// (open loop: a slow server does not slow the arrivals down). Requests go
/// out on a fixed pool of keep-alive HTTP/1.1 connections opened before t0;
/// a due request waits in the generator's queue while every connection is
/// busy, and its latency is measured from its intended send time, so that
/// wait counts (no coordinated omission). The latency percentiles are those
/// of acceptance: a request answered with another status than 202, or still
/// unanswered when the grace period after the last due time ends, ranks after
/// every accepted one ("inf").
///
/// Prints `key=value` lines; `--ids-out` writes the accepted order ids, one per line.
@main
struct BenchLoad: ProjectCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-load", abstract: "Open-loop load on order-api's POST /order (scripts/bench; not a service).",
        version: ProjectVersion.text)

    @Option(help: "order-api host.") var host = "127.0.0.1"
    @Option(help: "order-api port.") var port = 8080
    @Option(help: "Requests per second (constant).") var rate: Int
    @Option(help: "Seconds of load.") var seconds: Int = 20
    @Option(help: "Keep-alive connections.") var connections: Int = 128
    @Option(name: .customLong("product-prefix"), help: "Product ids are this prefix and a number of 4 digits at least.")
    var productPrefix = "bench-u-"
    @Option(help: "Products to spread the orders over, uniformly at random.") var products: Int = 1000
    @Option(help: "Seconds to wait for answers after the last request was due.") var grace: Int = 10
    @Option(name: .customLong("ids-out"), help: "File for the accepted order ids.") var idsOut: String?
    @Option(name: .customLong("payment-method"), help: "Each order pays with this Stripe PaymentMethod id (pm_card_visa); none when absent.")
    var paymentMethod: String?

    func validate() throws {
        guard rate > 0, seconds > 0, connections > 0, products > 0, grace >= 0 else {
            throw ValidationError("rate, seconds, connections and products must be positive")
        }
    }

    func run() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let generator = Generator(
            loop: loop, host: host, port: port, rate: rate, total: rate * seconds, grace: .seconds(Int64(grace)),
            productPrefix: productPrefix, products: products, paymentMethod: paymentMethod)

        let channels = try (0..<connections).map { _ in try generator.connect().wait() }
        let report = try loop.flatSubmit { generator.start(connections: channels) }.wait()
        for channel in channels { _ = channel.close(mode: .all) }

        report.print(rate: rate, seconds: seconds, connections: connections)
        // The generator shares the machine with what it measures: say how much of it it took.
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        print("generator_cpu_s=\(String(format: "%.2f", cpu))")
        if let idsOut {
            try (report.acceptedIDs.joined(separator: "\n") + (report.acceptedIDs.isEmpty ? "" : "\n"))
                .write(toFile: idsOut, atomically: true, encoding: .utf8)
        }
    }
}

struct Report: Sendable {
    var total = 0
    var accepted = 0
    var statuses: [Int: Int] = [:]
    var connectionErrors = 0
    var unanswered = 0
    /// Nanoseconds from intended send time to the end of the response, accepted (202) requests only.
    var latencies: [UInt64] = []
    /// Nanoseconds from intended send time to the write: the generator's own lateness plus waiting for a free connection.
    var sendLags: [UInt64] = []
    var acceptedIDs: [String] = []
    /// From t0 to the last response.
    var elapsed: TimeAmount = .zero

    func print(rate: Int, seconds: Int, connections: Int) {
        let sorted = latencies.sorted()
        let lags = sendLags.sorted()
        // Requests not accepted (another status, or no answer) rank after every accepted one: "inf".
        func percentile(_ p: Double, _ values: [UInt64], outOf count: Int) -> String {
            switch NearestRank.quantile(p, of: values, outOf: count) {
            case .value(let nanoseconds): String(format: "%.2f", Double(nanoseconds) / 1e6)
            case .beyond: "inf"
            case .none: "nan"
            }
        }
        let elapsedSeconds = Double(elapsed.nanoseconds) / 1e9
        Swift.print("offered_rate=\(rate) seconds=\(seconds) connections=\(connections) requests=\(total)")
        Swift.print("accepted=\(accepted) elapsed_s=\(String(format: "%.2f", elapsedSeconds)) accepted_per_s=\(elapsedSeconds > 0 ? Int((Double(accepted) / elapsedSeconds).rounded()) : 0)")
        let other = statuses.filter { $0.key != 202 }.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",")
        Swift.print("non_202=\(other.isEmpty ? "none" : other) connection_errors=\(connectionErrors) unanswered=\(unanswered)")
        Swift.print(
            "latency_ms_p50=\(percentile(0.5, sorted, outOf: total)) latency_ms_p99=\(percentile(0.99, sorted, outOf: total)) "
                + "latency_ms_p999=\(percentile(0.999, sorted, outOf: total)) latency_ms_max=\(percentile(1.0, sorted, outOf: total))")
        Swift.print("send_lag_ms_p50=\(percentile(0.5, lags, outOf: lags.count)) send_lag_ms_p99=\(percentile(0.99, lags, outOf: lags.count))")
    }
}

/// Everything here runs on one event loop (`loop`), which is the only thread that touches the state.
final class Generator: @unchecked Sendable {
    let loop: EventLoop
    let host: String
    let port: Int
    let total: Int
    let interval: Double
    let grace: TimeAmount
    let productPrefix: String
    let products: Int
    let paymentMethod: String?

    private var t0 = NIODeadline.now()
    private var due = 0  // requests 0..<due are due
    private var waiting: [Int] = []  // due, not yet sent (FIFO from waitingHead)
    private var waitingHead = 0
    private var idle: [Channel] = []
    private var answered = 0
    private var lastResponse = NIODeadline.now()
    private var report = Report()
    private var finished: EventLoopPromise<Report>?

    init(
        loop: EventLoop, host: String, port: Int, rate: Int, total: Int, grace: TimeAmount, productPrefix: String, products: Int,
        paymentMethod: String?
    ) {
        self.loop = loop
        self.host = host
        self.port = port
        self.total = total
        self.interval = 1e9 / Double(rate)
        self.grace = grace
        self.productPrefix = productPrefix
        self.products = products
        self.paymentMethod = paymentMethod
        report.total = total
        report.latencies.reserveCapacity(total)
        report.sendLags.reserveCapacity(total)
        report.acceptedIDs.reserveCapacity(total)
    }

    func connect() -> EventLoopFuture<Channel> {
        ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseHandler(generator: self))
                }
            }
            .connect(host: host, port: port)
    }

    func start(connections: [Channel]) -> EventLoopFuture<Report> {
        let promise = loop.makePromise(of: Report.self)
        finished = promise
        idle = connections
        t0 = .now() + .milliseconds(100)
        lastResponse = t0
        loop.scheduleTask(deadline: t0) { self.tick() }
        loop.scheduleTask(deadline: intended(total - 1) + grace) { self.finish() }
        return promise.futureResult
    }

    private func intended(_ index: Int) -> NIODeadline {
        t0 + .nanoseconds(Int64(Double(index) * interval))
    }

    /// Makes every request whose time has come due, sends what the idle connections can take, and sleeps until the next one.
    private func tick() {
        guard finished != nil else { return }
        let elapsed = Double((NIODeadline.now() - t0).nanoseconds)
        let nowDue = min(total, Int(elapsed / interval) + 1)
        while due < nowDue {
            waiting.append(due)
            due += 1
        }
        dispatch()
        if due < total { loop.scheduleTask(deadline: intended(due)) { self.tick() } }
    }

    private func dispatch() {
        while waitingHead < waiting.count, let channel = idle.popLast() {
            let index = waiting[waitingHead]
            waitingHead += 1
            send(index, on: channel)
        }
        if waitingHead > 4096 && waitingHead * 2 > waiting.count {
            waiting.removeFirst(waitingHead)
            waitingHead = 0
        }
    }

    private func send(_ index: Int, on channel: Channel) {
        let intendedAt = intended(index)
        let handler = try! channel.pipeline.syncOperations.handler(type: ResponseHandler.self)
        handler.current = (index, intendedAt)
        let now = NIODeadline.now()
        report.sendLags.append(UInt64(max(0, (now - intendedAt).nanoseconds)))

        let product = BenchProduct.id(prefix: productPrefix, number: Int.random(in: 1...products))
        var body = channel.allocator.buffer(capacity: 128)
        if let paymentMethod {
            body.writeString(#"{"items":[{"productId":"\#(product)","quantity":1}],"payment":{"method":"\#(paymentMethod)"}}"#)
        } else {
            body.writeString(#"{"productId":"\#(product)","quantity":1}"#)
        }
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/order")
        head.headers.add(name: "Host", value: "\(host):\(port)")
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: String(body.readableBytes))
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
    }

    /// A response ended: record it and give the connection the next waiting request.
    func answered(_ index: Int, intendedAt: NIODeadline, status: Int, body: ByteBuffer?, on channel: Channel) {
        guard finished != nil else { return }
        let now = NIODeadline.now()
        report.statuses[status, default: 0] += 1
        if status == 202 {
            report.latencies.append(UInt64(max(0, (now - intendedAt).nanoseconds)))
            report.accepted += 1
            if let body, let id = Self.orderID(in: body) { report.acceptedIDs.append(id) }
        }
        answered += 1
        lastResponse = now
        idle.append(channel)
        dispatch()
        if answered == total { finish() }
    }

    /// A connection broke: its request (if any) failed; open a replacement.
    func connectionLost(_ channel: Channel, inFlight: Int?) {
        guard finished != nil else { return }
        idle.removeAll { $0 === channel }
        if inFlight != nil {
            report.connectionErrors += 1
            answered += 1
            if answered == total { finish(); return }
        }
        connect().whenComplete { result in
            guard self.finished != nil, case .success(let replacement) = result else { return }
            self.idle.append(replacement)
            self.dispatch()
        }
    }

    private func finish() {
        guard let promise = finished else { return }
        finished = nil
        report.unanswered = total - answered
        report.elapsed = lastResponse - t0
        promise.succeed(report)
    }

    /// The `orderId` of a 202 body: `{"orderId":"…","status":"QUEUED"}`.
    static func orderID(in body: ByteBuffer) -> String? {
        let text = String(buffer: body)
        guard let start = text.range(of: #""orderId":""#) else { return nil }
        let rest = text[start.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        return String(rest[..<end])
    }
}

final class ResponseHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    let generator: Generator
    var current: (index: Int, intendedAt: NIODeadline)?
    private var status = 0
    private var body: ByteBuffer?

    init(generator: Generator) { self.generator = generator }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
            body = nil
        case .body(var part):
            if status == 202 {
                if body == nil { body = part } else { body!.writeBuffer(&part) }
            }
        case .end:
            guard let (index, intendedAt) = current else { return }
            current = nil
            generator.answered(index, intendedAt: intendedAt, status: status, body: body, on: context.channel)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let inFlight = current?.index
        current = nil
        generator.connectionLost(context.channel, inFlight: inFlight)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
