import Messaging
import OrderCore
import OrderWorker
import ServiceSupport
import Testing
import VendorSync

@Suite struct ConsumeSettingsTests {
    @Test func defaultsAreTheDocumentedOnes() throws {
        let settings = try EnvironmentConfiguration([:]).consumeSettings(.worker, maxLoops: 256)
        #expect(settings == ConsumeSettings(prefetch: 2500, batchSize: 1000, loops: 2, linger: .milliseconds(10), retryPolicy: RetryPolicy(maxRetries: 3)))
        // vendor-sync's messages are batches of a whole order-worker window: fewer of them per window.
        let vendorSync = try EnvironmentConfiguration([:]).consumeSettings(.vendorSync, maxLoops: 256)
        #expect(vendorSync == ConsumeSettings(prefetch: 64, batchSize: 32, loops: 2, linger: .milliseconds(10), retryPolicy: RetryPolicy(maxRetries: 3)))
    }

    @Test func eachWorkerReadsItsOwnPrefix() throws {
        let environment = EnvironmentConfiguration([
            "WORKER_PREFETCH": "300", "WORKER_BATCH_SIZE": "100", "WORKER_CONCURRENCY": "3", "WORKER_LINGER_MS": "0",
            "VENDOR_SYNC_LINGER_MS": "25", "VENDOR_SYNC_BATCH_SIZE": "1", "MAX_RETRIES": "5",
        ])
        let worker = try OrderWorkerConfiguration(environment: environment).consume
        #expect(worker == ConsumeSettings(prefetch: 300, batchSize: 100, loops: 3, linger: .zero, retryPolicy: RetryPolicy(maxRetries: 5)))
        let vendorSync = try VendorSyncConfiguration(environment: environment).consume
        #expect(vendorSync == ConsumeSettings(prefetch: 64, batchSize: 1, loops: 2, linger: .milliseconds(25), retryPolicy: RetryPolicy(maxRetries: 5)))
        #expect(try OrderWorkerConfiguration(environment: environment).logMetadata["linger_ms"] == "0")
    }

    @Test(arguments: [
        ("WORKER_LINGER_MS", "-1"), ("WORKER_LINGER_MS", "1001"), ("WORKER_LINGER_MS", "5ms"), ("WORKER_BATCH_SIZE", "0"),
        ("WORKER_BATCH_SIZE", "1001"), ("WORKER_PREFETCH", "65536"), ("WORKER_CONCURRENCY", "0"),
    ])
    func outOfRangeValuesAreRefusedByName(variable: String, value: String) {
        #expect {
            try EnvironmentConfiguration([variable: value]).consumeSettings(.worker, maxLoops: 256)
        } throws: { error in
            (error as? ConfigurationError)?.variable == variable
        }
    }

    /// A loop applies one window while the acks of the one before are pending: the prefetch must hold two.
    @Test func aPrefetchBelowTwiceTheBatchSizeIsRefusedNamingBoth() throws {
        let atTheLimit = try EnvironmentConfiguration(["WORKER_PREFETCH": "2000"]).consumeSettings(.worker, maxLoops: 256)
        #expect(atTheLimit.prefetch == 2000 && atTheLimit.batchSize == 1000)
        let lowered = try EnvironmentConfiguration(["WORKER_PREFETCH": "100", "WORKER_BATCH_SIZE": "50"]).consumeSettings(.worker, maxLoops: 256)
        #expect(lowered.prefetch == 100 && lowered.batchSize == 50)

        let belowDefaultBatch = #expect(throws: ConfigurationError.self) {
            try EnvironmentConfiguration(["WORKER_PREFETCH": "1999"]).consumeSettings(.worker, maxLoops: 256)
        }
        #expect(belowDefaultBatch?.variable == "WORKER_PREFETCH")
        #expect(belowDefaultBatch?.message.contains("at least twice WORKER_BATCH_SIZE (1000), got 1999") == true)
        let vendorSync = #expect(throws: ConfigurationError.self) {
            try EnvironmentConfiguration(["VENDOR_SYNC_PREFETCH": "101", "VENDOR_SYNC_BATCH_SIZE": "51"]).consumeSettings(.vendorSync, maxLoops: 64)
        }
        #expect(vendorSync?.variable == "VENDOR_SYNC_PREFETCH")
        #expect(vendorSync?.message.contains("at least twice VENDOR_SYNC_BATCH_SIZE (51), got 101") == true)
        #expect(throws: ConfigurationError.self) {
            try VendorSyncConfiguration(environment: EnvironmentConfiguration(["VENDOR_SYNC_PREFETCH": "10"]))
        }
    }
}
