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
            ("site", (job.siteID?.rawValue ?? "-") + (job.placedClass.map { " (\($0))" } ?? "")),
        ]
        if let peer = job.forwardedTo { fields.append(("forwarded to", "coordinator \(peer)")) }
        if let origin = job.origin {
            fields.append(("forwarded by", "coordinator \(origin.coordinator) (its job \(origin.job), attempt \(origin.attempt))"))
        }
        fields += [
            ("resources", job.spec.resources.summary + (job.spec.resources.memoryMiB.map { ", \($0) MiB memory per task" } ?? "")),
            ("walltime", TimeText.duration(seconds: job.spec.walltimeSeconds)),
            ("priority", String(job.spec.priority)),
            ("command", job.spec.command.shellQuoted),
        ]
        if !job.spec.environment.isEmpty {
            fields.append(("env", job.spec.environment.keys.sorted().map { "\($0)=\(job.spec.environment[$0]!)" }.joined(separator: " ")))
        }
        if let preference = job.spec.preference { fields.append(("preference", preference.rawValue)) }
        let rules = constraintText(job.spec.constraints)
        if !rules.isEmpty { fields.append(("constraints", rules)) }
        if let deferral = job.spec.deferral {
            var window: [String] = []
            if let notBefore = deferral.notBeforeMs { window.append("not before \(TimeText.utc(ms: notBefore))") }
            if let deadline = deferral.deadlineMs { window.append("deadline \(TimeText.utc(ms: deadline))") }
            if deferral.deferrable { window.append("deferrable to valley-price or low-carbon hours") }
            fields.append(("schedule", window.joined(separator: ", ")))
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

    /// `data_zone=gba residency=mainland domestic_only max_latency=5ms from shenzhen …`
    static func constraintText(_ c: PlacementConstraints) -> String {
        var parts: [String] = []
        if let zone = c.dataZone { parts.append("data_zone=\(zone)") }
        if let residency = c.residency { parts.append("residency=\(residency)") }
        if c.domesticOnly { parts.append("domestic_only") }
        if let latency = c.maxLatencyMs { parts.append("max_latency=\(latency)ms from \(c.fromRegion ?? "?")") }
        if let green = c.minGreenShareBP { parts.append("min_green_share=\(Double(green) / 100)%") }
        if let price = c.maxPricePerHourFen { parts.append("max_price=\(MoneyText.cny(fen: price))/h") }
        if !c.allowSites.isEmpty { parts.append("allow=" + c.allowSites.map(\.rawValue).joined(separator: ",")) }
        if !c.denySites.isEmpty { parts.append("deny=" + c.denySites.map(\.rawValue).joined(separator: ",")) }
        if let region = c.dataRegion { parts.append("data_region=\(region)") }
        return parts.joined(separator: " ")
    }
}

/// Money as people read it: integer fen shown as yuan with two decimals, never via floating point.
enum MoneyText {
    /// `1,234.56 CNY`
    static func cny(fen: Int64) -> String {
        let negative = fen < 0
        let magnitude = fen.magnitude
        let yuan = String(magnitude / 100)
        var grouped = ""
        for (index, digit) in yuan.enumerated() {
            if index > 0 && (yuan.count - index) % 3 == 0 { grouped.append(",") }
            grouped.append(digit)
        }
        let cents = magnitude % 100
        return (negative ? "-" : "") + grouped + "." + (cents < 10 ? "0" : "") + String(cents) + " CNY"
    }
}
