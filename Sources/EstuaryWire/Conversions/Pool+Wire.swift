import EstuaryModel

extension Estuary_V1_Pool {
    /// The wire form of one pool in a `CapacityReport`. Negative counts are sent as 0.
    public init(_ pool: PoolCapacity) {
        self.init()
        acceleratorClass = pool.acceleratorClass.rawValue
        count = UInt32(clamping: pool.count)
        free = UInt32(clamping: pool.free)
        simulated = pool.simulated
        verifiedFp16Tflops = pool.verifiedFP16TFLOPS ?? 0
    }
}

extension PoolCapacity {
    /// A pool as a site reported it.
    ///
    /// - Throws: `ValidationError` when the class is not a catalog-style name or `free`
    ///   exceeds `count`.
    public init(wire: Estuary_V1_Pool) throws(ValidationError) {
        self.init(
            acceleratorClass: AcceleratorClass(rawValue: wire.acceleratorClass),
            count: Int(wire.count),
            free: Int(wire.free),
            simulated: wire.simulated,
            verifiedFP16TFLOPS: wire.verifiedFp16Tflops > 0 ? wire.verifiedFp16Tflops : nil
        )
        var problems: [FieldError] = []
        if !wire.verifiedFp16Tflops.isFinite || wire.verifiedFp16Tflops < 0 {
            problems.append(FieldError(field: "verified_fp16_tflops", message: "must be a finite, non-negative number"))
        }
        if !acceleratorClass.isWellFormedClassName {
            problems.append(FieldError(field: "accelerator_class", message: "must be a catalog class name such as \"ascend-910b\""))
        }
        if free > count {
            problems.append(FieldError(field: "free", message: "is \(free), more than count \(count)"))
        }
        if !problems.isEmpty { throw ValidationError(problems) }
    }
}
