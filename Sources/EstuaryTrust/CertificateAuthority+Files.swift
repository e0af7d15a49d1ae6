extension CertificateAuthority {
    public static let certificateFileName = "ca.pem"
    public static let keyFileName = "ca.key"

    /// Reads `<directory>/ca.pem` and `<directory>/ca.key` (which must be 0600). Nil when
    /// neither exists; throws when only one does, or when they are not a CA and its key.
    public static func load(directory: String) throws -> CertificateAuthority? {
        let certificatePath = path(directory, certificateFileName)
        let keyPath = path(directory, keyFileName)
        switch (AtomicFile.exists(certificatePath), AtomicFile.exists(keyPath)) {
        case (false, false):
            return nil
        case (true, false):
            throw TrustError(.incompleteCA, "the CA certificate exists but its key \(keyPath) does not", path: certificatePath)
        case (false, true):
            throw TrustError(.incompleteCA, "the CA key exists but its certificate \(certificatePath) does not", path: keyPath)
        case (true, true):
            let certificatePEM = try AtomicFile.read(certificatePath)
            let keyPEM = try SecretFile.read(keyPath)
            do {
                return try CertificateAuthority(certificatePEM: certificatePEM, privateKeyPEM: keyPEM)
            } catch let error as TrustError {
                throw TrustError(error.kind, error.message, path: directory)
            }
        }
    }

    /// Writes `ca.pem` (0644) and `ca.key` (0600), each atomically (temp file, fsync, rename),
    /// creating `directory` with mode 0700 if it does not exist. The key is written first, so a
    /// crash between the two leaves "key without certificate", which `load` reports.
    public func save(directory: String) throws {
        try AtomicFile.makeDirectory(directory, mode: 0o700)
        try SecretFile.write(try privateKeyPEM, to: Self.path(directory, Self.keyFileName))
        try AtomicFile.write(Array(certificatePEM.utf8), to: Self.path(directory, Self.certificateFileName), mode: 0o644)
    }

    static func path(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}
