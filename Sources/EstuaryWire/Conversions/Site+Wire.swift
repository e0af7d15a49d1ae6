import EstuaryModel

extension Estuary_V1_Site {
    /// The wire form of a site descriptor, as sent in `Hello`.
    public init(_ site: SiteDescriptor) {
        self.init()
        id = site.id.rawValue
        displayName = site.displayName
        region = site.region
        zones = site.zones
        driver = site.driver
        energy = .with {
            $0.greenShareBp = UInt32(clamping: site.energy.greenShareBP)
            $0.pueMilli = UInt32(clamping: site.energy.pueMilli)
            $0.gridGPerKwh = UInt32(clamping: site.energy.gridGramsPerKWh)
            $0.hourlyGPerKwh = site.energy.hourlyGramsPerKWh.map { UInt32(clamping: $0) }
        }
        if !site.priceBook.prices.isEmpty || !site.priceBook.periods.isEmpty {
            priceBook = Estuary_V1_PriceBook(site.priceBook)
        }
    }
}

extension Estuary_V1_PriceBook {
    public init(_ book: PriceBook) {
        self.init()
        prices = book.prices.sorted { $0.key < $1.key }.map { cls, price in
            .with {
                $0.acceleratorClass = cls.rawValue
                $0.flatFen = price.flat
                if let peak = price.peak { $0.peakFen = peak }
                if let valley = price.valley { $0.valleyFen = valley }
            }
        }
        periods = book.periods.map { period in
            .with {
                $0.kind = period.kind.rawValue
                $0.days = period.days.rawValue
                $0.startMinute = UInt32(clamping: period.startMinute)
                $0.endMinute = UInt32(clamping: period.endMinute)
            }
        }
        utcOffsetMinutes = Int32(clamping: book.utcOffsetMinutes)
    }
}

extension SiteDescriptor {
    /// The site an agent describes in its `Hello`.
    ///
    /// - Throws: `ValidationError` naming every problem: an ill-formed site id, energy figures
    ///   out of range, a malformed price book.
    public init(wire: Estuary_V1_Site) throws(ValidationError) {
        var problems: [FieldError] = []
        var energy = SiteEnergy.unstated
        if wire.hasEnergy {
            energy = SiteEnergy(
                greenShareBP: Int(wire.energy.greenShareBp), pueMilli: Int(wire.energy.pueMilli),
                gridGramsPerKWh: Int(wire.energy.gridGPerKwh), hourlyGramsPerKWh: wire.energy.hourlyGPerKwh.map { Int($0) })
            problems += energy.validate().map { FieldError(field: "site.energy", message: $0) }
        }
        var book = PriceBook()
        if wire.hasPriceBook {
            var prices: [AcceleratorClass: ClassPrice] = [:]
            for price in wire.priceBook.prices {
                let cls = AcceleratorClass(rawValue: price.acceleratorClass)
                if !cls.isWellFormedClassName || prices[cls] != nil {
                    problems.append(FieldError(field: "site.price_book.prices", message: "\"\(cls)\" is ill-formed or listed twice"))
                    continue
                }
                prices[cls] = ClassPrice(
                    flat: price.flatFen, peak: price.hasPeakFen ? price.peakFen : nil,
                    valley: price.hasValleyFen ? price.valleyFen : nil)
            }
            var periods: [TariffPeriod] = []
            for (index, period) in wire.priceBook.periods.enumerated() {
                guard let kind = TariffKind(rawValue: period.kind), let days = DayType(rawValue: period.days.isEmpty ? "all" : period.days)
                else {
                    problems.append(FieldError(field: "site.price_book.periods[\(index)]", message: "unknown kind or day type"))
                    continue
                }
                periods.append(
                    TariffPeriod(kind: kind, days: days, startMinute: Int(period.startMinute), endMinute: Int(period.endMinute)))
            }
            // A book with neither prices nor periods is no book: it reads as the default (the
            // encoder omits it), so that a descriptor survives the wire both ways unchanged.
            if !prices.isEmpty || !periods.isEmpty {
                book = PriceBook(prices: prices, periods: periods, utcOffsetMinutes: Int(wire.priceBook.utcOffsetMinutes))
            }
            problems += book.validate().map { FieldError(field: "site.price_book", message: $0) }
        }
        self.init(
            id: SiteID(rawValue: wire.id),
            displayName: wire.displayName,
            region: wire.region,
            zones: wire.zones,
            driver: wire.driver,
            energy: energy,
            priceBook: book
        )
        if !id.isWellFormed {
            problems.insert(FieldError(field: "site.id", message: "must be 1–128 characters of letters, digits, '.', '_' or '-'"), at: 0)
        }
        if !problems.isEmpty { throw ValidationError(problems) }
    }
}
