import Foundation
import CKKS

/// A backend that computes in plaintext `Double` slots, with any slot count, while counting every
/// operation (`counts`) and tracking level, scale and component count exactly as the CKKS
/// evaluator does (scale divided by the actual prime q_level on rescale; the same level and scale
/// errors). Layouts are tested and priced with it in milliseconds, without encryption.
public final class MockBackend: TensorBackend {
    /// A mock ciphertext: the message slots and the bookkeeping CKKS would carry. Under complex
    /// packing the values are the real parts of the slots followed by the imaginary parts
    /// (2 · slotCount), each operation acting on both as CKKS does.
    public struct Ciphertext {
        public var values: [Double]
        public var level: Int
        public var scale: Double
        public var componentCount: Int
        /// Its bytes in the memory tracker (nil when the mock tracks no memory).
        var live: LiveBytes? = nil
    }

    /// A mock plaintext: real slot values (the real and imaginary parts, one after the other,
    /// when encoded by `encode(real:imaginary:…)`).
    public struct Plaintext {
        public var values: [Double]
        public var level: Int
        public var scale: Double
        var live: LiveBytes? = nil
    }

    public let slotCount: Int
    /// Whether slot values are computed. A counting-only mock (false) keeps every ciphertext's
    /// and plaintext's values empty and does no per-slot work: levels, scales, component counts,
    /// operation counts and rotation steps are the same (no kernel's control flow reads a
    /// ciphertext's values), at a cost independent of the slot count. The optimizer prices
    /// plans with it; a mock run that checks results keeps the values.
    public let tracksValues: Bool
    public var computesValues: Bool { tracksValues }
    /// See `TensorBackend.complexPacking`. A product of ciphertexts is then counted as CKKS
    /// makes it: a conjugation (a key switch, counted with the relinearizations) per operand,
    /// two tensor products, monomial products and additions.
    public let complexPacking: Bool
    public let degree: Int
    public let defaultScale: Double
    /// Live-memory accounting (nil: none). When set, every ciphertext and plaintext the mock
    /// makes is counted at the bytes CKKS would give it (a rotation's key-switching scratch
    /// depends on the digits, which a plan chooses after its simulation: the compiler adds it).
    public var memoryTracker: MemoryTracker?
    /// The ciphertext primes q_0 … q_L, as `Double` (rescale divides by them).
    public let primes: [Double]
    /// Operations performed so far (the sum over levels).
    public var counts: OperationCounts { countsByLevel.values.reduce(OperationCounts(), +) }
    /// The same operations split by the level they ran at (an operation's input level; a
    /// rescale at level l divides by q_l): what the cost model prices, since an operation's
    /// cost grows with the number of primes.
    public private(set) var countsByLevel: [Int: OperationCounts] = [:]
    /// Every nonzero rotation step used (normalized to 0 ..< slotCount): the Galois keys a plan needs.
    public private(set) var rotationSteps: Set<Int> = []
    /// Every (rotation step, level) a key switch ran at: the Galois keys cut at that level that
    /// a server reading keys on demand loads (`GaloisKeyStore`), in the order first used.
    public private(set) var rotationCuts: [RotationCut] = []
    /// Per level, a bit per step already in `rotationCuts` (made when the level first rotates):
    /// a set of cuts hashed every rotation was 4% of AlexNet's compile.
    private var cutsSeen: [[UInt64]] = []

    /// A rotation step and the level its key switch ran at.
    public struct RotationCut: Hashable, Sendable {
        public let step: Int
        public let level: Int
        public init(step: Int, level: Int) {
            self.step = step
            self.level = level
        }
    }

    private func noteCut(_ step: Int, level: Int) {
        guard level >= 0, step >= 0, step < slotCount else { return }
        if cutsSeen.count <= level { cutsSeen += [[UInt64]](repeating: [], count: level + 1 - cutsSeen.count) }
        if cutsSeen[level].isEmpty { cutsSeen[level] = [UInt64](repeating: 0, count: (slotCount + 63) / 64) }
        let bit: UInt64 = 1 << UInt64(step % 64)
        guard cutsSeen[level][step / 64] & bit == 0 else { return }
        cutsSeen[level][step / 64] |= bit
        rotationCuts.append(RotationCut(step: step, level: level))
    }

    /// Simulated CKKS errors: nil computes exact values. When set (on a mock that tracks
    /// values), every encoding, encryption, rescale and key switch adds to every slot an error
    /// of the deviation `NoiseModel` gives for it at the operand's scale and level, and
    /// constants are rounded at their scale as the evaluator rounds them; products and sums
    /// then carry the errors forward as the server's run does. The compiler predicts the
    /// logits' error from it. Ciphertext errors are Gaussian; encoding errors are uniform with
    /// the same deviation (they are drawn for every slot of every plaintext, and only their sums
    /// reach an output).
    public var noise: NoiseInjection?

    /// A noise model and the seeded generator that draws its errors.
    public struct NoiseInjection {
        public let model: NoiseModel
        var rng: SplitMix

        public init(model: NoiseModel, seed: UInt64) {
            self.model = model
            rng = SplitMix(seed: seed)
        }

        /// Uniform in (0, 1].
        mutating func unit() -> Double { (Double(rng.next() >> 11) + 1) * 0x1p-53 }

        /// Adds Gaussian errors of deviation `deviation` (Box–Muller, two per draw).
        mutating func addGaussian(_ values: inout [Double], deviation: Double) {
            guard deviation > 0 else { return }
            var i = 0
            while i < values.count {
                let radius = deviation * (-2 * Foundation.log(unit())).squareRoot()
                let angle = 2 * Double.pi * unit()
                values[i] += radius * Foundation.cos(angle)
                if i + 1 < values.count { values[i + 1] += radius * Foundation.sin(angle) }
                i += 2
            }
        }

        /// Adds uniform errors of deviation `deviation` (half-width √3·deviation).
        mutating func addUniform(_ values: inout [Double], deviation: Double) {
            guard deviation > 0 else { return }
            let width = 2 * 3.0.squareRoot() * deviation
            for i in values.indices { values[i] += (unit() - 0.5) * width }
        }
    }

    /// Adds a ciphertext error of `coefficientDeviation` at `scale` to `values` (no-op without noise).
    private func perturb(_ values: inout [Double], coefficientDeviation: (NoiseModel) -> Double, scale: Double) {
        guard tracksValues, noise != nil else { return }
        let deviation = noise!.model.slotDeviation(coefficientDeviation(noise!.model), scale: scale)
        noise!.addGaussian(&values, deviation: deviation)
    }

    /// A constant as the evaluator encodes it: rounded to an integer at `scale` (exact without noise).
    private func encoded(_ c: Double, scale: Double) -> Double {
        noise == nil ? c : (c * scale).rounded() / scale
    }

    /// A mock with `slotCount` slots (any positive count) and the prime chain and scale of `parameters`.
    public init(slotCount: Int, parameters: CKKSParameters, tracksValues: Bool = true, complexPacking: Bool = false) {
        precondition(slotCount >= 1, "a backend needs at least one slot")
        self.slotCount = slotCount
        self.tracksValues = tracksValues
        self.complexPacking = complexPacking
        degree = 2 * slotCount
        defaultScale = parameters.scale
        primes = parameters.ciphertextPrimes.map { Double($0) }
    }

    /// `c` counted as a new object in the memory tracker (it replaces whatever `c` shared).
    private func tracked(_ c: Ciphertext) -> Ciphertext {
        guard let memoryTracker else { return c }
        var r = c
        r.live = LiveBytes(memory(of: c), polynomials: c.componentCount, tracker: memoryTracker)
        return r
    }

    public var maxLevel: Int { primes.count - 1 }
    public func rescalePrime(atLevel level: Int) -> Double { primes[level] }

    /// Sets the counters back to zero (the rotation steps are kept).
    public func resetCounts() { countsByLevel = [:] }

    /// A limit on what a simulation may spend: every 64 counted operations it is asked about
    /// the counts so far (`countsByLevel`); when it answers false the operation throws
    /// `budgetExceeded`. The optimizer stops simulating a layout that already costs more than
    /// the plans it has.
    public var budget: (([Int: OperationCounts]) -> Bool)?
    private var sinceBudgetCheck = 0

    /// Whether the operations now counted run in product workers (`runProductWorkers`).
    private var inProductWorkers = false

    /// See `TensorBackend.plaintextCacheBytes`: a smaller cache counts more encodes.
    public var plaintextCacheBytes = TensorBackendDefaults.plaintextCacheBytes

    /// The workers in turn, their encodes, plaintext products and additions counted also as
    /// concurrent ones (the server runs them `productWorkerCount` at a time).
    public func runProductWorkers(_ count: Int, outputs: Int, _ body: (Int) throws -> Void) throws {
        let outer = inProductWorkers
        inProductWorkers = outputs > 1
        defer { inProductWorkers = outer }
        for w in 0..<count { try body(w) }
    }

    /// An addition of a plaintext or a constant: an addition, and outside product workers a
    /// plain one (`OperationCounts.plainAdditions`).
    private func countPlainAddition(level: Int) throws {
        try count(\.additions, level: level)
        if !inProductWorkers { countsByLevel[level, default: OperationCounts()].plainAdditions += 1 }
    }

    /// Adds `n` to one counter at `level` (and to its concurrent counter inside product workers).
    private func count(_ counter: WritableKeyPath<OperationCounts, Int>, level: Int, _ n: Int = 1, concurrent: Bool = true) throws {
        countsByLevel[level, default: OperationCounts()][keyPath: counter] += n
        if inProductWorkers, concurrent {
            let concurrent: WritableKeyPath<OperationCounts, Int>? = counter == \.encodes ? \.concurrentEncodes
                : counter == \.plainMultiplications ? \.concurrentPlainMultiplications
                : counter == \.additions ? \.concurrentAdditions
                : counter == \.scalarMultiplications ? \.concurrentScalarMultiplications
                : counter == \.multiplications ? \.concurrentMultiplications
                : counter == \.relinearizations ? \.concurrentRelinearizations
                : counter == \.rescales ? \.concurrentRescales
                : counter == \.rotations ? \.concurrentRotations
                : counter == \.hoistedRotationSets ? \.concurrentHoistedRotationSets
                : counter == \.hoistedRotations ? \.concurrentHoistedRotations
                : counter == \.fusedRescales ? \.concurrentFusedRescales : nil
            if let concurrent { countsByLevel[level, default: OperationCounts()][keyPath: concurrent] += n }
        }
        guard let budget else { return }
        sinceBudgetCheck += 1
        if sinceBudgetCheck >= 64 {
            sinceBudgetCheck = 0
            if !budget(countsByLevel) { throw TileTensorError.budgetExceeded }
        }
    }

    public func encode(_ values: [Double], scale: Double, level: Int) throws -> Plaintext {
        guard values.count <= slotCount else {
            throw CKKSError.encoding("\(values.count) values given, but the backend has only \(slotCount) slots")
        }
        guard (0...maxLevel).contains(level) else { throw CKKSError.levelMismatch("level \(level) is outside 0…\(maxLevel)") }
        guard scale.isFinite, scale > 0 else { throw CKKSError.encoding("scale must be positive and finite") }
        try count(\.encodes, level: level)
        let live = memoryTracker.map { LiveBytes((level + 1) * degree * 8, polynomials: 1, tracker: $0) }
        guard tracksValues else { return Plaintext(values: [], level: level, scale: scale, live: live) }
        var slots = values + [Double](repeating: 0, count: slotCount - values.count)
        if noise != nil {
            noise!.addUniform(&slots, deviation: noise!.model.slotDeviation(noise!.model.encodingRounding, scale: scale))
        }
        return Plaintext(values: slots, level: level, scale: scale, live: live)
    }

    public func encode(real: [Double], imaginary: [Double], scale: Double, level: Int) throws -> Plaintext {
        guard imaginary.count <= slotCount else {
            throw CKKSError.encoding("\(imaginary.count) values given, but the backend has only \(slotCount) slots")
        }
        var p = try encode(real, scale: scale, level: level)
        guard tracksValues else { return p }
        var parts = imaginary + [Double](repeating: 0, count: slotCount - imaginary.count)
        if noise != nil {
            noise!.addUniform(&parts, deviation: noise!.model.slotDeviation(noise!.model.encodingRounding, scale: scale))
        }
        p.values += parts
        return p
    }

    public func encrypt(_ plaintext: Plaintext) throws -> Ciphertext {
        try count(\.encryptions, level: plaintext.level)
        var values = plaintext.values
        // Under complex packing a real plaintext encrypts with zero imaginary parts.
        if complexPacking, tracksValues, values.count == slotCount { values += [Double](repeating: 0, count: slotCount) }
        perturb(&values, coefficientDeviation: \.freshEncryption, scale: plaintext.scale)
        return tracked(Ciphertext(values: values, level: plaintext.level, scale: plaintext.scale, componentCount: 2))
    }

    public func decryptAndDecode(_ ciphertext: Ciphertext) throws -> [Double] {
        tracksValues ? Array(ciphertext.values.prefix(slotCount)) : [Double](repeating: 0, count: slotCount)
    }

    public func decryptAndDecodeParts(_ ciphertext: Ciphertext) throws -> (real: [Double], imaginary: [Double]) {
        let real = try decryptAndDecode(ciphertext)
        let imaginary = tracksValues && ciphertext.values.count == 2 * slotCount ? Array(ciphertext.values[slotCount...])
            : [Double](repeating: 0, count: slotCount)
        return (real, imaginary)
    }
    public func level(of ciphertext: Ciphertext) -> Int { ciphertext.level }
    public func scale(of ciphertext: Ciphertext) -> Double { ciphertext.scale }
    public func componentCount(of ciphertext: Ciphertext) -> Int { ciphertext.componentCount }

    private func requireSameScale(_ a: Double, _ b: Double) throws {
        guard abs(a - b) <= Evaluator.scaleTolerance * max(a, b) else { throw CKKSError.scaleMismatch(a, b) }
    }

    private func combine(_ a: Ciphertext, _ b: Ciphertext, _ op: (Double, Double) -> Double) throws -> Ciphertext {
        try requireSameScale(a.scale, b.scale)
        try count(\.additions, level: min(a.level, b.level))
        return tracked(Ciphertext(values: tracksValues ? zip(a.values, b.values).map(op) : [], level: min(a.level, b.level), scale: a.scale,
                                  componentCount: max(a.componentCount, b.componentCount)))
    }

    public func add(_ a: Ciphertext, _ b: Ciphertext) throws -> Ciphertext { try combine(a, b, +) }
    public func subtract(_ a: Ciphertext, _ b: Ciphertext) throws -> Ciphertext { try combine(a, b, -) }
    public func addInPlace(_ a: inout Ciphertext, _ b: Ciphertext) throws {
        try requireSameScale(a.scale, b.scale)
        try count(\.additions, level: min(a.level, b.level))
        if tracksValues { for i in a.values.indices { a.values[i] += b.values[i] } }
        let before = memory(of: a)
        a.level = min(a.level, b.level)
        a.componentCount = max(a.componentCount, b.componentCount)
        if memoryTracker != nil, memory(of: a) != before { a = tracked(a) }
    }

    /// Under complex packing a real plaintext (`encodeAddend`'s) adds to both parts.
    public func add(_ a: Ciphertext, addend p: Plaintext) throws -> Ciphertext {
        guard p.level >= a.level else { throw CKKSError.levelMismatch("the plaintext is at level \(p.level), below the ciphertext's \(a.level)") }
        try requireSameScale(a.scale, p.scale)
        try countPlainAddition(level: a.level)
        var r = a
        if tracksValues { for i in r.values.indices { r.values[i] += p.values[i % p.values.count] } }
        return tracked(r)
    }

    public func add(_ a: Ciphertext, constant c: Double) throws -> Ciphertext {
        try countPlainAddition(level: a.level)
        var r = a
        let c = encoded(c, scale: a.scale)
        for i in r.values.indices { r.values[i] += c }
        return tracked(r)
    }

    public func multiply(_ a: Ciphertext, _ p: Plaintext) throws -> Ciphertext {
        guard p.level >= a.level else { throw CKKSError.levelMismatch("the plaintext is at level \(p.level), below the ciphertext's \(a.level)") }
        try count(\.plainMultiplications, level: a.level)
        var r = a
        if tracksValues { for i in r.values.indices { r.values[i] *= p.values[i % p.values.count] } }
        r.scale *= p.scale
        return tracked(r)
    }

    public func multiply(_ a: Ciphertext, constant c: Double, scale: Double) throws -> Ciphertext {
        try count(\.plainMultiplications, level: a.level)
        var r = a
        let c = encoded(c, scale: scale)
        for i in r.values.indices { r.values[i] *= c }
        r.scale *= scale
        return tracked(r)
    }

    /// Counted per term as a plaintext or scalar product and as a lazy one (never as a
    /// concurrent one: the lazy rates are measured with the workers), no additions; a sum with
    /// scalar weights also as one lazy scalar sum.
    public func sumOfProducts(_ terms: [(Ciphertext, TermWeight<Plaintext>)]) throws -> Ciphertext {
        guard let first = terms.first else { throw TileTensorError.invalidArgument("a sum of products needs at least one term") }
        let level = first.0.level
        if case .scalar = first.1 { try count(\.lazyScalarSums, level: level, concurrent: false) }
        var r = first.0
        r.values = [Double](repeating: 0, count: tracksValues ? first.0.values.count : 0)
        var productScale: Double?
        for (a, w) in terms {
            guard a.level == level, a.componentCount == first.0.componentCount else {
                throw CKKSError.levelMismatch("a sum of products has terms at levels \(level) and \(a.level)")
            }
            let scale: Double
            switch w {
            case .plaintext(let p):
                guard p.level >= a.level else { throw CKKSError.levelMismatch("the plaintext is at level \(p.level), below the ciphertext's \(a.level)") }
                try count(\.plainMultiplications, level: level, concurrent: false)
                try count(\.lazyPlainProducts, level: level, concurrent: false)
                if tracksValues { for i in r.values.indices { r.values[i] += a.values[i] * p.values[i % p.values.count] } }
                scale = a.scale * p.scale
            case .scalar(let c, let s):
                try count(\.scalarMultiplications, level: level, concurrent: false)
                try count(\.lazyScalarProducts, level: level, concurrent: false)
                let weight = encoded(c, scale: s)
                if tracksValues { for i in r.values.indices { r.values[i] += a.values[i] * weight } }
                scale = a.scale * s
            }
            if let productScale { try requireSameScale(productScale, scale) } else { productScale = scale }
        }
        r.scale = productScale!
        return tracked(r)
    }

    /// Counted as one scalar product (no encode, no separate addition).
    public func addScalarProduct(_ acc: inout Ciphertext?, _ a: Ciphertext, _ c: Double, scale: Double) throws {
        try count(\.scalarMultiplications, level: a.level)
        let weight = encoded(c, scale: scale)
        guard var sum = acc else {
            var r = a
            if tracksValues { for i in r.values.indices { r.values[i] *= weight } }
            r.scale *= scale
            acc = tracked(r)
            return
        }
        acc = nil
        try requireSameScale(sum.scale, a.scale * scale)
        if tracksValues { for i in sum.values.indices { sum.values[i] += a.values[i] * weight } }
        let before = memory(of: sum)
        sum.level = min(sum.level, a.level)
        sum.componentCount = max(sum.componentCount, a.componentCount)
        if memoryTracker != nil, memory(of: sum) != before { sum = tracked(sum) }
        acc = sum
    }

    public func multiplyWithoutRelinearization(_ a: Ciphertext, _ b: Ciphertext) throws -> Ciphertext {
        try product(a, b, square: false)
    }

    public func squareWithoutRelinearization(_ a: Ciphertext) throws -> Ciphertext {
        try product(a, a, square: true)
    }

    /// a ⊙ b (slot by slot, and part by part under complex packing), counted as CKKS makes it.
    private func product(_ a: Ciphertext, _ b: Ciphertext, square: Bool) throws -> Ciphertext {
        guard a.componentCount == 2, b.componentCount == 2 else {
            throw CKKSError.componentCount(expected: 2, actual: max(a.componentCount, b.componentCount))
        }
        let level = min(a.level, b.level)
        guard complexPacking else {
            try count(\.multiplications, level: level)
            return tracked(Ciphertext(values: tracksValues ? zip(a.values, b.values).map(*) : [], level: level,
                                      scale: a.scale * b.scale, componentCount: 3))
        }
        // Per operand: its conjugate (a key switch, counted with the relinearizations: the same
        // work), u = z + z̄ and v = X^{3N/4}·(z − z̄) (two additions, one monomial product);
        // then u·u′ + v·v′ (two tensor products, one addition). A square in product workers is
        // so priced as two concurrent products with their relinearizations, which it is, and
        // its additions as additions: whole passes over new ciphertexts, not the accumulation
        // inside a worker's multiply-accumulate that concurrent additions stand for (unpriced,
        // CryptoNets' 100 squares at level 2 ran 41–55% over their estimate).
        let operands = square ? 1 : 2
        try count(\.relinearizations, level: level, operands)
        try count(\.additions, level: level, 2 * operands + 1, concurrent: false)
        try count(\.plainMultiplications, level: level, operands)
        try count(\.multiplications, level: level, 2)
        var x = a.values, y = b.values
        perturb(&x, coefficientDeviation: { $0.keySwitching[level] }, scale: a.scale)
        if square { y = x } else { perturb(&y, coefficientDeviation: { $0.keySwitching[level] }, scale: b.scale) }
        return tracked(Ciphertext(values: tracksValues ? zip(x, y).map(*) : [], level: level,
                                  scale: Evaluator.partProductScaleFactor * a.scale * b.scale, componentCount: 3))
    }

    /// As the CKKS backend makes it: a relinearization and a rescale, counted also as one fused
    /// rescale (the cost model prices the fused form's saving).
    public func relinearizeAndRescale(_ a: consuming Ciphertext) throws -> Ciphertext {
        let fused = a.componentCount == 3
        let relinearized = try relinearize(a)
        _ = consume a
        let result = try rescale(relinearized)
        if fused { try count(\.fusedRescales, level: relinearized.level) }
        return result
    }

    public func relinearize(_ a: Ciphertext) throws -> Ciphertext {
        guard a.componentCount == 3 else { return a }
        try count(\.relinearizations, level: a.level)
        var r = a
        r.componentCount = 2
        perturb(&r.values, coefficientDeviation: { $0.keySwitching[a.level] }, scale: a.scale)
        return tracked(r)
    }

    public func rescale(_ a: Ciphertext) throws -> Ciphertext {
        guard a.level >= 1 else { throw CKKSError.levelMismatch("cannot rescale at level 0: no prime left to divide by") }
        try count(\.rescales, level: a.level)
        var r = a
        r.scale /= primes[a.level]
        r.level -= 1
        perturb(&r.values, coefficientDeviation: \.rounding, scale: r.scale)
        return tracked(r)
    }

    public func dropLevel(_ a: Ciphertext, to level: Int) throws -> Ciphertext {
        guard (0...a.level).contains(level) else { throw CKKSError.levelMismatch("cannot drop a level-\(a.level) ciphertext to level \(level)") }
        if level < a.level { try count(\.levelDrops, level: a.level) }
        guard level < a.level else { return a }
        var r = a
        r.level = level
        return tracked(r)
    }

    /// Each part (the real, and under complex packing the imaginary) rotated by k.
    private func rotated(_ values: [Double], _ k: Int) -> [Double] {
        guard tracksValues, k != 0 else { return values }
        return (0..<values.count).map { i in
            let part = i - i % slotCount
            return values[part + (i - part + k) % slotCount]
        }
    }

    public func rotate(_ a: Ciphertext, by step: Int) throws -> Ciphertext {
        guard a.componentCount == 2 else { throw CKKSError.componentCount(expected: 2, actual: a.componentCount) }
        let k = normalizedStep(step)
        if k == 0 { return a }
        try count(\.rotations, level: a.level)
        rotationSteps.insert(k)
        noteCut(k, level: a.level)
        var r = a
        r.values = rotated(a.values, k)
        perturb(&r.values, coefficientDeviation: { $0.keySwitching[a.level] }, scale: a.scale)
        return tracked(r)
    }

    /// Counted as `rotations(ofEach: [a], by: [steps])`, which is how the CKKS backend makes it.
    public func rotations(of a: Ciphertext, by steps: [Int]) throws -> [Int: Ciphertext] {
        try rotations(ofEach: [a], by: [steps])[0]
    }

    /// Counted as the CKKS backend runs them (`Evaluator.rotations(ofEach:by:)`): the moving
    /// sources' decompositions T at a time, then their key switches T at a time (T =
    /// `concurrentPieces`), one thread each, priced at the concurrent rate; a round's last items,
    /// at most T/2 of them, share the threads split by limbs (`ExecutionPolicy.concurrentMap`),
    /// priced as one at a time. A set's first step carries its decomposition (a set is priced as
    /// a rotation, each further step as a hoisted one), so a lone decomposition makes its set
    /// one at a time and its further steps take the concurrent key switches. Counting every set
    /// of a call with two sources as concurrent had priced AlexNet's pools, whose calls mostly
    /// hold one to three key switches, 15–20% low.
    public func rotations(ofEach sources: [Ciphertext], by steps: [[Int]]) throws -> [[Int: Ciphertext]] {
        guard sources.count == steps.count else {
            throw TileTensorError.invalidArgument("\(sources.count) ciphertexts to rotate but \(steps.count) step lists")
        }
        let together = concurrentPieces
        func lone(_ items: Int) -> Int {
            let tail = items % together
            return tail * 2 <= together ? tail : 0
        }
        for a in sources where a.componentCount != 2 { throw CKKSError.componentCount(expected: 2, actual: a.componentCount) }
        let moving = sources.indices.filter { s in steps[s].contains { normalizedStep($0) != 0 } }
        var byLevel: [Int: (sets: Int, steps: Int)] = [:]
        for s in moving {
            let k = Set(steps[s].map(normalizedStep)).subtracting([0]).count
            byLevel[sources[s].level, default: (0, 0)].sets += 1
            byLevel[sources[s].level, default: (0, 0)].steps += k
        }
        for (level, made) in byLevel {
            if inProductWorkers {
                // Inside a worker (one thread): every set is one of the workers' at once.
                try count(\.hoistedRotationSets, level: level, made.sets)
                try count(\.hoistedRotations, level: level, made.steps)
                continue
            }
            let concurrentSets = made.sets - lone(made.sets)
            let concurrentSwitches = made.steps - lone(made.steps)
            let concurrentExtra = min(max(concurrentSwitches - concurrentSets, 0), made.steps - made.sets)
            try count(\.hoistedRotationSets, level: level, made.sets, concurrent: false)
            try count(\.hoistedRotations, level: level, made.steps, concurrent: false)
            countsByLevel[level, default: OperationCounts()].concurrentHoistedRotationSets += concurrentSets
            countsByLevel[level, default: OperationCounts()].concurrentHoistedRotations += concurrentSets + concurrentExtra
        }
        return sources.indices.map { rotatedSet(sources[$0], by: steps[$0]) }
    }

    /// The rotations of a by `steps` (each step once; step 0 is a), their keys noted.
    private func rotatedSet(_ a: Ciphertext, by steps: [Int]) -> [Int: Ciphertext] {
        let nonzero = Set(steps.map(normalizedStep)).subtracting([0])
        rotationSteps.formUnion(nonzero)
        for k in nonzero { noteCut(k, level: a.level) }
        var result: [Int: Ciphertext] = [:]
        for step in Set(steps) {
            var r = a
            r.values = rotated(a.values, normalizedStep(step))
            if normalizedStep(step) != 0 {
                perturb(&r.values, coefficientDeviation: { $0.keySwitching[a.level] }, scale: a.scale)
                r = tracked(r)
            }
            result[step] = r
        }
        return result
    }
}
