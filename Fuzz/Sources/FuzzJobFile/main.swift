// Fuzzes the TOML readers of EstuaryConfig: the job-file parser that `estuaryctl job submit`
// runs on user files (`JobFile.parse`, which validates), the agent's site-profile parser
// (`SiteProfile.parse`), and the money files an admin hands estuaryctl (`PriceFile.parse`,
// `VoucherProgram.parse`). All run on every input; they share the TOML layer (TOMLKit/toml++).
//
// Input: the file's bytes. Invalid UTF-8 is replaced the way a file read as UTF-8 would be.
//
// scripts/fuzz.sh compiles toml++'s own assertions out of this build (they abort on some
// malformed inputs, a known issue listed in Fuzz/README.md); `--toml-asserts` keeps them.

import EstuaryConfig
import EstuaryLedger
import EstuaryModel
import EstuaryWire
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJobFile(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)

    do {
        let spec = try JobFile.parse(text)
        exerciseAcceptedSpec(spec)
    } catch {
        switch error {
        case .invalid(let problems):
            fuzzCheck(!problems.isEmpty, "JobFile.parse threw .invalid with no problems")
        case .syntax(let line, let column, _):
            fuzzCheck(line >= 0 && column >= 0, "syntax error at \(line):\(column)")
        }
        _ = error.description
    }

    do {
        let profile = try SiteProfile.parse(text)
        fuzzCheck(profile.site.id.isWellFormed, "profile accepted site id \(profile.site.id.rawValue.debugDescription)")
        fuzzCheck(!profile.pools.isEmpty, "profile accepted with no pools")
        for pool in profile.pools {
            fuzzCheck(pool.count >= 1 && pool.acceleratorClass.isWellFormedClassName, "profile accepted pool \(pool)")
        }
        _ = profile.coordinator.address.description
        _ = CoordinatorAddress.parse(profile.coordinator.address.description)
        _ = profile.agent.resolvedDataDirectory(root: nil, currentDirectory: "/")
        // The Hello a site built from this profile would send must be accepted by the coordinator.
        let wireSite = Estuary_V1_Site(profile.site)
        fuzzCheck((try? SiteDescriptor(wire: wireSite)) == profile.site, "the profile's site is refused on the wire")
    } catch {
        _ = error.description
    }

    do {
        let prices = try PriceFile.parse(text)
        fuzzCheck(prices.book.validate().isEmpty, "price file accepted an invalid book: \(prices.book.validate())")
        for price in prices.services.values {
            fuzzCheck(price.priceFen >= 0 && price.perUnits >= 1, "price file accepted service price \(price)")
        }
    } catch {
        _ = error.description
    }

    do {
        let program = try VoucherProgram.parse(text)
        fuzzCheck(program.problems.isEmpty, "voucher programme accepted with problems: \(program.problems)")
    } catch {
        _ = error.description
    }
    return 0
}
