/// Precomputed tables for the negacyclic NTT of degree N modulo one prime q ≡ 1 (mod 2N).
///
/// The forward transform evaluates a(X) ∈ Z_q[X]/(X^N + 1) at the odd powers ψ^(2·br(i)+1)
/// of the minimal primitive 2N-th root ψ (br = bit reversal of log N bits), so its output
/// is in bit-reversed order and pointwise products in that domain are negacyclic products.
/// Twiddles are stored in bit-reversed order with their Shoup constants, so neither
/// transform needs an explicit bit-reversal pass.
///
/// Storage is owned manually (freed in `deinit`) so that the kernels index raw pointers with
/// no bounds checks and no reference counting; the tables are immutable after `init`.
public final class NTTTables: @unchecked Sendable {
    /// The ring degree N (a power of two).
    public let degree: Int
    /// log2(N).
    public let logDegree: Int
    /// The prime q.
    public let modulus: Modulus
    /// ψ, the minimal primitive 2N-th root of unity modulo q.
    public let root: UInt64

    /// ψ^br(i) for i in [0, N), and their Shoup constants. Entry 0 (ψ^0) is unused.
    @usableFromInline let rootPowers: UnsafeMutablePointer<UInt64>
    @usableFromInline let rootPowersShoup: UnsafeMutablePointer<UInt64>
    /// ψ^−br(i) for i in [0, N), and their Shoup constants; the inverse transform uses them.
    @usableFromInline let inverseRootPowers: UnsafeMutablePointer<UInt64>
    @usableFromInline let inverseRootPowersShoup: UnsafeMutablePointer<UInt64>
    /// N^−1 mod q, and N^−1·ψ^−br(1) mod q (the last inverse stage folds N^−1 in), with Shoup constants.
    @usableFromInline let inverseDegree: UInt64
    @usableFromInline let inverseDegreeShoup: UInt64
    @usableFromInline let inverseDegreeRoot: UInt64
    @usableFromInline let inverseDegreeRootShoup: UInt64

    /// The smallest and largest supported ring degree.
    public static let degreeRange = 2...(1 << 17)

    /// Throws unless N is a power of two in `degreeRange`.
    public static func validateDegree(_ degree: Int) throws {
        guard degreeRange.contains(degree), degree & (degree - 1) == 0 else {
            throw HEMathError.invalidDegree(degree: degree, reason: "must be a power of two in 2…2^17")
        }
    }

    /// Builds the tables for degree N and a prime q ≡ 1 (mod 2N), with ψ the minimal root.
    public init(degree: Int, modulus: Modulus) throws {
        try NTTTables.validateDegree(degree)
        let psi = try PrimeSearch.minimalPrimitiveRoot(degree: degree, modulus: modulus)
        self.degree = degree
        self.logDegree = degree.trailingZeroBitCount
        self.modulus = modulus
        self.root = psi

        let psiInverse = try modulus.inverse(psi)
        rootPowers = .allocate(capacity: degree)
        rootPowersShoup = .allocate(capacity: degree)
        inverseRootPowers = .allocate(capacity: degree)
        inverseRootPowersShoup = .allocate(capacity: degree)
        var power: UInt64 = 1
        var inversePower: UInt64 = 1
        for i in 0..<degree {
            let slot = NTTTables.bitReverse(i, bits: logDegree)
            rootPowers[slot] = power
            rootPowersShoup[slot] = modulus.shoupConstant(power)
            inverseRootPowers[slot] = inversePower
            inverseRootPowersShoup[slot] = modulus.shoupConstant(inversePower)
            power = modulus.multiply(power, psi)
            inversePower = modulus.multiply(inversePower, psiInverse)
        }
        let nInverse = try modulus.inverse(UInt64(degree))
        inverseDegree = nInverse
        inverseDegreeShoup = modulus.shoupConstant(nInverse)
        let folded = modulus.multiply(nInverse, inverseRootPowers[1])
        inverseDegreeRoot = folded
        inverseDegreeRootShoup = modulus.shoupConstant(folded)
    }

    deinit {
        rootPowers.deallocate()
        rootPowersShoup.deallocate()
        inverseRootPowers.deallocate()
        inverseRootPowersShoup.deallocate()
    }

    /// i with its lowest `bits` bits reversed.
    @inlinable
    public static func bitReverse(_ i: Int, bits: Int) -> Int {
        bits == 0 ? 0 : Int(UInt(i).bitReversed >> (UInt.bitWidth - bits))
    }

    /// ψ^br(i): the twiddle at bit-reversed index i (for tests and automorphism tables).
    public func rootPower(atBitReversedIndex i: Int) -> UInt64 {
        precondition((0..<degree).contains(i))
        return rootPowers[i]
    }
}

extension UInt {
    /// The bits of self in reverse order.
    @inlinable var bitReversed: UInt {
        var v = self
        var r: UInt = 0
        for _ in 0..<UInt.bitWidth {
            r = (r << 1) | (v & 1)
            v >>= 1
        }
        return r
    }
}
