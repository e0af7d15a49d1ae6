/// The keys a job file may contain, and the "did you mean" hint for a key that is not one of them.
enum JobFileKeys {
    static let topLevel = [
        "name", "tenant", "command", "walltime", "priority", "idempotency_key", "preference", "resources", "constraints",
        "schedule", "env",
    ]
    static let resources = ["class", "min_fp16_tflops", "min_memory_gib", "count", "tasks", "memory_mib"]
    static let constraints = [
        "data_zone", "residency", "domestic_only", "max_latency_ms", "from_region", "min_green_share", "max_price_per_hour",
        "max_price_per_hour_fen", "allow_sites", "deny_sites", "data_region",
    ]
    static let schedule = ["not_before", "deadline", "deferrable"]

    /// Names people reach for that mean one of our keys but are too far away for edit distance.
    private static let synonyms: [String: String] = [
        "environment": "env",
        "walltime_seconds": "walltime",
        "time_limit": "walltime",
        "argv": "command",
        "cmd": "command",
        "resource": "resources",
        "accelerator": "class",
        "accelerator_class": "class",
        "gpus": "count",
        "units": "count",
        "memory": "memory_mib",
        "mem": "memory_mib",
        "classes": "class",
        "min_tflops": "min_fp16_tflops",
        "min_memory": "min_memory_gib",
        "constraint": "constraints",
        "placement": "constraints",
        "deferral": "schedule",
        "prefer": "preference",
        "zone": "data_zone",
        "domestic": "domestic_only",
        "max_latency": "max_latency_ms",
        "region": "from_region",
        "green_share": "min_green_share",
        "max_price": "max_price_per_hour",
        "max_price_fen": "max_price_per_hour_fen",
        "sites": "allow_sites",
        "start_after": "not_before",
        "earliest_start": "not_before",
        "finish_by": "deadline",
    ]

    /// The allowed key the user most likely meant, if any is close enough to be a typo.
    static func suggestion(for key: String, among allowed: [String]) -> String? {
        let lowered = key.lowercased()
        if allowed.contains(lowered) { return lowered }
        if let synonym = synonyms[lowered], allowed.contains(synonym) { return synonym }
        // A typo is a few edits away; more than a third of the word is a different word.
        let limit = max(1, min(3, lowered.count / 3))
        var best: (key: String, distance: Int)?
        for candidate in allowed {
            let distance = editDistance(lowered, candidate)
            if distance <= limit, distance < (best?.distance ?? .max) { best = (candidate, distance) }
        }
        return best?.key
    }

    /// Levenshtein distance, counting a swap of two neighbours as one edit (typos often are).
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var table = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var value = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    value = min(value, table[i - 2][j - 2] + 1)
                }
                table[i][j] = value
            }
        }
        return table[a.count][b.count]
    }
}
