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

@Suite struct URLListRedactionTests {
    @Test(arguments: [
        // AMQP_URLS: each URL of the list.
        ("amqp://u:s1@n1:5681/%2F,amqp://u:s2@n2:5682/%2F", "amqp://u:***@n1:5681/%2F,amqp://u:***@n2:5682/%2F"),
        ("amqp://u:s1@n1, amqp://u:s2@n2", "amqp://u:***@n1, amqp://u:***@n2"),
        // A PostgreSQL host list is one URL.
        ("postgres://o:s1@h1:5441,h2:5442/db?target_session_attrs=read-write", "postgres://o:***@h1:5441,h2:5442/db?target_session_attrs=read-write"),
        // A password holding ",amqp://": more is hidden than the password, never less.
        ("amqp://u:a,amqp://b@n1", "amqp://u:***@n1"),
        ("amqp://u:s1@n1,amqp://u:a,amqp://b@n2", "amqp://u:***@n2"),
    ])
    func hidesEveryPassword(url: String, redacted: String) {
        #expect(URLRedaction.redact(url) == redacted)
    }
}
