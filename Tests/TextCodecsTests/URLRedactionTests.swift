import Testing
import TextCodecs

@Suite struct URLRedactionTests {
    @Test(arguments: [
        ("postgres://orders:s3cret@127.0.0.1:5432/ordersdb", "postgres://orders:***@127.0.0.1:5432/ordersdb"),
        ("amqp://guest:guest@127.0.0.1:5672/%2F", "amqp://guest:***@127.0.0.1:5672/%2F"),
        // Passwords a URL parser refuses are hidden all the same.
        ("postgres://u:a@b@host/db", "postgres://u:***@host/db"),
        ("postgres://u:p/w#x@host/db", "postgres://u:***@host/db"),
        ("postgres://u:@host/db", "postgres://u:***@host/db"),
    ])
    func hidesThePassword(url: String, redacted: String) {
        #expect(URLRedaction.redact(url) == redacted)
    }

    @Test(arguments: [
        "postgres://orders@127.0.0.1:5432/ordersdb",
        "postgres://127.0.0.1:5432/ordersdb",
        "postgres://orders@h/db?application_name=a:b@c",
        "not a url",
    ])
    func leavesAURLWithoutAPasswordAlone(url: String) {
        #expect(URLRedaction.redact(url) == url)
    }
}
