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

    @Test func aShortTokenIsRefusedNamingTheVariable() throws {
        let error = #expect(throws: ConfigurationError.self) {
            try ConsoleConfiguration(environment: EnvironmentConfiguration(["CONSOLE_TOKEN": "fifteen-bytes.."]))
        }
        #expect(error?.description.contains("CONSOLE_TOKEN") == true)
        let accepted = try ConsoleConfiguration(environment: EnvironmentConfiguration(["CONSOLE_TOKEN": "sixteen-bytes..."]))
        #expect(accepted.token == "sixteen-bytes...")
    }
}
