import EstuaryModel

// What closing a period produces, one report per party: a statement per site, an invoice per
// tenant and a disbursement report per voucher programme. `SettlementAccumulator` builds them;
// `Reconciliation` (SettlementReconciliation.swift) says whether they can be trusted. Every
// amount is integer fen, every JSON key snake_case, every list sorted, so the same postings give
// byte-identical exports however often a period is settled.

/// What one site earned in a period: the statement behind its payout.
public struct SiteStatement: Sendable, Hashable, Codable {
    public var period: BillingPeriod
    public var site: SiteID
    /// Charges (rated usage records) run at the site.
    public var charges: Int
    /// Usage and gross by what was billed, sorted by class, then service.
    public var byClass: [ClassUsage]
    /// The charges at their gross price, voucher part included.
    public var grossFen: Fen
    /// The platform's commission on those charges.
    public var feeFen: Fen
    /// What the site's receivable gained from usage: gross − fee. The voucher-funded part is in it.
    public var owedFen: Fen
    /// The part of `grossFen` voucher programmes paid.
    public var voucherFundedFen: Fen
    /// The part of `grossFen` tenants' wallets paid.
    public var tenantPaidFen: Fen
    /// Estimated energy and CO2, summed over the lines that carry an estimate.
    public var energyWh: Int64
    public var gramsCO2: Int64
    /// Net of the postings to `site-receivable:<site>` by anything but a charge: a payout to the
    /// site (negative), a reversed charge (negative), a manual adjustment, an inter-region
    /// transfer (negative at the tenant's coordinator, whose peer runs the site; positive at that
    /// peer).
    public var adjustmentsFen: Fen
    /// Net of every posting to `site-receivable:<site>` in the period. When the period reconciles
    /// it is `owedFen + adjustmentsFen`.
    public var netChangeFen: Fen

    /// One class (or, for a service charge, one service) at the site.
    public struct ClassUsage: Sendable, Hashable, Codable {
        /// The accelerator class; nil for a non-compute service charge.
        public var cls: AcceleratorClass?
        /// The service, for a non-compute charge; nil for compute.
        public var service: ServiceID?
        /// Unit-milliseconds of compute (0 for a service).
        public var unitMs: Int64
        public var grossFen: Fen

        public init(cls: AcceleratorClass?, service: ServiceID?, unitMs: Int64, grossFen: Fen) {
            self.cls = cls
            self.service = service
            self.unitMs = unitMs
            self.grossFen = grossFen
        }

        enum CodingKeys: String, CodingKey {
            case cls = "class"
            case service
            case unitMs = "unit_ms"
            case grossFen = "gross_fen"
        }
    }

    enum CodingKeys: String, CodingKey {
        case period, site, charges
        case byClass = "by_class"
        case grossFen = "gross_fen"
        case feeFen = "fee_fen"
        case owedFen = "owed_fen"
        case voucherFundedFen = "voucher_funded_fen"
        case tenantPaidFen = "tenant_paid_fen"
        case energyWh = "energy_wh"
        case gramsCO2 = "grams_co2"
        case adjustmentsFen = "adjustments_fen"
        case netChangeFen = "net_change_fen"
    }
}

/// What one tenant used and owes for a period.
public struct TenantInvoice: Sendable, Hashable, Codable {
    public var period: BillingPeriod
    public var tenant: TenantID
    public var charges: Int
    /// The charges at their gross price.
    public var grossFen: Fen
    /// The part vouchers paid.
    public var voucherFen: Fen
    /// The part the wallet paid: gross − voucher.
    public var payableFen: Fen
    public var energyWh: Int64
    public var gramsCO2: Int64
    /// The charges by site and class (or service), sorted.
    public var lines: [Line]
    /// Money put into the wallet from outside (top-ups).
    public var topUpsFen: Fen
    /// Net of the other postings to `wallet:<tenant>` (refunds, reversals, adjustments).
    public var otherFen: Fen
    /// Net of every posting to `wallet:<tenant>` in the period; when the period reconciles,
    /// `topUpsFen + otherFen − payableFen`.
    public var walletNetChangeFen: Fen

    /// The tenant's charges at one site for one class or service.
    public struct Line: Sendable, Hashable, Codable {
        public var site: SiteID
        public var cls: AcceleratorClass?
        public var service: ServiceID?
        public var charges: Int
        public var unitMs: Int64
        public var grossFen: Fen
        public var voucherFen: Fen
        public var payableFen: Fen

        public init(
            site: SiteID, cls: AcceleratorClass?, service: ServiceID?, charges: Int, unitMs: Int64, grossFen: Fen,
            voucherFen: Fen, payableFen: Fen
        ) {
            self.site = site
            self.cls = cls
            self.service = service
            self.charges = charges
            self.unitMs = unitMs
            self.grossFen = grossFen
            self.voucherFen = voucherFen
            self.payableFen = payableFen
        }

        enum CodingKeys: String, CodingKey {
            case site
            case cls = "class"
            case service, charges
            case unitMs = "unit_ms"
            case grossFen = "gross_fen"
            case voucherFen = "voucher_fen"
            case payableFen = "payable_fen"
        }
    }

    enum CodingKeys: String, CodingKey {
        case period, tenant, charges
        case grossFen = "gross_fen"
        case voucherFen = "voucher_fen"
        case payableFen = "payable_fen"
        case energyWh = "energy_wh"
        case gramsCO2 = "grams_co2"
        case lines
        case topUpsFen = "top_ups_fen"
        case otherFen = "other_fen"
        case walletNetChangeFen = "wallet_net_change_fen"
    }
}

/// What one voucher programme paid in a period, and to whom: the report a sponsor audits.
public struct ProgramDisbursement: Sendable, Hashable, Codable {
    public var period: BillingPeriod
    public var program: VoucherProgramID
    /// Charges the programme paid part of.
    public var charges: Int
    /// Everything the programme paid towards charges.
    public var voucherFen: Fen
    /// By budget year, sorted.
    public var years: [YearShare]
    /// By tenant whose charges it paid, sorted.
    public var tenants: [TenantShare]
    /// By site the money went to, sorted.
    public var sites: [SiteShare]
    /// Budget opened in the period (postings of budget openings to the programme's budget accounts).
    public var budgetOpeningsFen: Fen
    /// Net of the other non-charge postings to the programme's budget accounts: a reversed
    /// voucher-funded charge gives its draw back (positive), an adjustment moves budget by hand.
    public var budgetAdjustmentsFen: Fen

    public struct YearShare: Sendable, Hashable, Codable {
        public var year: Int
        public var voucherFen: Fen
        public init(year: Int, voucherFen: Fen) {
            self.year = year
            self.voucherFen = voucherFen
        }
        enum CodingKeys: String, CodingKey {
            case year
            case voucherFen = "voucher_fen"
        }
    }

    public struct TenantShare: Sendable, Hashable, Codable {
        public var tenant: TenantID
        public var voucherFen: Fen
        public init(tenant: TenantID, voucherFen: Fen) {
            self.tenant = tenant
            self.voucherFen = voucherFen
        }
        enum CodingKeys: String, CodingKey {
            case tenant
            case voucherFen = "voucher_fen"
        }
    }

    public struct SiteShare: Sendable, Hashable, Codable {
        public var site: SiteID
        public var voucherFen: Fen
        public init(site: SiteID, voucherFen: Fen) {
            self.site = site
            self.voucherFen = voucherFen
        }
        enum CodingKeys: String, CodingKey {
            case site
            case voucherFen = "voucher_fen"
        }
    }

    enum CodingKeys: String, CodingKey {
        case period, program, charges
        case voucherFen = "voucher_fen"
        case years, tenants, sites
        case budgetOpeningsFen = "budget_openings_fen"
        case budgetAdjustmentsFen = "budget_adjustments_fen"
    }
}

/// The period's charges in five figures; each is the sum over every charge posted in it.
public struct SettlementTotals: Sendable, Hashable, Codable {
    public var charges: Int
    public var grossFen: Fen
    public var voucherFen: Fen
    public var feeFen: Fen
    /// What tenants' wallets paid: gross − voucher.
    public var payableFen: Fen
    /// What sites are owed: gross − fee.
    public var owedFen: Fen

    public init(charges: Int, grossFen: Fen, voucherFen: Fen, feeFen: Fen, payableFen: Fen, owedFen: Fen) {
        self.charges = charges
        self.grossFen = grossFen
        self.voucherFen = voucherFen
        self.feeFen = feeFen
        self.payableFen = payableFen
        self.owedFen = owedFen
    }

    enum CodingKeys: String, CodingKey {
        case charges
        case grossFen = "gross_fen"
        case voucherFen = "voucher_fen"
        case feeFen = "fee_fen"
        case payableFen = "payable_fen"
        case owedFen = "owed_fen"
    }
}

/// What one peer coordinator and this one moved between them in a period: the site shares of
/// charges its sites ran for this coordinator's tenants (this coordinator owes them), less those
/// this coordinator's sites ran for its tenants. The peer's report for the same period shows
/// the same transfers with the opposite sign, to the fen.
public struct PeerStatement: Sendable, Hashable, Codable {
    public var period: BillingPeriod
    public var peer: CoordinatorID
    /// Inter-region transactions with the peer in the period.
    public var transfers: Int
    /// Net of the postings to `peer:<peer>`: positive, this coordinator owes the peer.
    public var netFen: Fen

    public init(period: BillingPeriod, peer: CoordinatorID, transfers: Int, netFen: Fen) {
        self.period = period
        self.peer = peer
        self.transfers = transfers
        self.netFen = netFen
    }

    enum CodingKeys: String, CodingKey {
        case period, peer, transfers
        case netFen = "net_fen"
    }
}

/// Everything closing one period produces.
public struct SettlementReport: Sendable, Hashable, Codable {
    public var period: BillingPeriod
    /// Sorted by site.
    public var statements: [SiteStatement]
    /// Sorted by tenant.
    public var invoices: [TenantInvoice]
    /// Sorted by programme.
    public var disbursements: [ProgramDisbursement]
    /// Sorted by peer coordinator; empty outside a mesh.
    public var peers: [PeerStatement]
    public var reconciliation: Reconciliation
    public var totals: SettlementTotals

    public init(
        period: BillingPeriod, statements: [SiteStatement], invoices: [TenantInvoice],
        disbursements: [ProgramDisbursement], peers: [PeerStatement] = [], reconciliation: Reconciliation,
        totals: SettlementTotals
    ) {
        self.period = period
        self.statements = statements
        self.invoices = invoices
        self.disbursements = disbursements
        self.peers = peers
        self.reconciliation = reconciliation
        self.totals = totals
    }

    enum CodingKeys: String, CodingKey {
        case period, statements, invoices, disbursements, peers, reconciliation, totals
    }

    /// Reports of periods closed before coordinators formed a mesh have no `peers`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        period = try container.decode(BillingPeriod.self, forKey: .period)
        statements = try container.decode([SiteStatement].self, forKey: .statements)
        invoices = try container.decode([TenantInvoice].self, forKey: .invoices)
        disbursements = try container.decode([ProgramDisbursement].self, forKey: .disbursements)
        peers = try container.decodeIfPresent([PeerStatement].self, forKey: .peers) ?? []
        reconciliation = try container.decode(Reconciliation.self, forKey: .reconciliation)
        totals = try container.decode(SettlementTotals.self, forKey: .totals)
    }
}
