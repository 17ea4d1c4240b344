import OrderCore
import OrderStore
import OrderWorker
import ServiceSupport
import Testing

@Suite struct OrderWorkerConfigurationTests {
    @Test func lifecycleDefaultsAreTheDocumentedOnes() throws {
        let configuration = try OrderWorkerConfiguration(environment: EnvironmentConfiguration(["QUEUE_PREFIX": "p."]))
        #expect(configuration.applierSettings == OrderApplier.Settings(
            eventsExchange: "p.order_events", stockLevels: StockLevelPolicy(threshold: 5), reservationTTLSeconds: 900))
        #expect(configuration.outboxPollInterval == .milliseconds(200) && configuration.outboxBatchSize == 500)
        #expect(configuration.topology.outboxScope.exchange == "p.order_events")
        #expect(configuration.topology.outboxScope.queues.contains("p.vendor_sync"))
        #expect(configuration.logMetadata["reservation_ttl_seconds"] == "900")
    }

    @Test func lifecycleSettingsAreRead() throws {
        let configuration = try OrderWorkerConfiguration(environment: EnvironmentConfiguration([
            "RESERVATION_TTL_SECONDS": "60", "LOW_STOCK_THRESHOLD": "10", "OUTBOX_POLL_MILLISECONDS": "50", "OUTBOX_BATCH_SIZE": "20",
        ]))
        #expect(configuration.applierSettings.reservationTTLSeconds == 60)
        #expect(configuration.applierSettings.stockLevels == StockLevelPolicy(threshold: 10))
        #expect(configuration.outboxPollInterval == .milliseconds(50) && configuration.outboxBatchSize == 20)
    }

    @Test(arguments: [
        ("RESERVATION_TTL_SECONDS", "0"), ("RESERVATION_TTL_SECONDS", "15m"), ("LOW_STOCK_THRESHOLD", "-1"),
        ("OUTBOX_POLL_MILLISECONDS", "0"), ("OUTBOX_BATCH_SIZE", "0"), ("OUTBOX_BATCH_SIZE", "10001"),
    ])
    func outOfRangeValuesAreRefusedByName(variable: String, value: String) {
        #expect {
            try OrderWorkerConfiguration(environment: EnvironmentConfiguration([variable: value]))
        } throws: { error in
            (error as? ConfigurationError)?.variable == variable
        }
    }
}
