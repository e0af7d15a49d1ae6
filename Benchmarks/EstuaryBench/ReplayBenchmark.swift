import ArgumentParser
import EstuaryModel
import EstuaryScheduler
import EstuarySimulation
import Foundation

/// The Alibaba GPU trace (2023) replayed through the pure scheduler as a discrete-event
/// simulation: speed, and placement quality (queueing delay, utilisation) per class.
struct ReplayBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay the Alibaba GPU trace through the scheduler (discrete-event simulation)."
    )

    @Option(help: "Directory holding openb_node_list_all_node.csv and openb_pod_list_default.csv.")
    var traceDir: String = "Tests/Traces/alibaba-gpu-v2023"

    @Option(help: "Sites the nodes are split into (round-robin by node).")
    var sites: Int = 4

    @Option(help: "Simulated time per trace time (1 = trace seconds as they are; 0.001 = 1 s → 1 ms).")
    var timeScale: Double = 1

    @Option(help: "Arrival speedups to replay, comma-separated: arrivals k times faster, runtimes kept.")
    var speedups: String = "1,1000,inf"

    var speedupValues: [Double] { speedups.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) } }

    func validate() throws {
        guard sites > 0 else { throw ValidationError("--sites must be positive") }
        guard timeScale > 0 else { throw ValidationError("--time-scale must be positive") }
        guard !speedupValues.isEmpty, speedupValues.allSatisfy({ $0 > 0 }),
            speedupValues.count == speedups.split(separator: ",").count
        else { throw ValidationError("--speedups: positive numbers or inf separated by commas, e.g. 1,1000,inf") }
    }

    func run() async throws {
        let directory = URL(fileURLWithPath: traceDir, isDirectory: true)
        let clock = ContinuousClock()
        let parseStart = clock.now
        let nodeText: String
        let taskText: String
        do {
            nodeText = try String(contentsOf: directory.appendingPathComponent(AlibabaTrace.nodeFileName), encoding: .utf8)
            taskText = try String(contentsOf: directory.appendingPathComponent(AlibabaTrace.taskFileName), encoding: .utf8)
        } catch {
            throw ValidationError("cannot read the trace in \(directory.path) (--trace-dir): \(error)")
        }
        let nodes = try AlibabaTrace.parseNodes(csv: nodeText)
        let tasks = try AlibabaTrace.parseTasks(csv: taskText)
        let parseTime = clock.now - parseStart

        let mesh = TraceMesh(nodes: nodes, siteCount: sites)
        let expectedNever = AlibabaTrace.neverPlaceable(tasks: tasks, nodes: nodes, siteCount: sites)
        var runs: [(speedup: Double, wall: Duration, result: TraceReplay.Result, shared: Int)] = []
        for speedup in speedupValues {
            let workload = TraceWorkload(tasks: tasks, mesh: mesh, timeScale: timeScale, arrivalSpeedup: speedup)
            var replay = TraceReplay(mesh: mesh, workload: workload, options: .init(verifyCapacity: false, recordPlacements: false))
            let start = clock.now
            let result = replay.run()
            runs.append((speedup, clock.now - start, result, workload.sharedGPUTasks))
        }
        let peakRSS = ProcessSample.read()?.peakRSSBytes ?? 0

        let gpuTasks = tasks.filter { $0.gpus > 0 }
        let anyClass = gpuTasks.filter(\.gpuSpec.isEmpty).count
        let siteLines = mesh.sites.map { site in
            "`\(site.id)` (\(site.region); " + site.pools.map { "\($0.cls) \(Format.grouped(Double($0.count)))" }.joined(separator: ", ") + ")"
        }
        SectionHeader.print(
            "Trace replay (Alibaba GPU cluster trace 2023)",
            details: [
                AlibabaTrace.attribution,
                "\(nodes.count) nodes split round-robin into \(sites) sites: " + siteLines.joined(separator: "; ") + ".",
                "\(Format.grouped(Double(tasks.count))) tasks: \(Format.grouped(Double(gpuTasks.count))) GPU tasks ask for `num_gpu` whole GPUs of a class their gpu_spec allows (any GPU class of the cluster when it is empty: \(Format.grouped(Double(anyClass))) of them); \(Format.grouped(Double(runs.first?.shared ?? 0))) ask for a GPU share (gpu_milli < 1000) and get one whole GPU, since GPU sharing is out of scope; CPU-only tasks ask for ⌈cpu_milli / 1000⌉ `cpu-x86-64` cores. Tenant = QoS class (LS, BE, Burstable, Guaranteed). Runtime = deletion − scheduled time (creation time for never-scheduled tasks). \(expectedNever.count) tasks fit no site even when the cluster is idle (computed from the CSVs alone).",
                "Discrete-event replay, one thread, time scale \(timeScale) (1 trace second = \(Format.fixed(1000 * timeScale, 3)) simulated ms): one `schedule(nowMs:)` pass at each distinct arrival/completion time, every placement confirmed at once. *Arrival speedup* k divides the arrival times by k and keeps the runtimes, multiplying the offered load: the trace as it is never has more than ~71 GPUs busy at once on 6,212; `inf` submits every task at t = 0 (the snapshot use of this trace in the FGD paper), so the cluster fills and the rest queue for completions. Parsing the CSVs took \(Format.ms(parseTime.milliseconds)) ms (not included below); peak RSS (VmHWM, whole process) \(Format.mib(peakRSS)) MiB.",
            ])
        print("| arrival speedup | replay wall time | placements/s | passes | placed | never placed | delay mean | p50 | p99 | max | GPU utilisation |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for run in runs {
            let r = run.result
            let gpu = r.classes.filter { $0.cls != TraceMesh.cpuClass }
            let gpuUnits = gpu.reduce(0) { $0 + $1.capacity }
            let gpuUtilisation = gpu.reduce(0.0) { $0 + $1.utilisation * Double($1.capacity) } / Double(max(gpuUnits, 1))
            let cells = [
                label(run.speedup), "\(Format.ms(run.wall.milliseconds)) ms",
                Format.grouped(Double(r.placed) / max(run.wall.seconds, 1e-9)), Format.grouped(Double(r.passes)),
                "\(Format.grouped(Double(r.placed))) / \(Format.grouped(Double(r.total)))", "\(r.unplaced.count)",
                seconds(r.delaySeconds.mean), seconds(r.delaySeconds.p50), seconds(r.delaySeconds.p99), seconds(r.delaySeconds.max),
                "\(Format.fixed(gpuUtilisation * 100, 1)) %",
            ]
            print("| " + cells.joined(separator: " | ") + " |")
        }
        print()
        for run in runs {
            print("Per class, arrival speedup \(label(run.speedup)) (utilisation window \(days(run.result.windowMs)), last completion after \(days(run.result.spanMs))):")
            print()
            print("| class | units | tasks placed | delay mean | p50 | p99 | max | utilisation | peak units |")
            print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
            for figures in run.result.classes {
                let d = figures.delaySeconds
                let cells = [
                    "`\(figures.cls)`", Format.grouped(Double(figures.capacity)), Format.grouped(Double(figures.placed)),
                    seconds(d.mean), seconds(d.p50), seconds(d.p99), seconds(d.max),
                    "\(Format.fixed(figures.utilisation * 100, 1)) %", Format.grouped(Double(figures.peakUnits)),
                ]
                print("| " + cells.joined(separator: " | ") + " |")
            }
            print()
        }
        print(
            "*placements/s* = tasks placed ÷ replay wall time (the whole simulation: event queue, enqueue, passes, confirm, release). Delays are in trace time (arrival → placement). Utilisation = allocated unit-time ÷ (units × window), the window running from the first arrival to the later of the last arrival and the last placement, while work is offered or waiting (the drain after it is left out: a few tasks run for months). Estuary's placements stand in for the original cluster scheduler's, so delays and utilisation describe this replay, not Alibaba's cluster."
        )
        print()
    }

    private func label(_ speedup: Double) -> String {
        speedup.isInfinite ? "∞ (all at t = 0)" : "\(Format.fixed(speedup, speedup < 10 ? 1 : 0))×"
    }

    private func days(_ ms: Int64) -> String {
        let value = Double(ms) / 1000 / timeScale
        if value < 3600 { return "\(Format.fixed(value, 0)) trace seconds" }
        return value < 86_400 ? "\(Format.fixed(value / 3600, 1)) trace hours" : "\(Format.fixed(value / 86_400, 1)) trace days"
    }

    private func seconds(_ value: Double) -> String {
        if value.isNaN { return "–" }
        if value < 1 { return "\(Format.fixed(value, 3)) s" }
        if value < 3600 { return "\(Format.fixed(value, 1)) s" }
        return "\(Format.fixed(value / 3600, 1)) h"
    }
}
