/// The operations a tensor kernel needs, on opaque ciphertexts and plaintexts. Two conforming
/// types: `CKKSBackend` (real encryption) and `MockBackend` (plaintext `Double` slots that count
/// every operation and track level and scale exactly as CKKS does), so a kernel written once runs
/// encrypted, or is tested and priced in milliseconds.
///
/// Semantics follow the CKKS evaluator: additions align levels (to the lower one) and need equal
/// scales; products multiply scales; `rescale` divides the scale by the prime q_level and drops a
/// level; `rotate(by: k)` moves slot i + k to slot i (cyclically).
public protocol TensorBackend: AnyObject {
    associatedtype Ciphertext
    associatedtype Plaintext

    /// Slots per ciphertext.
    var slotCount: Int { get }
    /// The level of a fresh ciphertext.
    var maxLevel: Int { get }
    /// The default scale Δ of fresh encodings.
    var defaultScale: Double { get }
    /// The prime q_level that a rescale at `level` divides by.
    func rescalePrime(atLevel level: Int) -> Double
    /// The ring degree N (memory accounting).
    var degree: Int { get }
    /// False for a backend that only counts (a counting-only mock): kernels may then skip
    /// building slot vectors, since nothing reads them. True for every computing backend.
    var computesValues: Bool { get }
    /// Whether a step may run its independent products on several threads at once (every
    /// operation thread-safe). False for the mock, whose counts and memory tracker are not.
    var runsConcurrentProducts: Bool { get }
    /// Runs `body(w)` for the product workers w in 0 ..< count (see `ProductWorkers.run`) of a
    /// step with `outputs` independent sums; the mock runs them in turn and, when there are two
    /// sums or more (a server with several threads splits them), counts their encodes, products
    /// and additions as concurrent.
    func runProductWorkers(_ count: Int, outputs: Int, _ body: (Int) throws -> Void) throws
    /// The most bytes of encoded weight plaintexts one step keeps for re-use; past it, or with 0,
    /// a plaintext is encoded again where it is used again (the same bits: encoding is
    /// deterministic). `eval --plaintext-cache-mb` sets it on the server's backend.
    var plaintextCacheBytes: Int { get }

    /// Whether every slot carries two images, one in its real part and one in its imaginary
    /// part (complex packing: twice the images per ciphertext for the same linear work). Then
    /// an addend (`encodeAddend`) or a constant is added to both parts, and a product of ciphertexts
    /// multiplies part by part at four times the product of the scales (CKKS:
    /// `Evaluator.multiplyPartsWithoutRelinearization`, a conjugation per operand).
    var complexPacking: Bool { get }

    /// Encodes up to `slotCount` reals (missing slots are zero).
    func encode(_ values: [Double], scale: Double, level: Int) throws -> Plaintext
    /// Encodes `real` and `imaginary` (up to `slotCount` each) as the two parts of the slots:
    /// a complex-packed input.
    func encode(real: [Double], imaginary: [Double], scale: Double, level: Int) throws -> Plaintext
    /// Encrypts a plaintext at its level and scale.
    func encrypt(_ plaintext: Plaintext) throws -> Ciphertext
    /// Decrypts and decodes all slots (needs the secret key; tests and the client only).
    func decryptAndDecode(_ ciphertext: Ciphertext) throws -> [Double]
    /// Both parts of every slot (a complex-packed result).
    func decryptAndDecodeParts(_ ciphertext: Ciphertext) throws -> (real: [Double], imaginary: [Double])

    func level(of ciphertext: Ciphertext) -> Int
    func scale(of ciphertext: Ciphertext) -> Double
    /// Polynomial components (2, or 3 before relinearization).
    func componentCount(of ciphertext: Ciphertext) -> Int

    func add(_ a: Ciphertext, _ b: Ciphertext) throws -> Ciphertext
    /// a += b, reusing a's storage when it can (same level); counted as one addition.
    func addInPlace(_ a: inout Ciphertext, _ b: Ciphertext) throws
    func subtract(_ a: Ciphertext, _ b: Ciphertext) throws -> Ciphertext
    /// Encodes reals to be added with `add(_:addend:)`, not multiplied: under complex packing
    /// they go into both parts of the slots (v + i·v), so that each addition is a plain one
    /// (a real plaintext added to both parts costs a product by 1 + i in every addition).
    func encodeAddend(_ values: [Double], scale: Double, level: Int) throws -> Plaintext
    /// a + p for p from `encodeAddend` at a level ≥ a's and a's scale: the values added to both
    /// parts under complex packing. Counted as one addition (a plain one outside workers).
    func add(_ a: Ciphertext, addend p: Plaintext) throws -> Ciphertext
    /// a + c in every slot (encoded at a's scale; no level).
    func add(_ a: Ciphertext, constant c: Double) throws -> Ciphertext
    func multiply(_ a: Ciphertext, _ p: Plaintext) throws -> Ciphertext
    /// acc += a · p, or acc = a · p when acc is nil: counted as one plaintext product and (when
    /// acc was set) one addition. The CKKS backend fuses it (no temporary ciphertext).
    func addProduct(_ acc: inout Ciphertext?, _ a: Ciphertext, _ p: Plaintext) throws
    /// a · c with c encoded at `scale` (the scale is multiplied by it).
    func multiply(_ a: Ciphertext, constant c: Double, scale: Double) throws -> Ciphertext
    /// acc += a · c, or acc = a · c when acc is nil, for a weight c shared by every slot at
    /// `scale`: no plaintext is encoded (the CKKS backend multiplies each limb by c's residues).
    /// Counted as one scalar product, its accumulation included.
    func addScalarProduct(_ acc: inout Ciphertext?, _ a: Ciphertext, _ c: Double, scale: Double) throws
    /// Σ_t a_t · w_t, every a_t at one level and every product at one scale: the CKKS backend
    /// sums lazily (each operand read once, one reduction per residue, the same residues as
    /// term by term). Counted per term as a plaintext or scalar product, marked lazy, with no
    /// separate additions.
    func sumOfProducts(_ terms: [(Ciphertext, TermWeight<Plaintext>)]) throws -> Ciphertext
    /// Several such sums over shared inputs (each term an input index and a weight): the CKKS
    /// backend reads each input once for all of them. Counted as the sums one by one.
    func sumsOfProducts(inputs: [Ciphertext], sums: [[(Int, TermWeight<Plaintext>)]]) throws -> [Ciphertext]
    /// The three-component product a·b (relinearize next).
    func multiplyWithoutRelinearization(_ a: Ciphertext, _ b: Ciphertext) throws -> Ciphertext
    /// a ⊙ a, three components: one tensor product fewer than a ⊙ b, and under complex packing
    /// one conjugation instead of two.
    func squareWithoutRelinearization(_ a: Ciphertext) throws -> Ciphertext
    func relinearize(_ a: Ciphertext) throws -> Ciphertext
    func rescale(_ a: Ciphertext) throws -> Ciphertext
    /// rescale(relinearize(a)): the CKKS backend divides by P·q_l at once (each coefficient
    /// within 1 of the two-step result, almost always equal). Counted as a relinearization and
    /// a rescale. Consuming: the three-component input is released once relinearized.
    func relinearizeAndRescale(_ a: consuming Ciphertext) throws -> Ciphertext
    func dropLevel(_ a: Ciphertext, to level: Int) throws -> Ciphertext
    /// Slot i of the result is slot i + step of a (cyclically; negative steps rotate right).
    func rotate(_ a: Ciphertext, by step: Int) throws -> Ciphertext
    /// Hoisted rotations: one decomposition shared by every step. Step 0 maps to a.
    func rotations(of a: Ciphertext, by steps: [Int]) throws -> [Int: Ciphertext]
    /// `rotations(of:by:)` of each source, made at once on the product workers (the CKKS
    /// backend deals every source's steps to the threads, not each source to one thread).
    /// Counted as each source's hoisted set made in a worker.
    func rotations(ofEach sources: [Ciphertext], by steps: [[Int]]) throws -> [[Int: Ciphertext]]
}

extension TensorBackend {
    public func rotations(ofEach sources: [Ciphertext], by steps: [[Int]]) throws -> [[Int: Ciphertext]] {
        try mapConcurrently(sources.count) { try rotations(of: sources[$0], by: steps[$0]) }
    }

    public var computesValues: Bool { true }
    public var runsConcurrentProducts: Bool { false }
    public var plaintextCacheBytes: Int { TensorBackendDefaults.plaintextCacheBytes }
    public func runProductWorkers(_ count: Int, outputs: Int, _ body: (Int) throws -> Void) throws {
        try ProductWorkers.run(count, body)
    }

    public var complexPacking: Bool { false }

    /// A real plaintext (a backend without complex packing, or whose addition of a real
    /// plaintext reaches both parts, as the mock's does).
    public func encodeAddend(_ values: [Double], scale: Double, level: Int) throws -> Plaintext {
        try encode(values, scale: scale, level: level)
    }

    /// The product a ⊙ a (backends with a cheaper square override it).
    public func squareWithoutRelinearization(_ a: Ciphertext) throws -> Ciphertext {
        try multiplyWithoutRelinearization(a, a)
    }

    /// The two-step form.
    public func relinearizeAndRescale(_ a: consuming Ciphertext) throws -> Ciphertext {
        let relinearized = try relinearize(a)
        _ = consume a
        return try rescale(relinearized)
    }

    /// a · b relinearized (one multiplication and one relinearization).
    public func multiply(_ a: Ciphertext, _ b: Ciphertext) throws -> Ciphertext {
        try relinearize(multiplyWithoutRelinearization(a, b))
    }

    /// The unfused form: multiply, then accumulate.
    public func addProduct(_ acc: inout Ciphertext?, _ a: Ciphertext, _ p: Plaintext) throws {
        try accumulate(&acc, multiply(a, p))
    }

    /// The unfused form: a constant product, then accumulate.
    public func addScalarProduct(_ acc: inout Ciphertext?, _ a: Ciphertext, _ c: Double, scale: Double) throws {
        try accumulate(&acc, multiply(a, constant: c, scale: scale))
    }

    /// The unfused form: term by term.
    public func sumOfProducts(_ terms: [(Ciphertext, TermWeight<Plaintext>)]) throws -> Ciphertext {
        var acc: Ciphertext?
        for (a, w) in terms {
            switch w {
            case .plaintext(let p): try addProduct(&acc, a, p)
            case .scalar(let c, let scale): try addScalarProduct(&acc, a, c, scale: scale)
            }
        }
        guard let acc else { throw TileTensorError.invalidArgument("a sum of products needs at least one term") }
        return acc
    }

    /// The sums one by one.
    public func sumsOfProducts(inputs: [Ciphertext], sums: [[(Int, TermWeight<Plaintext>)]]) throws -> [Ciphertext] {
        try sums.map { terms in try sumOfProducts(terms.map { (inputs[$0.0], $0.1) }) }
    }

    /// acc += term, or acc = term when acc is nil. Moves acc out first so that the in-place
    /// addition owns its storage (no copy on write).
    public func accumulate(_ acc: inout Ciphertext?, _ term: Ciphertext) throws {
        guard var a = acc else { acc = term; return }
        acc = nil
        try addInPlace(&a, term)
        acc = a
    }

    /// Bytes of a ciphertext: components × (level + 1) primes × N residues × 8.
    public func memory(of ciphertext: Ciphertext) -> Int {
        componentCount(of: ciphertext) * (level(of: ciphertext) + 1) * degree * 8
    }

    /// The step reduced to 0 ..< slotCount (0 means no rotation).
    func normalizedStep(_ step: Int) -> Int { ((step % slotCount) + slotCount) % slotCount }
}

/// Defaults shared by the backends.
public enum TensorBackendDefaults {
    /// The plaintext cache of a step (1 GiB): a large step, thousands of products at N = 65536,
    /// would otherwise hold tens of GB of plaintexts.
    public static let plaintextCacheBytes = 1 << 30
}
