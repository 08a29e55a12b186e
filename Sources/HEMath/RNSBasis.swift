/// A residue number system: a chain of distinct NTT-friendly primes q_0 … q_(k−1) for one ring
/// degree N, their NTT tables, and every CRT constant derived from the chain.
///
/// An integer x modulo Q = ∏ q_i is held as its residues (x mod q_0, …, x mod q_(k−1)); the
/// constants here convert between that form and big integers (`RNSBasis+CRT.swift`). The basis
/// is immutable and shared by every polynomial over it.
public final class RNSBasis: @unchecked Sendable {
    /// The ring degree N.
    public let degree: Int
    /// The primes of the chain, in order.
    public let moduli: [Modulus]
    /// NTT tables, one per prime.
    public let ntt: [NTTTables]
    /// Q = ∏ q_i.
    public let product: BigInteger
    /// ⌊Q/2⌋, the bound of the centred representatives (−Q/2, Q/2].
    public let halfProduct: BigInteger
    /// Q / q_i, the punctured products.
    public let puncturedProducts: [BigInteger]
    /// (Q / q_i)^−1 mod q_i and its Shoup constant.
    public let puncturedInverses: [UInt64]
    public let puncturedInversesShoup: [UInt64]

    /// Number of primes k.
    @inlinable public var count: Int { moduli.count }

    /// Builds a basis for degree N over distinct primes q_i ≡ 1 (mod 2N), q_i < 2^62.
    /// - Throws: `invalidDegree`, `invalidModulus` (not prime, not NTT-friendly), `mismatch` (repeats).
    public convenience init(degree: Int, primes: [UInt64]) throws {
        guard !primes.isEmpty else { throw HEMathError.mismatch("an RNS basis needs at least one prime") }
        guard Set(primes).count == primes.count else {
            throw HEMathError.mismatch("the primes of an RNS basis must be distinct: \(primes)")
        }
        let tables = try primes.map { try NTTTables(degree: degree, modulus: Modulus($0)) }
        try self.init(tables: tables)
    }

    /// Builds a basis over existing NTT tables (shared, not copied), e.g. a prefix of a larger chain.
    public init(tables: [NTTTables]) throws {
        guard let first = tables.first else { throw HEMathError.mismatch("an RNS basis needs at least one prime") }
        guard tables.allSatisfy({ $0.degree == first.degree }) else {
            throw HEMathError.mismatch("all NTT tables of a basis must have the same degree")
        }
        let moduli = tables.map(\.modulus)
        guard Set(moduli.map(\.value)).count == moduli.count else {
            throw HEMathError.mismatch("the primes of an RNS basis must be distinct: \(moduli)")
        }
        self.degree = first.degree
        self.ntt = tables
        self.moduli = moduli
        let product = moduli.reduce(BigInteger(1)) { $0 * BigInteger($1.value) }
        self.product = product
        self.halfProduct = product >> 1
        var punctured: [BigInteger] = []
        var inverses: [UInt64] = []
        for m in moduli {
            let p = try product / BigInteger(m.value)
            punctured.append(p)
            inverses.append(try m.inverse(p.remainder(modulo: m.value)))
        }
        self.puncturedProducts = punctured
        self.puncturedInverses = inverses
        self.puncturedInversesShoup = zip(moduli, inverses).map { $0.shoupConstant($1) }
    }

    /// The basis of the first `count` primes, sharing these NTT tables.
    public func prefix(_ count: Int) throws -> RNSBasis {
        guard (1...self.count).contains(count) else {
            throw HEMathError.outOfRange("prefix of \(count) primes of a \(self.count)-prime basis")
        }
        return count == self.count ? self : try RNSBasis(tables: Array(ntt.prefix(count)))
    }

    /// True when both bases hold the same primes in the same order for the same degree.
    public func isSame(as other: RNSBasis) -> Bool {
        self === other || (degree == other.degree && moduli == other.moduli)
    }

    /// log2(Q), for security and precision accounting.
    public var log2Product: Double { moduli.reduce(0) { $0 + $1.log2 } }
}
