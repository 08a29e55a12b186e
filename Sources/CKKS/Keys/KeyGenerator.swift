import HEMath

/// Makes keys: the ternary secret from the system CSPRNG (through a ChaCha20 stream seeded with
/// 32 bytes of it), the public key, and key-switching keys for relinearization and rotations.
public struct KeyGenerator {
    public let context: CKKSContext

    /// Domain separation of the seeded uniform polynomials: public key, then one per key-switching key.
    static let publicKeyDomain: UInt64 = 0x504B_0000_0000_0000

    public init(context: CKKSContext) {
        self.context = context
    }

    /// A fresh secret key: s uniform ternary.
    public func secretKey() -> SecretKey {
        var stream = Sampler.freshStream()
        let s = Sampler.ternary(basis: context.keyBasis, using: &stream)
        return SecretKey(context: context, polynomial: s.forwardNTT())
    }

    /// The public key (−a·s + e, a) over q_0 … q_L.
    public func publicKey(for secretKey: SecretKey) throws -> PublicKey {
        try requireSameContext(secretKey)
        let basis = try context.basis(atLevel: context.maxLevel)
        var stream = Sampler.freshStream()
        let a = Sampler.uniform(basis: basis, seed: Seed.random(), domain: Self.publicKeyDomain)
        let e = Sampler.gaussian(basis: basis, standardDeviation: context.parameters.errorStandardDeviation, using: &stream).forwardNTT()
        var product = try secretKey.withSecret(limbs: Array(0..<basis.count), basis: basis) { s in try RNSPolynomial.product(a, s) }
        defer { product.wipe() }
        var b = e
        try b.subtract(product)
        return PublicKey(context: context, b: b, a: a)
    }

    /// The relinearization key: switches s² to s.
    public func relinearizationKey(for secretKey: SecretKey) throws -> KeySwitchKey {
        try requireSameContext(secretKey)
        var squared = try secretKey.withSecret { s in try s * s }
        defer { squared.wipe() }
        return try keySwitchKey(from: squared, to: secretKey)
    }

    /// The Galois key of element g: switches σ_g(s) to s.
    public func galoisKey(element g: UInt64, for secretKey: SecretKey) throws -> KeySwitchKey {
        try requireSameContext(secretKey)
        guard g & 1 == 1, g < UInt64(2 * context.degree) else {
            throw CKKSError.outOfRange("Galois element \(g) must be odd and below 2N")
        }
        let perm = context.galoisPermutation(g)
        var rotated = secretKey.withSecret { s in s.permuted(by: perm) }
        defer { rotated.wipe() }
        return try keySwitchKey(from: rotated, to: secretKey)
    }

    /// Evaluation keys with relinearization and exactly the requested rotation steps (and
    /// conjugation). Steps are slot counts (negative rotates right); duplicates are merged.
    public func evaluationKeys(for secretKey: SecretKey, rotations: [Int] = [], conjugation: Bool = false,
                               relinearization: Bool = true) throws -> EvaluationKeys {
        var galois: [UInt64: KeySwitchKey] = [:]
        for g in galoisElements(rotations: rotations, conjugation: conjugation) {
            galois[g] = try galoisKey(element: g, for: secretKey)
        }
        return EvaluationKeys(context: context,
                              relinearization: relinearization ? try relinearizationKey(for: secretKey) : nil,
                              galois: galois)
    }

    /// The Galois elements of rotations by `rotations` slots (and conjugation), ascending and
    /// unique; a rotation by 0 (element 1) needs no key.
    public func galoisElements(rotations: [Int], conjugation: Bool = false) -> [UInt64] {
        var elements = Set(rotations.map { context.galoisElement(forStep: $0) }.filter { $0 != 1 })
        if conjugation { elements.insert(context.conjugationElement) }
        return elements.sorted()
    }

    /// The hybrid key-switching key from s′ (NTT form over the key basis) to s.
    func keySwitchKey(from target: RNSPolynomial<Evaluation>, to secretKey: SecretKey) throws -> KeySwitchKey {
        let basis = context.keyBasis
        let plan = context.keySwitchPlans[context.maxLevel]
        let n = context.degree
        var stream = Sampler.freshStream()
        let seed = Seed.random()
        var bs: [UInt64] = []
        var as_: [UInt64] = []
        for (d, digit) in plan.digits.enumerated() {
            let a = Sampler.uniform(basis: basis, seed: seed, domain: UInt64(d))
            var b = Sampler.gaussian(basis: basis, standardDeviation: context.parameters.errorStandardDeviation,
                                     using: &stream).forwardNTT()
            var product = try secretKey.withSecret { s in try RNSPolynomial.product(a, s) }
            try b.subtract(product)
            product.wipe()
            // Add [P]_(q_i)·s′ on the digit's primes (the gadget factor is 0 mod every other prime).
            target.withUnsafeLimbs { t in
                b.withUnsafeMutableLimbs { out in
                    for i in digit {
                        let m = basis.moduli[i]
                        let pModQ = context.specialBasis.product.remainder(modulo: m.value)
                        let shoup = m.shoupConstant(pModQ)
                        for j in (i * n)..<((i + 1) * n) {
                            out[j] = m.add(out[j], m.multiplyShoup(t[j], by: pModQ, shoup: shoup))
                        }
                    }
                }
            }
            bs.append(contentsOf: b.residues)
            as_.append(contentsOf: a.residues)
        }
        return KeySwitchKey(context: context, digitCount: plan.digits.count, b: bs, a: as_, seed: seed)
    }

    private func requireSameContext(_ key: SecretKey) throws {
        guard key.context.isCompatible(with: context) else {
            throw CKKSError.parameterMismatch("the secret key belongs to another parameter set")
        }
    }
}
