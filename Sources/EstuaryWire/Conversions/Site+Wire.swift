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
    }
}

extension SiteDescriptor {
    /// The site an agent describes in its `Hello`.
    ///
    /// - Throws: `ValidationError` when the site id is ill-formed.
    public init(wire: Estuary_V1_Site) throws(ValidationError) {
        self.init(
            id: SiteID(rawValue: wire.id),
            displayName: wire.displayName,
            region: wire.region,
            zones: wire.zones,
            driver: wire.driver
        )
        if !id.isWellFormed {
            throw ValidationError([FieldError(field: "site.id", message: "must be 1–128 characters of letters, digits, '.', '_' or '-'")])
        }
    }
}
