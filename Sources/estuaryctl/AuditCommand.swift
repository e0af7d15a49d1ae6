import ArgumentParser
import EstuaryModel

/// `estuaryctl audit`
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Show the audit log: every mutating call and every refusal (admin tokens only).",
        discussion: """
            Entries are printed oldest first. Without --since-seq, the newest --limit entries
            (default 100); with it, the entries after that sequence number, so that
            `--since-seq N` with the last SEQ seen continues where the previous page ended.

            Examples:
              estuaryctl audit
              estuaryctl audit --action auth.denied --limit 20
              estuaryctl audit --actor 7x2kq4mzab3c --since-seq 0 --json
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: "Only entries after this sequence number.") var sinceSeq: Int64?
    @Option(help: "Only this actor's entries (a token id, join:<id>, anonymous, coordinator, site:<id>).") var actor: String?
    @Option(help: "Only this action (job.submit, job.cancel, token.create, site.enroll, auth.denied, …).") var action: String?
    @Option(help: "At most this many entries (1…1000, default 100).") var limit: Int?

    func validate() throws {
        if let limit, !(1...1000).contains(limit) { throw ValidationError("--limit must be between 1 and 1000") }
        if let sinceSeq, sinceSeq < 0 { throw ValidationError("--since-seq must not be negative") }
    }

    func run() async throws {
        var query: [(String, String)] = []
        if let sinceSeq { query.append(("since_seq", String(sinceSeq))) }
        if let actor { query.append(("actor", actor)) }
        if let action { query.append(("action", action)) }
        if let limit { query.append(("limit", String(limit))) }
        let list = try await global.withClient { client in try await client.get("/v1/audit", query: query, as: AuditListView.self) }
        if global.json { return try Output.json(list) }
        guard !list.entries.isEmpty else { return Output.error("no audit entries") }
        var table = TextTable("SEQ", "TIME", "ACTOR", "ROLE", "ACTION", "TARGET", "SOURCE", "OUTCOME", "DETAIL", rightAligned: [0])
        for entry in list.entries {
            table.add(
                String(entry.seq), TimeText.utc(ms: entry.atMs), entry.actor, entry.role, entry.action, entry.target, entry.source,
                entry.outcome, entry.detail)
        }
        Output.line(table.rendered)
        if list.more { Output.error("more entries: add --since-seq \(list.nextSinceSeq)") }
    }
}
