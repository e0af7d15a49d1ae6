import EstuaryModel

// `explain` re-evaluates one job against every site, collecting every reason instead of
// stopping at the first. It shares the rules and the scoring with the pass (slow path).

extension Scheduler {
    /// Why a queued or placed job is where it is; nil for a job the scheduler does not know.
    public func explain(_ id: JobID, nowMs: Int64) -> Explanation? {
        guard let slot = jobSlotOf[id] else { return nil }
        let record = jobs[slot]
        switch record.phase {
        case .held, .confirmed:
            let pool = pools[record.pool]
            let confirmed = record.phase == .confirmed
            return Explanation(
                job: id,
                verdict: .held(
                    site: slots[pool.site].id, cls: classFacts[pool.classId].name, confirmed: confirmed,
                    expiresAtMs: confirmed ? nil : record.heldAtMs.saturatingAdd(policy.holdTimeoutMs)),
                sites: [])
        case .queued:
            return evaluate(record.job, rejected: record.rejectedOnAttempt, nowMs: nowMs)
        case .free:
            return nil
        }
    }

    /// What the scheduler would do with any job now, e.g. before it is submitted (a dry run).
    public func explain(job: SchedulerJob, nowMs: Int64) -> Explanation {
        let rejected = jobSlotOf[job.id].map { jobs[$0].rejectedOnAttempt } ?? [:]
        return evaluate(job, rejected: rejected, nowMs: nowMs)
    }

    func evaluate(_ job: SchedulerJob, rejected: [SiteID: Int], nowMs: Int64) -> Explanation {
        let key = signatureKey(for: job)
        let siteRules = SiteRules(key.filterKey)
        let classRules = ClassRules(key, catalog: catalog)
        let units = Self.units(of: job.resources)
        let walltimeMs = Int64(max(1, job.walltimeSeconds)).saturatingMultiply(1000)
        let holdings = tenantOf[job.tenant].map { tenants[$0] }
        let quotas = policy.tenant(job.tenant).quotas
        let known = classRules.classes.compactMap { cls in classIds[cls] }

        var verdicts: [SiteVerdict] = []
        var staticPools: [PoolRef] = []
        var fit: [Criteria] = []
        var fitVerdicts: [Int] = []
        var quotaOnly = false
        var quotaReasons: [RuleOut] = []
        var quotaBlocked = 0
        var blocking: Reservation?

        let order = slots.indices.filter { slots[$0].site != nil }.sorted { slots[$0].id < slots[$1].id }
        for slot in order {
            let site = slots[slot].id
            let siteReasons = siteRuleOuts(slot: slot, rules: siteRules, rejected: rejected)
            let matching = known.enumerated().compactMap { classSlot, classId -> PoolRef? in
                guard let pool = slots[slot].poolOfClass[classId], pools[pool].present else { return nil }
                return PoolRef(pool: pool, site: slot, classSlot: classSlot)
            }
            if matching.isEmpty {
                verdicts.append(SiteVerdict(site: site, cls: nil, ruledOut: siteReasons + [classRules.noPoolReason], score: nil))
                continue
            }
            for ref in matching {
                let classId = pools[ref.pool].classId
                let cls = classFacts[classId].name
                var reasons = siteReasons + classRuleOuts(classId, domesticOnly: job.constraints.domesticOnly)
                reasons += poolRuleOuts(
                    pool: ref.pool, constraints: job.constraints, tenant: job.tenant, request: job.resources, units: units, nowMs: nowMs)
                guard reasons.isEmpty else {
                    verdicts.append(SiteVerdict(site: site, cls: cls, ruledOut: reasons, score: nil))
                    continue
                }
                // Capacity and quota only matter where the job could run at all.
                staticPools.append(ref)
                var dynamic: [RuleOut] = []
                if let limit = quotas[cls] {
                    let holds = holdings?.held(classId) ?? 0
                    if holds + units > limit {
                        let reason = RuleOut.quota(tenant: job.tenant, cls: cls, holds: holds, limit: limit)
                        dynamic.append(reason)
                        if !quotaReasons.contains(reason) { quotaReasons.append(reason) }
                        quotaBlocked += 1
                    }
                }
                let free = live[ref.pool].free
                if free < units {
                    dynamic.append(.busy(cls: cls, units: units, free: free))
                } else if live[ref.pool].reservations > 0,
                    !backfillAllowed(pool: ref.pool, units: units, endMs: nowMs.saturatingAdd(walltimeMs)),
                    let holder = reservationHolder(pool: ref.pool)
                {
                    if blocking == nil { blocking = holder }
                    dynamic.append(.reserved(cls: cls, job: holder.job, startsInMs: max(0, holder.startMs - nowMs)))
                }
                if dynamic.count == 1, case .quota = dynamic[0] { quotaOnly = true }
                if dynamic.isEmpty {
                    fitVerdicts.append(verdicts.count)
                    fit.append(criteria(ref, constraints: job.constraints, tenant: job.tenant, units: units, nowMs: nowMs))
                }
                verdicts.append(SiteVerdict(site: site, cls: cls, ruledOut: dynamic, score: nil))
            }
        }

        // As in a pass: sites that rejected the job count only while another site could run it.
        if staticPools.isEmpty && !job.excludedSites.isEmpty {
            var open = job
            open.excludedSites = []
            return evaluate(open, rejected: rejected, nowMs: nowMs)
        }

        let preference = job.preference ?? policy.defaultPreference
        var placeable: Verdict?
        if !fit.isEmpty {
            var lo = Criteria(repeating: .infinity)
            var hi = Criteria(repeating: -.infinity)
            for x in fit {
                lo.formMin(x)
                hi.formMax(x)
            }
            // `fit` is in site id, class name order already: the earlier of equal scores wins.
            let ranked = Self.rank(fit, lo: lo, hi: hi, weights: normalisedWeights(preference), collect: true) { $0 < $1 }
            for (position, verdictIndex) in fitVerdicts.enumerated() { verdicts[verdictIndex].score = ranked.scores[position] }
            let best = verdicts[fitVerdicts[ranked.index]]
            placeable = .placeable(site: best.site, cls: best.cls!, score: ranked.score)
        }

        let verdict: Verdict
        let latestStart = job.deferral?.deadlineMs.map { $0.saturatingAdd(-walltimeMs) }
        if let notBefore = job.deferral?.notBeforeMs, notBefore > nowMs {
            verdict = .deferred(untilMs: notBefore, reason: "not before its start time, in \(Format.duration(ms: notBefore - nowMs))")
        } else if staticPools.isEmpty {
            verdict = .unplaceable
        } else if quotaBlocked == staticPools.count {
            verdict = .waitingForQuota(quotaReasons)
        } else if job.deferral?.deferrable == true, let latestStart, nowMs < latestStart.saturatingAdd(-deferralSlackMs),
            let plan = planDeferral(
                deferralGroups(staticPools, tenant: job.tenant, carbon: preference == .greenest), carbon: preference == .greenest,
                walltimeMs: walltimeMs, nowMs: nowMs, latestStartMs: latestStart,
                timeline: { timeline(site: $0.site, fromMs: nowMs, toMs: latestStart.saturatingAdd(walltimeMs)) },
                curve: { gridCurve(site: $0, fromMs: nowMs, toMs: latestStart.saturatingAdd(walltimeMs)) })
        {
            verdict = .deferred(untilMs: plan.startMs, reason: deferralReason(plan, units: units))
        } else if let placeable {
            verdict = placeable
        } else if quotaOnly {
            verdict = .waitingForQuota(quotaReasons)
        } else {
            verdict = .waitingForCapacity(reservation: lastReservations[job.id] ?? blocking)
        }
        return Explanation(job: job.id, verdict: verdict, sites: verdicts)
    }

    /// The criteria of one pool for one job now, from the sources (what the class tables cache).
    func criteria(_ ref: PoolRef, constraints: PlacementConstraints, tenant: TenantID, units: Int, nowMs: Int64) -> Criteria {
        let site = slots[ref.site].site!
        let facts = classFacts[pools[ref.pool].classId]
        let price =
            site.priceBook.fenPerUnitHour(facts.name, atMs: nowMs).map {
                effective(tenant: tenant, site: site.id, cls: facts.name, list: $0)
            } ?? 0
        var latency = 0.0
        if let from = constraints.fromRegion { latency = Double(policy.latency.ms(from: from, to: site.region) ?? unknownLatencyPenaltyMs) }
        let state = live[ref.pool]
        return Criteria(
            price: Double(price), start: siteStart[ref.site], speed: speedCriterion(pool: ref.pool), latency: latency,
            carbon: Self.gramsPerUnitHour(facts, site.energy, localHour: Self.localHour(site.priceBook, atMs: nowMs)),
            spread: Self.spread(state, units: units),
            locality: constraints.dataRegion.map { $0 == site.region ? 0 : 1 } ?? 0)
    }

    /// The reservation holding back capacity in a pool (the earliest, when there are several).
    func reservationHolder(pool: Int) -> Reservation? {
        guard let reservations = poolReservations[pool] else { return nil }
        return reservations.min { $0.startMs < $1.startMs }.flatMap { lastReservations[$0.id] }
    }
}
