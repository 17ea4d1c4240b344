import OrderAPI
import ServiceSupport

await Daemon.run("order-api") { logger in
    let configuration = try OrderAPIConfiguration()
    return (configuration.logMetadata, [try buildOrderAPI(configuration: configuration, logger: logger)])
}
