import EstuaryConfig
import EstuaryModel
import Testing

/// A job file and what it must parse to, or the problems it must report (`field: message`).
struct JobFileCase: Sendable, CustomTestStringConvertible {
    var label: String
    var text: String
    var expected: Result<JobSpec, JobFileError>

    var testDescription: String { label }

    static func ok(_ label: String, _ text: String, _ spec: JobSpec) -> JobFileCase {
        JobFileCase(label: label, text: text, expected: .success(spec))
    }

    static func invalid(_ label: String, _ text: String, _ problems: [String]) -> JobFileCase {
        let fields = problems.map { line in
            let split = line.firstIndex(of: ":")!
            return FieldError(field: String(line[..<split]), message: String(line[line.index(split, offsetBy: 2)...]))
        }
        return JobFileCase(label: label, text: text, expected: .failure(.invalid(fields)))
    }
}

let minimalHeader = """
    name = "hello"
    tenant = "dev"
    command = ["/bin/echo", "hello"]
    walltime = "5m"

    """

/// Each example of docs/CLI.md ("Job files"), verbatim.
let documentedExamples: [JobFileCase] = [
    .ok(
        "docs: full example",
        """
        name = "resnet-train"
        tenant = "pengcheng-lab"
        command = ["/bin/sh", "-c", "python train.py"]
        walltime = "2h"            # or an integer number of seconds, or "HH:MM:SS"
        priority = 0               # optional
        idempotency_key = "resnet-train-2026-11-23"    # optional
        [resources]
        class = "ascend-910b"
        count = 8                  # units per task, default 1
        tasks = 2                  # default 1
        memory_mib = 65536         # optional
        [env]
        EPOCHS = "10"
        """,
        JobSpec(
            name: "resnet-train", tenant: "pengcheng-lab", command: ["/bin/sh", "-c", "python train.py"],
            environment: ["EPOCHS": "10"],
            resources: ResourceRequest(acceleratorClass: "ascend-910b", count: 8, tasks: 2, memoryMiB: 65536),
            walltimeSeconds: 7200, priority: 0, idempotencyKey: "resnet-train-2026-11-23"
        )
    ),
    .ok(
        "docs: smallest job",
        """
        name = "hello"
        tenant = "dev"
        command = ["/bin/echo", "hello from estuary"]
        walltime = 60
        [resources]
        class = "cpu-x86-64"
        """,
        JobSpec(
            name: "hello", tenant: "dev", command: ["/bin/echo", "hello from estuary"],
            resources: ResourceRequest(acceleratorClass: "cpu-x86-64"), walltimeSeconds: 60
        )
    ),
    .ok(
        "docs: Slurm-style walltime and inline resources table",
        """
        name = "cfd-mesh"
        tenant = "gz-fluid"
        command = ["/opt/cfd/bin/solve", "--mesh", "wing.msh"]
        walltime = "12:30:00"
        priority = 10
        resources = { class = "cpu-x86-64", count = 64, tasks = 4 }
        """,
        JobSpec(
            name: "cfd-mesh", tenant: "gz-fluid", command: ["/opt/cfd/bin/solve", "--mesh", "wing.msh"],
            resources: ResourceRequest(acceleratorClass: "cpu-x86-64", count: 64, tasks: 4),
            walltimeSeconds: 45000, priority: 10
        )
    ),
    .invalid(
        "docs: the mistakes example",
        """
        name = "resnet-train"
        tenant = "pengcheng-lab"
        command = "python train.py"
        walltime = "2 hours"
        [resorces]
        class = "ascend-910b"
        count = "8"
        """,
        [
            #"command: expected an array of strings, found a string; write command = ["/bin/sh", "-c", "…"] to run it through a shell"#,
            #"walltime: cannot read "2 hours" as a duration; write seconds (7200), "2h", "1h30m", "90s" or "HH:MM:SS""#,
            #"resources: is required, e.g. a [resources] section with at least class = "cpu-x86-64""#,
            #"resorces: unknown key; did you mean "resources"?"#,
        ]
    ),
]

let moreCases: [JobFileCase] = [
    .ok(
        "walltime as 1h30m", minimalHeader.replacing(#""5m""#, with: #""1h30m""#) + "[resources]\nclass = \"cpu-x86-64\"\n",
        JobSpec(name: "hello", tenant: "dev", command: ["/bin/echo", "hello"], resources: .init(acceleratorClass: "cpu-x86-64"), walltimeSeconds: 5400)
    ),
    .ok(
        "walltime as 90s", minimalHeader.replacing(#""5m""#, with: #""90s""#) + "[resources]\nclass = \"cpu-x86-64\"\n",
        JobSpec(name: "hello", tenant: "dev", command: ["/bin/echo", "hello"], resources: .init(acceleratorClass: "cpu-x86-64"), walltimeSeconds: 90)
    ),
    .invalid(
        "count given as a string", minimalHeader + "[resources]\nclass = \"ascend-910b\"\ncount = \"8\"\n",
        ["resources.count: expected an integer, found a string"]
    ),
    .invalid(
        "count given as a float", minimalHeader + "[resources]\nclass = \"ascend-910b\"\ncount = 8.0\n",
        ["resources.count: expected an integer, found a floating-point number"]
    ),
    .invalid(
        "unknown key in resources", minimalHeader + "[resources]\nclass = \"ascend-910b\"\ncuont = 8\n",
        [#"resources.cuont: unknown key; did you mean "count"?"#]
    ),
    .invalid(
        "unknown key with no near match", minimalHeader + "colour = \"blue\"\n[resources]\nclass = \"cpu-x86-64\"\n",
        ["colour: unknown key"]
    ),
    .invalid(
        "synonym suggests the real key", minimalHeader + "[resources]\nclass = \"cpu-x86-64\"\n[environment]\nA = \"1\"\n",
        [#"environment: unknown key; did you mean "env"?"#]
    ),
    .invalid(
        "everything missing", "",
        [
            #"name: is required, e.g. name = "resnet-train""#,
            #"tenant: is required, e.g. tenant = "pengcheng-lab""#,
            #"command: is required, e.g. command = ["/bin/echo", "hello"]"#,
            #"walltime: is required, e.g. walltime = "2h""#,
            #"resources: is required, e.g. a [resources] section with at least class = "cpu-x86-64""#,
        ]
    ),
    .invalid(
        "missing class", minimalHeader + "[resources]\ncount = 2\n",
        [#"resources.class: is required, e.g. class = "ascend-910b" or class = "nvidia-a100|nvidia-a800", or a capability: min_fp16_tflops = 300, min_memory_gib = 64"#]
    ),
    .invalid(
        "non-string command element", #"name = "a""# + "\n" + #"tenant = "t""# + "\ncommand = [\"/bin/echo\", 3]\nwalltime = 5\n[resources]\nclass = \"cpu-x86-64\"\n",
        ["command[1]: expected a string, found an integer"]
    ),
    .invalid(
        "env value must be a string", minimalHeader + "[resources]\nclass = \"cpu-x86-64\"\n[env]\nEPOCHS = 10\n",
        [#"env.EPOCHS: expected a string, found an integer; quote it: EPOCHS = "10""#]
    ),
    .invalid(
        "validation problems use the file's key names", minimalHeader.replacing(#""5m""#, with: "0") + "priority = 5000\n[resources]\nclass = \"Ascend 910B\"\ncount = 0\n[env]\n1BAD = \"x\"\n",
        [
            "walltime: must be between 1 second and 30 days",
            "priority: must be between -1000 and 1000",
            #"resources.class: "Ascend 910B" is not a catalog class name such as "ascend-910b" or "cpu-x86-64""#,
            "resources.count: must be between 1 and 100000",
            "env.1BAD: is not a valid variable name (letters, digits and '_', not starting with a digit)",
        ]
    ),
    .invalid(
        "type and validation problems together, without repeats",
        #"name = "bad name!""# + "\ntenant = 7\ncommand = []\nwalltime = \"2h\"\n[resources]\nclass = \"cpu-x86-64\"\n",
        [
            "name: must be 1–128 characters of letters, digits, '.', '_' or '-'",
            "tenant: expected a string, found an integer",
            #"command: must name a program to run, e.g. ["/bin/echo", "hello"]"#,
        ]
    ),
]

@Suite("job files")
struct JobFileTests {
    @Test("documented examples parse as the docs say", arguments: documentedExamples)
    func documented(_ example: JobFileCase) {
        check(example)
    }

    @Test("job files parse or report every problem by field", arguments: moreCases)
    func cases(_ example: JobFileCase) {
        check(example)
    }

    @Test("a TOML syntax error reports its line and column")
    func syntaxError() {
        let text = "name = \"x\"\ntenant = \"t\"\ncommand = [\"/bin/true\"\nwalltime = 5\n"
        #expect {
            _ = try JobFile.parse(text)
        } throws: { error in
            guard case .syntax(let line, let column, let message) = error as? JobFileError else { return false }
            return line >= 3 && column >= 1 && !message.isEmpty
        }
    }

    @Test("the error's description puts one problem on each line")
    func description() {
        let error = JobFileError.invalid([
            FieldError(field: "resources.count", message: "expected an integer, found a string"),
            FieldError(field: "name", message: "is required"),
        ])
        #expect(error.description == "resources.count: expected an integer, found a string\nname: is required")
        #expect(JobFileError.syntax(line: 3, column: 9, message: "bad").description == "line 3, column 9: bad")
    }

    private func check(_ example: JobFileCase, sourceLocation: SourceLocation = #_sourceLocation) {
        let outcome = Result { () throws(JobFileError) in try JobFile.parse(example.text) }
        switch (outcome, example.expected) {
        case (.success(let spec), .success(let expected)):
            #expect(spec == expected, sourceLocation: sourceLocation)
        case (.failure(let error), .failure(let expected)):
            #expect(error.problems == expected.problems, sourceLocation: sourceLocation)
        case (.success(let spec), .failure(let expected)):
            Issue.record("expected \(expected.problems), parsed \(spec)", sourceLocation: sourceLocation)
        case (.failure(let error), .success):
            Issue.record("expected success, got:\n\(error)", sourceLocation: sourceLocation)
        }
    }
}
