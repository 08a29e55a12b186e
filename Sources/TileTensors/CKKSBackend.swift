import CKKS

/// The tensor backend over the CKKS evaluator. Holds the encoder and evaluator (with the
/// evaluation keys: relinearization and the Galois keys of the rotation steps the kernels use;
/// `MockBackend.rotationSteps` lists them), an encryptor, and — on the client or in tests only —
/// a decryptor.
public final class CKKSBackend: TensorBackend {
    public typealias Ciphertext = CKKS.Ciphertext
    public typealias Plaintext = CKKS.Plaintext

    public let context: CKKSContext
    public let encoder: Encoder
    public let evaluator: Evaluator
    private let encryptor: Encryptor?
    private let decryptor: Decryptor?

    /// See `TensorBackend.complexPacking` (the plan's; its keys then hold the conjugation).
    public let complexPacking: Bool

    public init(context: CKKSContext, keys: EvaluationKeys?, encryptor: Encryptor?, decryptor: Decryptor? = nil,
                complexPacking: Bool = false) {
        self.context = context
        self.complexPacking = complexPacking
        encoder = Encoder(context: context)
        evaluator = Evaluator(context: context, keys: keys)
        self.encryptor = encryptor
        self.decryptor = decryptor
    }

    public var slotCount: Int { context.slotCount }
    public var degree: Int { context.degree }
    public var maxLevel: Int { context.maxLevel }
    /// The encoder and evaluator are thread-safe (immutable tables, a locked scratch pool).
    public var runsConcurrentProducts: Bool { true }
    /// See `TensorBackend.plaintextCacheBytes` (set before a run, not during one).
    public var plaintextCacheBytes = TensorBackendDefaults.plaintextCacheBytes
    public var defaultScale: Double { context.parameters.scale }
    public func rescalePrime(atLevel level: Int) -> Double { Double(context.parameters.ciphertextPrimes[level]) }

    public func encode(_ values: [Double], scale: Double, level: Int) throws -> Plaintext {
        try encoder.encode(values, scale: scale, level: level)
    }

    public func encode(real: [Double], imaginary: [Double], scale: Double, level: Int) throws -> Plaintext {
        try encoder.encode(real: real, imaginary: imaginary, scale: scale, level: level)
    }

    public func encrypt(_ plaintext: Plaintext) throws -> Ciphertext {
        guard let encryptor else { throw CKKSError.invalidParameters("this backend has no encryptor (server side): encrypt on the client") }
        return try encryptor.encrypt(plaintext)
    }

    public func decryptAndDecode(_ ciphertext: Ciphertext) throws -> [Double] {
        guard let decryptor else { throw CKKSError.invalidParameters("this backend has no secret key: decrypt on the client") }
        return try encoder.decode(decryptor.decrypt(ciphertext))
    }

    public func decryptAndDecodeParts(_ ciphertext: Ciphertext) throws -> (real: [Double], imaginary: [Double]) {
        guard let decryptor else { throw CKKSError.invalidParameters("this backend has no secret key: decrypt on the client") }
        return try encoder.decodeComplex(decryptor.decrypt(ciphertext))
    }

    public func level(of ciphertext: Ciphertext) -> Int { ciphertext.level }
    public func scale(of ciphertext: Ciphertext) -> Double { ciphertext.scale }
    public func componentCount(of ciphertext: Ciphertext) -> Int { ciphertext.componentCount }

    public func add(_ a: Ciphertext, _ b: Ciphertext) throws -> Ciphertext { try evaluator.add(a, b) }
    public func subtract(_ a: Ciphertext, _ b: Ciphertext) throws -> Ciphertext { try evaluator.subtract(a, b) }
    public func addInPlace(_ a: inout Ciphertext, _ b: Ciphertext) throws {
        if a.level == b.level { try evaluator.addInPlace(&a, b) } else { a = try evaluator.add(a, b) }
    }
    /// Under complex packing the values in both parts (v·(1 + i)), encoded once; then each
    /// addition is a plain one. Adding a real plaintext to both parts instead costs a Barrett
    /// product per residue in every addition (`Evaluator.addToBothParts`): the MNIST model's
    /// +γ step at full batch re-made 16 plaintexts' products for 196 tiles each and ran at
    /// twice its estimate (an addition).
    public func encodeAddend(_ values: [Double], scale: Double, level: Int) throws -> Plaintext {
        complexPacking ? try encoder.encode(real: values, imaginary: values, scale: scale, level: level)
            : try encoder.encode(values, scale: scale, level: level)
    }
    public func add(_ a: Ciphertext, addend p: Plaintext) throws -> Ciphertext { try evaluator.add(a, p) }
    public func add(_ a: Ciphertext, constant c: Double) throws -> Ciphertext {
        complexPacking ? try evaluator.addToBothParts(a, constant: c) : try evaluator.add(a, constant: c)
    }
    public func multiply(_ a: Ciphertext, _ p: Plaintext) throws -> Ciphertext { try evaluator.multiply(a, p) }
    /// Fused when the accumulator is at a's level (the sums of one layer); otherwise unfused.
    public func addProduct(_ acc: inout Ciphertext?, _ a: Ciphertext, _ p: Plaintext) throws {
        guard var sum = acc, sum.level == a.level, sum.componentCount == a.componentCount else {
            try accumulate(&acc, multiply(a, p))
            return
        }
        acc = nil
        try evaluator.addProductInPlace(&sum, a, p)
        acc = sum
    }
    public func multiply(_ a: Ciphertext, constant c: Double, scale: Double) throws -> Ciphertext {
        try evaluator.multiply(a, constant: c, constantScale: scale)
    }
    /// Lazily summed (`Evaluator.sumOfProducts`).
    public func sumOfProducts(_ terms: [(Ciphertext, TermWeight<Plaintext>)]) throws -> Ciphertext {
        try evaluator.sumOfProducts(terms.map { a, w in
            switch w {
            case .plaintext(let p): return (a, .plaintext(p))
            case .scalar(let c, let scale): return (a, .constant(c, scale: scale))
            }
        })
    }
    /// Lazily summed together (`Evaluator.sumsOfProducts`).
    public func sumsOfProducts(inputs: [Ciphertext], sums: [[(Int, TermWeight<Plaintext>)]]) throws -> [Ciphertext] {
        try evaluator.sumsOfProducts(inputs: inputs, sums: sums.map { terms in
            terms.map { s, w -> (input: Int, weight: ProductWeight) in
                switch w {
                case .plaintext(let p): return (input: s, weight: .plaintext(p))
                case .scalar(let c, let scale): return (input: s, weight: .constant(c, scale: scale))
                }
            }
        })
    }
    /// Fused when the accumulator is at a's level; otherwise unfused.
    public func addScalarProduct(_ acc: inout Ciphertext?, _ a: Ciphertext, _ c: Double, scale: Double) throws {
        guard var sum = acc, sum.level == a.level, sum.componentCount == a.componentCount else {
            try accumulate(&acc, multiply(a, constant: c, scale: scale))
            return
        }
        acc = nil
        try evaluator.addConstantProductInPlace(&sum, a, constant: c, constantScale: scale)
        acc = sum
    }
    public func multiplyWithoutRelinearization(_ a: Ciphertext, _ b: Ciphertext) throws -> Ciphertext {
        complexPacking ? try evaluator.multiplyPartsWithoutRelinearization(a, b) : try evaluator.multiplyWithoutRelinearization(a, b)
    }
    public func squareWithoutRelinearization(_ a: Ciphertext) throws -> Ciphertext {
        complexPacking ? try evaluator.squarePartsWithoutRelinearization(a) : try evaluator.squareWithoutRelinearization(a)
    }
    public func relinearize(_ a: Ciphertext) throws -> Ciphertext { try evaluator.relinearize(a) }
    public func rescale(_ a: Ciphertext) throws -> Ciphertext { try evaluator.rescale(a) }
    public func relinearizeAndRescale(_ a: consuming Ciphertext) throws -> Ciphertext {
        var x = a
        try evaluator.relinearizeAndRescaleInPlace(&x)
        return x
    }
    public func dropLevel(_ a: Ciphertext, to level: Int) throws -> Ciphertext {
        var x = a
        try evaluator.dropLevelInPlace(&x, to: level)
        return x
    }
    public func rotate(_ a: Ciphertext, by step: Int) throws -> Ciphertext {
        let k = normalizedStep(step)
        return k == 0 ? a : try evaluator.rotate(a, by: k)
    }
    public func rotations(of a: Ciphertext, by steps: [Int]) throws -> [Int: Ciphertext] {
        try rotations(ofEach: [a], by: [steps])[0]
    }
    /// Every source's steps on the threads in force (`Evaluator.rotations(ofEach:by:)`).
    public func rotations(ofEach sources: [Ciphertext], by steps: [[Int]]) throws -> [[Int: Ciphertext]] {
        let normalized = steps.map { Array(Set($0.map(normalizedStep))) }
        let rotated = try evaluator.rotations(ofEach: sources, by: normalized)
        return zip(steps, rotated).map { steps, made in
            var result: [Int: Ciphertext] = [:]
            for step in Set(steps) { result[step] = made[normalizedStep(step)] }
            return result
        }
    }
}
