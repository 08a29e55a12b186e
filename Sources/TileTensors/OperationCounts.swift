/// How many of each homomorphic operation a computation performed: what `MockBackend` counts
/// and what the optimizer prices (count × measured cost per operation).
public struct OperationCounts: Hashable, Sendable, CustomStringConvertible {
    /// Plaintext encodings (one FFT and one NTT per prime each).
    public var encodes = 0
    /// Encryptions.
    public var encryptions = 0
    /// Ciphertext + ciphertext, ± plaintext, ± constant.
    public var additions = 0
    /// Of the additions not made by product workers, those of a plaintext or a constant: they
    /// read and write one polynomial of the ciphertext, not two (a new first component beside
    /// the shared second one), so they cost half a ciphertext addition's memory traffic and are
    /// priced at half its rate. Priced whole, the MNIST model's +γ step at full batch ran in
    /// 0.52 s against 0.91 s estimated.
    public var plainAdditions = 0
    /// Ciphertext × plaintext and ciphertext × constant.
    public var plainMultiplications = 0
    /// Ciphertext × ciphertext (tensor product, before relinearization).
    public var multiplications = 0
    /// Relinearizations (one key switch each).
    public var relinearizations = 0
    /// Rescales.
    public var rescales = 0
    /// Single rotations by a step (one key switch each).
    public var rotations = 0
    /// Calls to hoisted rotations with at least one nonzero step (one decomposition each).
    public var hoistedRotationSets = 0
    /// Nonzero steps inside hoisted sets (one key product each).
    public var hoistedRotations = 0
    /// Ciphertexts brought down to a lower level (a copy of the limbs kept): a join's shallower
    /// operand, a polynomial's terms.
    public var levelDrops = 0
    /// Of the encodes, plaintext products and additions above, those made by product workers
    /// (`TensorBackend.runProductWorkers`): several at once, one thread each, so the cost model
    /// prices them at the concurrent primitives' rates.
    public var concurrentEncodes = 0
    public var concurrentPlainMultiplications = 0
    public var concurrentAdditions = 0
    /// Products by a weight shared by every slot (`TensorBackend.addScalarProduct`), their
    /// accumulation included: no plaintext is encoded for them. Not in `plainMultiplications`.
    public var scalarMultiplications = 0
    /// Of those, the ones made by product workers (priced at the concurrent rate).
    public var concurrentScalarMultiplications = 0
    /// Of the plaintext and scalar products, those summed lazily (`TensorBackend.sumOfProducts`:
    /// each operand read once, one reduction per residue), by product workers, their
    /// accumulation included; priced at the lazy rates.
    public var lazyPlainProducts = 0
    public var lazyScalarProducts = 0
    /// The lazy sums with scalar weights themselves: one per sum the kernel makes (an output's
    /// run of at most `scalarLazySumTerms` terms). Each clears, reduces and writes its
    /// accumulators once whatever its term count, about 13 terms' work (`he-tool bench lazy`):
    /// priced per sum (lazy_scalar_sum) beside the per-term rate, so a convolution's sums of 25
    /// terms and a dense layer's runs of 128 are both priced as they run.
    public var lazyScalarSums = 0
    /// Of the multiplications, relinearizations and rescales, those of elementwise steps made
    /// tile by tile in product workers (`TensorBackend.mapTiles`): priced at the concurrent
    /// rates (a multiplication with its relinearization as one concurrent_multiply_relinearize).
    public var concurrentMultiplications = 0
    public var concurrentRelinearizations = 0
    public var concurrentRescales = 0
    /// Of the single rotations, hoisted sets and their steps, those made in product workers
    /// (independent tiles' rotate-and-sum chains, several sources' hoisted sets at once), each on
    /// one thread: priced at the rate of key switches made T at a time.
    public var concurrentRotations = 0
    public var concurrentHoistedRotationSets = 0
    public var concurrentHoistedRotations = 0
    /// Of the relinearizations, those whose rescale follows at once (`relinearizeAndRescale`:
    /// one division by P·q_l, fewer NTTs than the two steps): each is also counted as a
    /// relinearization and a rescale, and the cost model prices the difference. Of those, the
    /// ones made by product workers.
    public var fusedRescales = 0
    public var concurrentFusedRescales = 0

    public init() {}

    /// Every key switch: relinearizations, single and hoisted rotations.
    public var keySwitches: Int { relinearizations + rotations + hoistedRotations }

    public static func + (a: OperationCounts, b: OperationCounts) -> OperationCounts {
        var r = a
        r.encodes += b.encodes; r.encryptions += b.encryptions; r.additions += b.additions
        r.plainAdditions += b.plainAdditions
        r.plainMultiplications += b.plainMultiplications; r.multiplications += b.multiplications
        r.relinearizations += b.relinearizations; r.rescales += b.rescales; r.rotations += b.rotations
        r.hoistedRotationSets += b.hoistedRotationSets; r.hoistedRotations += b.hoistedRotations
        r.levelDrops += b.levelDrops
        r.concurrentEncodes += b.concurrentEncodes
        r.concurrentPlainMultiplications += b.concurrentPlainMultiplications
        r.concurrentAdditions += b.concurrentAdditions
        r.scalarMultiplications += b.scalarMultiplications
        r.concurrentScalarMultiplications += b.concurrentScalarMultiplications
        r.lazyPlainProducts += b.lazyPlainProducts
        r.lazyScalarProducts += b.lazyScalarProducts
        r.lazyScalarSums += b.lazyScalarSums
        r.concurrentMultiplications += b.concurrentMultiplications
        r.concurrentRelinearizations += b.concurrentRelinearizations
        r.concurrentRescales += b.concurrentRescales
        r.concurrentRotations += b.concurrentRotations
        r.concurrentHoistedRotationSets += b.concurrentHoistedRotationSets
        r.concurrentHoistedRotations += b.concurrentHoistedRotations
        r.fusedRescales += b.fusedRescales
        r.concurrentFusedRescales += b.concurrentFusedRescales
        return r
    }

    public static func - (a: OperationCounts, b: OperationCounts) -> OperationCounts {
        var r = a
        r.encodes -= b.encodes; r.encryptions -= b.encryptions; r.additions -= b.additions
        r.plainAdditions -= b.plainAdditions
        r.plainMultiplications -= b.plainMultiplications; r.multiplications -= b.multiplications
        r.relinearizations -= b.relinearizations; r.rescales -= b.rescales; r.rotations -= b.rotations
        r.hoistedRotationSets -= b.hoistedRotationSets; r.hoistedRotations -= b.hoistedRotations
        r.levelDrops -= b.levelDrops
        r.concurrentEncodes -= b.concurrentEncodes
        r.concurrentPlainMultiplications -= b.concurrentPlainMultiplications
        r.concurrentAdditions -= b.concurrentAdditions
        r.scalarMultiplications -= b.scalarMultiplications
        r.concurrentScalarMultiplications -= b.concurrentScalarMultiplications
        r.lazyPlainProducts -= b.lazyPlainProducts
        r.lazyScalarProducts -= b.lazyScalarProducts
        r.lazyScalarSums -= b.lazyScalarSums
        r.concurrentMultiplications -= b.concurrentMultiplications
        r.concurrentRelinearizations -= b.concurrentRelinearizations
        r.concurrentRescales -= b.concurrentRescales
        r.concurrentRotations -= b.concurrentRotations
        r.concurrentHoistedRotationSets -= b.concurrentHoistedRotationSets
        r.concurrentHoistedRotations -= b.concurrentHoistedRotations
        r.fusedRescales -= b.fusedRescales
        r.concurrentFusedRescales -= b.concurrentFusedRescales
        return r
    }

    public var description: String {
        "encode \(encodes), encrypt \(encryptions), add \(additions), mulPlain \(plainMultiplications), "
            + "mul \(multiplications), relin \(relinearizations), rescale \(rescales), rotate \(rotations), "
            + "hoisted \(hoistedRotations) in \(hoistedRotationSets) sets" + (levelDrops > 0 ? ", drop \(levelDrops)" : "")
            + (scalarMultiplications > 0 ? ", mulScalar \(scalarMultiplications)" : "")
    }
}
