import OrderWorker
import ServiceSupport

await Daemon.run("order-worker") { logger in
    let configuration = try OrderWorkerConfiguration()
    return (configuration.logMetadata, try OrderWorkerApp(configuration: configuration, logger: logger).services)
}
