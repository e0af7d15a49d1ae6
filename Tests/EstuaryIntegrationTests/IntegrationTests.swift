import Testing

// The integration tests start the real binaries as processes on loopback, so they run one at a
// time (`.serialized` covers every suite nested in this one, in the other files). A test that
// fails prints the tail of every process's logs and keeps its directory.
//
// Build the binaries first (`swift build --build-tests`), then:
// `swift test --filter EstuaryIntegrationTests`.
// `ESTUARY_BIN_DIR` points at other binaries; `ESTUARY_TEST_LOGS=always` prints logs of passing
// tests too; `ESTUARY_TEST_KEEP=1` keeps every test's directory.
@Suite("Integration: real binaries on loopback", .serialized, .reportsProcessLogs)
struct IntegrationTests {}
