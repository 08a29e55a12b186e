/// The CKKS operations the cost model prices: what a plan's operation counts are multiplied by.
public enum Primitive: String, CaseIterable, Codable, Sendable, Comparable {
    /// Ciphertext + ciphertext.
    case add
    /// Ciphertext × plaintext (no rescale).
    case multiplyPlain = "multiply_plain"
    /// Ciphertext × ciphertext followed by relinearization.
    case multiplyRelinearize = "multiply_relinearize"
    /// Division by the last prime.
    case rescale
    /// One rotation by a step with its own key switch.
    case rotate
    /// Each further step of a hoisted rotation set (the decomposition is shared): a set of k
    /// steps costs rotate + (k − 1) · hoisted_rotation.
    case hoistedRotation = "hoisted_rotation"
    /// Encoding a vector of slot values into a plaintext at the level.
    case encode
    /// An encoding made by one of T product workers at once, one thread each (T = the
    /// calibration's thread count): the elapsed time of T·k encodings over T·k.
    case concurrentEncode = "concurrent_encode"
    /// A fused multiply-accumulate (acc += a · p) by one of T product workers at once: the
    /// elapsed time over the products (the accumulation included).
    case concurrentMultiplyPlain = "concurrent_multiply_plain"
    /// A multiply-accumulate by a weight shared by every slot (acc += a · c, c's residues times
    /// each limb; nothing encoded), into accumulators cold in cache.
    case multiplyScalar = "multiply_scalar"
    /// The same by one of T product workers at once: the elapsed time over the products.
    case concurrentMultiplyScalar = "concurrent_multiply_scalar"
    /// One term of a lazy sum of plaintext products (`Evaluator.sumOfProducts`) by one of T
    /// product workers at once, its operands cold in cache: the elapsed time over the terms.
    case lazyMultiplyPlain = "lazy_multiply_plain"
    /// The same with scalar weights, the sum's own work apart (lazy_scalar_sum).
    case lazyMultiplyScalar = "lazy_multiply_scalar"
    /// Ciphertext × ciphertext with relinearization by one of T product workers at once (an
    /// elementwise step tile by tile): the elapsed time over the products.
    case concurrentMultiplyRelinearize = "concurrent_multiply_relinearize"
    /// A rescale by one of T product workers at once.
    case concurrentRescale = "concurrent_rescale"
    /// Ciphertext × ciphertext, relinearized and rescaled by one division by P·q_l
    /// (`Evaluator.relinearizeAndRescale`): every square and product of a network is made so,
    /// and it saves NTTs against multiply_relinearize + rescale, which had priced AlexNet's
    /// squares (they ran 18–23% under those estimates; the saving measured 0–19% per level on
    /// this project's noisy machine, and the squares still ran under).
    case multiplyRelinearizeRescale = "multiply_relinearize_rescale"
    /// The same by one of T product workers at once (an elementwise step tile by tile).
    case concurrentMultiplyRelinearizeRescale = "concurrent_multiply_relinearize_rescale"
    /// One lazy sum with scalar weights beside its terms: its accumulators cleared, reduced
    /// once (a 128-bit reduction per residue) and written, whatever its term count.
    case lazyScalarSum = "lazy_scalar_sum"

    public static func < (a: Primitive, b: Primitive) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}
