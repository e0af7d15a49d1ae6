import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where estuaryctl finds the coordinator and what it proves itself with: the API URL, the CA
/// an https API must be signed by, and the API token.
///
/// Each comes from the first of: a flag (`--api` or its old name `--coordinator`, `--ca`,
/// `--token-file`), the environment (`ESTUARY_API` or the old `ESTUARY_COORDINATOR`,
/// `ESTUARY_CA`, `ESTUARY_TOKEN` holding the token itself, `ESTUARY_TOKEN_FILE`), the config
/// file (`$ESTUARY_CONFIG`, else `~/.config/estuary/estuaryctl.toml`). No flag takes the token
/// itself: a command line is visible to every user of the machine.
struct ClientSettings: Sendable {
    static let defaultAPI = "http://127.0.0.1:7400"

    var apiURL: String
    /// PEM file of the CA to trust for an https API; nil trusts the system's roots.
    var caFile: String?
    /// The API token's text, if any was configured.
    var token: String?
    /// Where the token came from, for error messages (never the token itself).
    var tokenSource: String?

    /// The values given on the command line.
    struct Flags: Sendable {
        var api: String?
        var coordinator: String?
        var ca: String?
        var tokenFile: String?
    }

    /// Resolves every setting, reading the config file only when some setting needs it.
    static func resolve(flags: Flags, environment: [String: String]) throws -> ClientSettings {
        func env(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        let file = try ConfigFile.load(environment: environment)

        let api = flags.api ?? flags.coordinator ?? env("ESTUARY_API") ?? env("ESTUARY_COORDINATOR") ?? file?.api ?? defaultAPI
        guard api.hasPrefix("http://") || api.hasPrefix("https://") else {
            throw CLIError.configuration("the API address must be an http:// or https:// URL, got \"\(api)\"")
        }
        let caFile = flags.ca ?? env("ESTUARY_CA") ?? file?.ca

        var token: String?
        var source: String?
        if let path = flags.tokenFile {
            (token, source) = (try readTokenFile(path), "--token-file \(path)")
        } else if let text = env("ESTUARY_TOKEN") {
            (token, source) = (text.trimmingCharacters(in: .whitespacesAndNewlines), "ESTUARY_TOKEN")
        } else if let path = env("ESTUARY_TOKEN_FILE") {
            (token, source) = (try readTokenFile(path), "ESTUARY_TOKEN_FILE=\(path)")
        } else if let path = file?.tokenFile {
            (token, source) = (try readTokenFile(path), "token_file \(path) in \(file?.path ?? "the config file")")
        }
        return ClientSettings(apiURL: api, caFile: caFile, token: token, tokenSource: source)
    }

    /// The token in `path`, trimmed. Warns (once, on stderr) when others may read the file.
    static func readTokenFile(_ path: String) throws -> String {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw CLIError.configuration("cannot read the token file \(path): \(String(cString: strerror(errno)))")
        }
        if UInt32(status.st_mode) & 0o077 != 0 {
            Output.error("warning: the token file \(path) can be read by other users; run `chmod 600 \(path)`")
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw CLIError.configuration("cannot read the token file \(path)")
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw CLIError.configuration("the token file \(path) is empty") }
        return token
    }

    /// Whether a token would cross the network in the clear (http:// to a host that is not this machine).
    var sendsTokenInTheClear: Bool {
        guard token != nil, apiURL.hasPrefix("http://") else { return false }
        let host = URL(string: apiURL)?.host ?? ""
        return !["127.0.0.1", "localhost", "::1", "[::1]"].contains(host)
    }
}

/// `estuaryctl.toml`: string keys `api`, `ca` and `token_file`; relative paths are relative
/// to the file's directory, and `~/` is the home directory.
struct ConfigFile: Sendable, Hashable {
    var path: String
    var api: String?
    var ca: String?
    var tokenFile: String?

    static let keys = ["api", "ca", "token_file"]

    /// `$ESTUARY_CONFIG` (which must exist), else the default file if it exists, else nil.
    static func load(environment: [String: String]) throws -> ConfigFile? {
        if let explicit = environment["ESTUARY_CONFIG"], !explicit.isEmpty {
            guard FileManager.default.fileExists(atPath: explicit) else {
                throw CLIError.configuration("ESTUARY_CONFIG names \(explicit), which does not exist")
            }
            return try read(explicit, environment: environment)
        }
        let base =
            environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((environment["HOME"] ?? NSHomeDirectory()) as NSString).appendingPathComponent(".config")
        let path = ((base as NSString).appendingPathComponent("estuary") as NSString).appendingPathComponent("estuaryctl.toml")
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try read(path, environment: environment)
    }

    static func read(_ path: String, environment: [String: String]) throws -> ConfigFile {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw CLIError.configuration("cannot read the config file \(path)")
        }
        let values: [String: String]
        do {
            values = try parse(text)
        } catch let problems as ConfigProblems {
            throw CLIError.configuration(
                (["\(path) is not a valid estuaryctl config:"] + problems.lines.map { "  \($0)" }).joined(separator: "\n"))
        }
        let directory = (path as NSString).deletingLastPathComponent
        let home = environment["HOME"] ?? NSHomeDirectory()
        func resolved(_ value: String?) -> String? {
            guard let value else { return nil }
            if value.hasPrefix("~/") { return (home as NSString).appendingPathComponent(String(value.dropFirst(2))) }
            if value.hasPrefix("/") { return value }
            return (directory as NSString).appendingPathComponent(value)
        }
        return ConfigFile(path: path, api: values["api"], ca: resolved(values["ca"]), tokenFile: resolved(values["token_file"]))
    }

    struct ConfigProblems: Error {
        var lines: [String]
    }

    /// The TOML subset the file uses: comments, blank lines and `key = "string"` (basic or
    /// literal strings). Every problem is reported with its line.
    static func parse(_ text: String) throws -> [String: String] {
        var values: [String: String] = [:]
        var problems: [String] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let line = rawLine.trimmingCharacters(in: .whitespaces.union(CharacterSet(charactersIn: "\r")))
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                problems.append("line \(number): expected key = \"value\"")
                continue
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            let rest = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard keys.contains(key) else {
                problems.append("line \(number): unknown key \"\(key)\"; the keys are \(keys.joined(separator: ", "))")
                continue
            }
            guard values[key] == nil else {
                problems.append("line \(number): \(key) is set twice")
                continue
            }
            guard let value = string(rest) else {
                problems.append("line \(number): \(key) must be a quoted string, e.g. \(key) = \"…\"")
                continue
            }
            values[key] = value
        }
        if !problems.isEmpty { throw ConfigProblems(lines: problems) }
        return values
    }

    /// A TOML basic (`"…"`, with `\"`, `\\`, `\t`, `\n` escapes) or literal (`'…'`) string,
    /// optionally followed by a comment.
    static func string(_ text: String) -> String? {
        guard let quote = text.first, quote == "\"" || quote == "'" else { return nil }
        var value = ""
        var escaped = false
        var index = text.index(after: text.startIndex)
        while index < text.endIndex {
            let character = text[index]
            if quote == "\"" && escaped {
                switch character {
                case "\"": value.append("\"")
                case "\\": value.append("\\")
                case "t": value.append("\t")
                case "n": value.append("\n")
                default: return nil
                }
                escaped = false
            } else if quote == "\"" && character == "\\" {
                escaped = true
            } else if character == quote {
                let rest = text[text.index(after: index)...].trimmingCharacters(in: .whitespaces)
                return rest.isEmpty || rest.hasPrefix("#") ? value : nil
            } else {
                value.append(character)
            }
            index = text.index(after: index)
        }
        return nil
    }
}
