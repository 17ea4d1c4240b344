import ArgumentParser
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
        return (configuration.logMetadata, try PaymentWorkerApp(configuration: configuration, logger: logger).services)
    }
}
