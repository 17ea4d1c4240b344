import HTTPSupport
import Testing

/// Which Content-Type headers the JSON endpoints (`POST /order`, the Stock
/// Service's writes) take as JSON; anything else, or none, is a 415.
@Suite struct ContentTypeTests {
    @Test(arguments: [
        "application/json", "Application/JSON", "application/json; charset=utf-8", "  application/json\t; charset=UTF-8",
        "application/problem+json", "application/vnd.orders+JSON;v=1", "application/json;charset=\"utf-8\"",
        "application/json; v=1; CHARSET=Utf-8", "application/json;", "application/merge-patch+json; charset=utf-8",
    ])
    func takesJSON(type: String) {
        #expect(JSONMediaType.accepts(type))
    }

    @Test(arguments: [
        "", "text/plain", "application/jsonx", "xapplication/json", "application/json5", "application/x-www-form-urlencoded",
        "application/ json", "json", "application/xml; note=+json", "application/\u{0F}son", "+json",
        "application/json; charset=iso-8859-1", "application/json; charset=utf-16", "application/json;charset=utf8",
        "application/vnd.orders+json; v=1; charset=latin1", "application/json; charset=\"us-ascii\"", "application/json; charset=",
    ])
    func refusesTheRest(type: String) {
        #expect(!JSONMediaType.accepts(type))
    }
}
