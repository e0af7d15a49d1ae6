import EstuaryModel

extension Estuary_V1_JobSpec {
    /// The wire form of a job spec, as sent in `JobAssign`. The idempotency key stays at the
    /// coordinator (sites never need it); `memoryMiB == nil` is sent as 0. Out-of-range numbers
    /// are clamped, so validate the spec before sending it. Placement constraints, preference and
    /// deferral stay at the coordinator too: the assigned spec names the one class it was placed on.
    public init(_ spec: JobSpec) {
        self.init()
        name = spec.name
        tenant = spec.tenant.rawValue
        command = spec.command
        env = spec.environment
        acceleratorClass = spec.resources.classExpression
        count = UInt32(clamping: spec.resources.count)
        tasks = UInt32(clamping: spec.resources.tasks)
        memoryMib = UInt64(clamping: spec.resources.memoryMiB ?? 0)
        walltimeSeconds = UInt32(clamping: spec.walltimeSeconds)
        priority = Int32(clamping: spec.priority)
    }
}

extension JobSpec {
    /// The job spec carried by a `JobAssign`, validated with `JobSpec.validate()`.
    ///
    /// - Throws: `ValidationError` naming every invalid field (`resources.count`, `env.PATH` …).
    public init(wire: Estuary_V1_JobSpec) throws(ValidationError) {
        var problems: [FieldError] = []
        var memory: Int?
        if wire.memoryMib != 0 {
            memory = Int(exactly: wire.memoryMib)
            if memory == nil {
                problems.append(FieldError(field: "resources.memory_mib", message: "is too large"))
            }
        }
        self.init(
            name: wire.name,
            tenant: TenantID(rawValue: wire.tenant),
            command: wire.command,
            environment: wire.env,
            resources: ResourceRequest(
                classes: ResourceRequest.classes(fromExpression: wire.acceleratorClass),
                count: Int(wire.count),
                tasks: Int(wire.tasks),
                memoryMiB: memory
            ),
            walltimeSeconds: Int(wire.walltimeSeconds),
            priority: Int(wire.priority)
        )
        problems += validate()
        // The coordinator sends a class expression in its canonical form (`a|b`, no spaces);
        // anything else did not come from it, and would not survive the trip back.
        if problems.isEmpty && resources.classExpression != wire.acceleratorClass {
            problems.append(FieldError(field: "resources.class", message: "is not in canonical form (\"a|b\", no spaces)"))
        }
        if !problems.isEmpty { throw ValidationError(problems) }
    }
}
