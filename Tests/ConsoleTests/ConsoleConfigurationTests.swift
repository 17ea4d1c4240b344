import Console
import ServiceSupport
import Testing

@Suite struct ConsoleConfigurationTests {
    @Test func defaultsToLoopbackAndReadOnly() throws {
        let configuration = try ConsoleConfiguration(environment: EnvironmentConfiguration([:]))
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 8083)
        #expect(configuration.token == nil)
    }
}
