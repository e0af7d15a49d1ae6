/// The keys a job file may contain, and the "did you mean" hint for a key that is not one of them.
enum JobFileKeys {
    static let topLevel = ["name", "tenant", "command", "walltime", "priority", "idempotency_key", "resources", "env"]
    static let resources = ["class", "count", "tasks", "memory_mib"]

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
