import Foundation

/// Start and end marks that test jobs append to a shared file (`$MARKS`), one line each:
/// `start <job id> <epoch ms>` / `end <job id> <epoch ms>`. Lines shorter than PIPE_BUF written
/// with O_APPEND do not interleave, so concurrent jobs can share the file.
struct JobMarks: Sendable {
    var starts: [String: [Int64]] = [:]
    var ends: [String: [Int64]] = [:]

    /// `script` wrapped in marks; the job reads the file's path from `$MARKS`.
    static func wrap(_ script: String) -> String {
        #"echo "start $ESTUARY_JOB_ID $(date +%s%3N)" >> "$MARKS"; "#
            + script
            + #"; echo "end $ESTUARY_JOB_ID $(date +%s%3N)" >> "$MARKS""#
    }

    static func read(_ path: String) -> JobMarks {
        var marks = JobMarks()
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 3, let ms = Int64(parts[2]) else { continue }
            switch parts[0] {
            case "start": marks.starts[String(parts[1]), default: []].append(ms)
            case "end": marks.ends[String(parts[1]), default: []].append(ms)
            default: continue
            }
        }
        return marks
    }

    /// Jobs that have started and not (yet) ended.
    var running: Set<String> { Set(starts.keys).subtracting(ends.keys) }

    /// The job's own measured interval, if it started and ended exactly once.
    func interval(of job: String) -> ClosedRange<Int64>? {
        guard let start = starts[job], start.count == 1, let end = ends[job], end.count == 1, start[0] <= end[0] else { return nil }
        return start[0]...end[0]
    }
}
