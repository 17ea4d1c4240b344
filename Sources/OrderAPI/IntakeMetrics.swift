import HTTPSupport
import Hummingbird
import Metrics

/// What order intake counts: `orders_accepted_total{channel}` and
/// `orders_rejected_total{reason}`, the reason being the problem's `code`
/// (a fixed slug: `invalid-request`, `body-too-large`, `unauthorized`, …),
/// never anything of the request itself. The accepted counter is made once;
/// a rejection's is looked up when it happens, off the accepting path.
struct IntakeMetrics: Sendable {
    let accepted: Counter

    init(channel: String) {
        accepted = Counter(label: "orders_accepted_total", dimensions: [("channel", channel)])
    }

    func rejected(_ problem: Problem) {
        Counter(label: "orders_rejected_total", dimensions: [("reason", problem.code)]).increment()
    }

    /// `handler`, counting its 202s as accepted and its errors as rejected by their problem code.
    func counting<Context: RequestContext>(
        _ handler: @escaping @Sendable (Request, Context) async throws -> Response
    ) -> @Sendable (Request, Context) async throws -> Response {
        { request, context in
            do {
                let response = try await handler(request, context)
                if response.status == .accepted { accepted.increment() }
                return response
            } catch {
                rejected(Problem(error, request: request))
                throw error
            }
        }
    }
}
