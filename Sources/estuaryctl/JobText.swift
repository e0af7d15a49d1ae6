import EstuaryModel

/// How jobs read in a terminal.
enum JobText {
    static func table(_ jobs: [JobView], now: Int64 = TimeText.nowMs()) -> String {
        var table = TextTable("ID", "NAME", "TENANT", "STATE", "SITE", "RESOURCES", "AGE")
        for job in jobs {
            table.add(
                job.id.rawValue, job.spec.name, job.spec.tenant.rawValue, job.state.rawValue,
                job.siteID?.rawValue ?? "-", job.spec.resources.summary, TimeText.age(ms: job.createdAtMs, now: now)
            )
        }
        return table.rendered
    }

    /// ` (exit 0)`, ` (signal 9)` or nothing.
    static func outcome(_ job: JobView) -> String {
        if let signal = job.signal { return " (signal \(signal))" }
        if let code = job.exitCode { return " (exit \(code))" }
        return ""
    }

    static func detail(_ job: JobView, now: Int64 = TimeText.nowMs()) -> String {
        var state = job.state.rawValue + outcome(job)
        if job.attempt > 1 { state += ", attempt \(job.attempt)" }
        if job.cancelRequested && !job.state.isTerminal { state += ", cancel requested" }
        var fields: [(String, String)] = [
            ("job", job.id.rawValue),
            ("name", job.spec.name),
            ("tenant", job.spec.tenant.rawValue),
            ("state", state),
            ("site", job.siteID?.rawValue ?? "-"),
            ("resources", job.spec.resources.summary + (job.spec.resources.memoryMiB.map { ", \($0) MiB memory per task" } ?? "")),
            ("walltime", TimeText.duration(seconds: job.spec.walltimeSeconds)),
            ("priority", String(job.spec.priority)),
            ("command", job.spec.command.shellQuoted),
        ]
        if !job.spec.environment.isEmpty {
            fields.append(("env", job.spec.environment.keys.sorted().map { "\($0)=\(job.spec.environment[$0]!)" }.joined(separator: " ")))
        }
        if let key = job.spec.idempotencyKey { fields.append(("idempotency key", key)) }
        fields.append(("created", TimeText.both(ms: job.createdAtMs, now: now)))
        fields.append(("updated", TimeText.both(ms: job.updatedAtMs, now: now)))

        let width = fields.map(\.0.count).max() ?? 0
        var lines = fields.map { name, value in name + String(repeating: " ", count: width - name.count) + "  " + value }
        if let events = job.events, !events.isEmpty {
            var table = TextTable("TIME", "STATE", "SOURCE", "SITE", "CAUSE")
            for event in events {
                table.add(
                    TimeText.utc(ms: event.atMs), event.state.rawValue, event.source, event.siteID?.rawValue ?? "-", event.cause
                )
            }
            lines.append("")
            lines.append(table.rendered)
        }
        return lines.joined(separator: "\n")
    }
}
