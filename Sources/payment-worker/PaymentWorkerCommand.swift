import ArgumentParser
import HTTPSupport
import Logging
import PaymentWorker
import ServiceLifecycle
import ServiceSupport

@main
struct PaymentWorkerCommand: DaemonCommand {
    static let configuration = CommandConfiguration.daemon(
        "payment-worker", abstract: "Consumes the payments queue: authorizes, captures, voids and refunds at the payment gateway (Stripe's API).")

    func services(logger: Logger) throws -> (configuration: Logger.Metadata, services: [any Service]) {
        let configuration = try PaymentWorkerConfiguration()
        let app = try PaymentWorkerApp(configuration: configuration, logger: logger)
        return (configuration.logMetadata, app.services + [MetricsServer.make(configuration.metrics, serverName: "payment-worker", logger: logger)])
    }
}
