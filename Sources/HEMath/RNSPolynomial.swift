import Dispatch

/// The representation a polynomial is held in; a phantom type, so that mixing forms is a
/// compile-time error rather than a silent wrong answer.
public protocol PolynomialForm: Sendable {}
/// Coefficient form: limb i holds the coefficients a_j mod q_i.
public enum Coefficient: PolynomialForm {}
/// Evaluation (NTT) form: limb i holds the NTT of the coefficients mod q_i, in bit-reversed order.
public enum Evaluation: PolynomialForm {}

/// A polynomial of Z_Q[X]/(X^N + 1) in RNS form: k limbs of N residues in one contiguous buffer
/// (limb-major: residue j of limb i at index i·N + j), every residue reduced mod its prime.
///
/// Value semantics through the array's copy-on-write; the in-place operations (`add(_:)`, …)
/// write into existing storage and allocate nothing.
public struct RNSPolynomial<Form: PolynomialForm>: @unchecked Sendable {
    /// The basis the residues are taken over.
    @inlinable public var basis: RNSBasis { storedBasis }
    @usableFromInline var storedBasis: RNSBasis
    /// limbs × N residues, limb-major.
    @usableFromInline var storage: [UInt64]

    /// The zero polynomial over `basis`.
    public init(zeroIn basis: RNSBasis) {
        self.storedBasis = basis
        self.storage = [UInt64](repeating: 0, count: basis.count * basis.degree)
    }

    /// A polynomial whose residues `initializer` writes, every one of the k·N of them (no zero fill
    /// first). For kernels that overwrite their whole output; the residues must end up reduced.
    @inlinable
    public init(basis: RNSBasis, initializingWith initializer: (UnsafeMutableBufferPointer<UInt64>) -> Void) {
        self.storedBasis = basis
        let count = basis.count * basis.degree
        self.storage = [UInt64](unsafeUninitializedCapacity: count) { buffer, initialized in
            initializer(buffer)
            initialized = count
        }
    }

    /// A polynomial from limb-major residues; throws unless there are k·N reduced residues.
    public init(basis: RNSBasis, residues: [UInt64]) throws {
        guard residues.count == basis.count * basis.degree else {
            throw HEMathError.mismatch("\(residues.count) residues for \(basis.count) limbs of degree \(basis.degree)")
        }
        for i in 0..<basis.count {
            let q = basis.moduli[i].value
            for j in 0..<basis.degree where residues[i * basis.degree + j] >= q {
                throw HEMathError.outOfRange("residue \(j) of limb \(i) is not reduced modulo \(q)")
            }
        }
        self.storedBasis = basis
        self.storage = residues
    }

    @inlinable init(basis: RNSBasis, storage: [UInt64]) {
        self.storedBasis = basis
        self.storage = storage
    }

    /// The ring degree N.
    @inlinable public var degree: Int { basis.degree }
    /// The number of limbs k.
    @inlinable public var limbCount: Int { basis.count }
    /// All residues, limb-major.
    public var residues: [UInt64] { storage }

    /// The N residues of limb i.
    public func limb(_ i: Int) -> ArraySlice<UInt64> {
        storage[(i * degree)..<((i + 1) * degree)]
    }

    /// Read access to the limb-major residues.
    @inlinable
    public func withUnsafeLimbs<R>(_ body: (UnsafeBufferPointer<UInt64>) throws -> R) rethrows -> R {
        try storage.withUnsafeBufferPointer(body)
    }

    /// Write access to the limb-major residues; the caller keeps every residue reduced.
    @inlinable
    public mutating func withUnsafeMutableLimbs<R>(_ body: (UnsafeMutableBufferPointer<UInt64>) throws -> R) rethrows -> R {
        try storage.withUnsafeMutableBufferPointer { try body($0) }
    }

    /// Throws unless `other` is over the same basis.
    @inlinable
    func requireSameBasis<F>(_ other: RNSPolynomial<F>) throws {
        guard basis.isSame(as: other.basis) else {
            throw HEMathError.mismatch("polynomials over different RNS bases (\(basis.count) vs \(other.basis.count) primes)")
        }
    }

}

/// When limb-level parallelism starts to pay: below this many residues one thread is faster;
/// `ExecutionPolicy` says whether the calling thread may use more than one.
public enum RNSParallelism {
    /// Total residues (limbs × N) from which limbs are processed concurrently.
    public static let minimumResidues = 1 << 15

    /// Runs `body(i)` for i in 0..<count (one call per limb of N residues), concurrently when the
    /// work is large enough to pay for threads. `body` must only touch limb i's data.
    @inlinable
    public static func forEachLimb(count: Int, degree: Int, _ body: (Int) -> Void) {
        if count > 1 && count * degree >= minimumResidues && ExecutionPolicy.allowsConcurrentLimbs {
            DispatchQueue.concurrentPerform(iterations: count, execute: body)
        } else {
            for i in 0..<count { body(i) }
        }
    }
}

extension RNSPolynomial: Equatable {
    /// Equal when over the same basis with the same residues.
    public static func == (lhs: RNSPolynomial, rhs: RNSPolynomial) -> Bool {
        lhs.basis.isSame(as: rhs.basis) && lhs.storage == rhs.storage
    }
}
