@testable import OrderAPI
import Hummingbird
import Testing

/// Which Content-Type headers `POST /order` takes as JSON (anything else is a 415).
@Suite struct ContentTypeTests {
    @Test(arguments: [
        "application/json", "Application/JSON", "application/json; charset=utf-8", "  application/json\t; charset=UTF-8",
        "application/problem+json", "application/vnd.orders+JSON;v=1",
    ])
    func takesJSON(type: String) {
        #expect(OrdersController<BasicRequestContext>.isJSON(type))
    }

    @Test(arguments: [
        "", "text/plain", "application/jsonx", "xapplication/json", "application/json5", "application/x-www-form-urlencoded",
        "application/ json", "json", "application/xml; note=+json", "application/\u{0F}son",
    ])
    func refusesTheRest(type: String) {
        #expect(!OrdersController<BasicRequestContext>.isJSON(type))
    }
}
