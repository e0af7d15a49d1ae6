import ArgumentParser
import EstuaryModel

/// `estuaryctl token …`
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Create, list and revoke API tokens (admin tokens only).",
        discussion: """
            Roles: admin (everything); tenant (--subject TENANT: submit, read, cancel and meter that
            tenant's jobs); site-operator (--subject SITE: read-only view of that site, its jobs and
            its usage). The coordinator stores only a hash of each token: its text is shown once,
            when it is created.
            """,
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Create an API token; prints its text once, on stdout.",
            discussion: """
                Keep the token in a file only you can read and point ESTUARY_TOKEN_FILE (or
                --token-file, or token_file in the config file) at it:

                  umask 077; estuaryctl token create --role tenant --subject pengcheng-lab \\
                      --name ci --ttl 720h > ~/.config/estuary/ci.token

                Without --ttl the token does not expire; revoke it with `estuaryctl token revoke`.
                """
        )

        @OptionGroup var global: GlobalOptions
        @Option(help: "admin, tenant or site-operator.") var role: String
        @Option(help: "The tenant id (tenant) or site id (site-operator); not for admin.") var subject: String?
        @Option(help: "What the token is for, shown in `token list` and the audit log.") var name: String
        @Option(help: "Lifetime, e.g. 720h, 30d, 90m (default: no expiry).") var ttl: String?

        func validate() throws {
            guard ["admin", "tenant", "site-operator"].contains(role) else {
                throw ValidationError("--role must be admin, tenant or site-operator, got \"\(role)\"")
            }
        }

        struct Body: Encodable {
            var role: String
            var subject: String?
            var name: String
            var ttl: String?
        }

        func run() async throws {
            let body = Body(role: role, subject: subject, name: name, ttl: ttl)
            let created = try await global.withClient { client in
                try await client.post("/v1/tokens", json: body, as: CreatedTokenView.self).0
            }
            if global.json { return try Output.json(created) }
            Output.line(created.token)
            let expiry = created.expiresAtMs.map { "expires \(TimeText.both(ms: $0))" } ?? "does not expire"
            let subject = created.subject.map { " for \($0)" } ?? ""
            Output.error("created \(created.role) token \(created.id)\(subject) (\(created.name)); it \(expiry).")
            Output.error("this is the only time its text is shown: keep it in a file only you can read (chmod 600).")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list", abstract: "List API tokens (never their text), oldest first.")

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let list = try await global.withClient { client in try await client.get("/v1/tokens", as: APITokenListView.self) }
            if global.json { return try Output.json(list) }
            guard !list.tokens.isEmpty else { return Output.error("no tokens") }
            let now = TimeText.nowMs()
            var table = TextTable("ID", "NAME", "ROLE", "SUBJECT", "STATE", "CREATED", "EXPIRES")
            for token in list.tokens {
                table.add(
                    token.id, token.name, token.role, token.subject ?? "-", token.state,
                    TimeText.age(ms: token.createdAtMs, now: now), token.expiresAtMs.map { TimeText.utc(ms: $0) } ?? "never")
            }
            Output.line(table.rendered)
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke",
            abstract: "Revoke an API token at once.",
            discussion: "The last usable admin token cannot be revoked: create another admin token first.")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "Token id (the second part of estk_<id>_…, or the ID column of `token list`).") var id: String

        func validate() throws {
            guard !id.isEmpty, id.utf8.count <= 64, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
                throw ValidationError("\"\(id)\" is not a token id (letters and digits, as `token list` shows them)")
            }
        }

        func run() async throws {
            let token = try await global.withClient { client in
                try await client.post("/v1/tokens/\(id)/revoke", as: APITokenView.self).0
            }
            if global.json { return try Output.json(token) }
            Output.line("token \(token.id) (\(token.name)) revoked")
        }
    }
}
