import Foundation

/// What /proc says about processes started by jobs, which are not our children.
enum ProcessInspection {
    /// Pids of live (not zombie) processes in process group `group`.
    static func liveProcesses(inGroup group: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return false }
            // After "pid (comm) ": state ppid pgrp …
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, let pgrp = Int32(fields[2]) else { return false }
            return pgrp == group && fields[0] != "Z" && fields[0] != "X"
        }
    }

    /// The targets of a process's open descriptors, by descriptor number.
    static func openDescriptors(of pid: Int32) -> [Int: String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        var result: [Int: String] = [:]
        for entry in entries {
            guard let fd = Int(entry),
                let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(entry)")
            else { continue }
            result[fd] = target
        }
        return result
    }

    /// The shim pid and job process group an agent recorded for a job attempt
    /// (`<data_dir>/jobs/<job>-<attempt>/shim.json`).
    static func shimInfo(agentDataDirectory: String, job: String, attempt: Int = 1) -> (shimPID: Int32, jobPGID: Int32)? {
        let path = "\(agentDataDirectory)/jobs/\(job)-\(attempt)/shim.json"
        guard let data = FileManager.default.contents(atPath: path),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let shim = object["shimPID"] as? Int, let group = object["jobPGID"] as? Int
        else { return nil }
        return (Int32(shim), Int32(group))
    }
}
