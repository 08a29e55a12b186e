import CKKS
import Foundation

/// The server's peak resident memory for a plan, by part: what `eval` and `bench eval` print
/// beside the measured peak (VmHWM), and what the compile report states. The ciphertext part is
/// simulated (each step's peak of ciphertexts and plaintexts alive, from the same kernels run
/// on the mock: `ChainSimulation.Step.peakBytes`); the rest are sizes.
public struct MemoryEstimate: Sendable, Equatable {
    /// The process before it reads a file (code, runtime, thread stacks).
    public var baseline: Int
    /// The model's weights in memory (8 bytes a value), and while the model file is read, the
    /// file and its decoded message beside them.
    public var weights: Int
    /// The evaluation keys held while the steps run: all of them, or for a key file read on
    /// demand the cut keys the plan reads (at most the budget, then with a key in use beside
    /// them) and the relinearization key.
    public var keys: Int
    /// The encrypted input's file frame as read (seeded ciphertexts: half their size in memory).
    /// Held only while it is read: the frame and its decoded message beside each other, each
    /// tile's bytes released once its ciphertext is made (the ciphertexts themselves are the
    /// first step's, in `ciphertexts`).
    public var input: Int
    /// The most bytes of ciphertexts and plaintexts alive at once in any step.
    public var ciphertexts: Int
    /// Key switching's pooled scratch (decompositions, accumulators, ModDown temporaries),
    /// kept for re-use once made.
    public var scratch: Int
    /// While every key is read into memory: the key being decoded beside those read (its bytes,
    /// half a key's, and its message; 0 when read on demand). The file read whole and its
    /// message beside the keys had peaked at 2.0× the keys (MNIST 674 MB with 317 MB of keys);
    /// read a key at a time (`CKKSFile.readEvaluationKeys`) it is one key.
    public var keyFile: Int
    /// Keys read on demand accumulate step by step: the most bytes of keys and ciphertexts
    /// resident together while a step runs (each step with the keys read up to its end, within
    /// the budget); nil when every key is resident from the start (then `keys + ciphertexts`).
    /// AlexNet (`--key-memory-mb 3000`): 0.5 GB of keys beside its first step's 3.1 GB of
    /// ciphertexts, 3.0 GB beside the last pool's 1.0 GB; counting the final keys beside the
    /// first step's ciphertexts put the peak 40% above the measured one (6,986 MB for 5,004).
    public var keysWithCiphertexts: Int?
    /// The keys resident while the input is read (on demand: the relinearization key alone).
    public var keysBeforeSteps: Int?

    /// The peak: the largest of the moment the keys are read (weights, key file and keys), the
    /// moment the input is read (keys, the frame and its decoded message) and the steps (keys,
    /// ciphertexts, scratch).
    public var total: Int {
        baseline + weights + max(keys + keyFile, (keysBeforeSteps ?? keys) + 2 * input,
                                 (keysWithCiphertexts ?? keys + ciphertexts) + scratch)
    }

    /// What the process holds before it reads anything: code, the Swift runtime, thread stacks
    /// (he-tool's resident set before it opens a file is 20–30 MB on Linux).
    public static let baselineBytes = 28_000_000

    /// The estimate for `plan` with `weightCount` weights, evaluated with the keys `residentKeyBytes`
    /// (nil: every key, read whole).
    public static func server(plan: Plan, weightCount: Int, residentKeyBytes: Int? = nil) -> MemoryEstimate {
        server(parameters: plan.header.parameters, rotationKeys: plan.header.galoisKeyCount,
               inputCiphertexts: plan.header.inputLayout.tileCount, ciphertexts: plan.steps.map(\.estimatedPeakBytes).max() ?? 0,
               weightCount: weightCount, residentKeyBytes: residentKeyBytes,
               steps: plan.steps.map { (ciphertexts: $0.estimatedPeakBytes, keyBytes: $0.estimatedKeyBytes) })
    }

    /// The estimate of a plan with these parameters, `rotationKeys` Galois keys, an input of
    /// `inputCiphertexts` ciphertexts and a simulated peak of `ciphertexts` bytes; `steps` are
    /// each step's peak of ciphertexts and the Galois keys it is the first to read, cut at its
    /// levels (`PlannedStep.estimatedPeakBytes`, `estimatedKeyBytes`; none with keys: not known,
    /// the whole budget counts as resident throughout).
    public static func server(parameters p: CKKSParameters, rotationKeys: Int, inputCiphertexts: Int, ciphertexts: Int,
                              weightCount: Int, residentKeyBytes: Int? = nil,
                              steps: [(ciphertexts: Int, keyBytes: Int)] = []) -> MemoryEstimate {
        let n = p.degree
        let keyBasis = p.ciphertextPrimes.count + p.specialPrimes.count
        // In memory a key holds b and a (the file stores a's seed).
        let perKey = 2 * p.keySwitchDigits * keyBasis * n * 8
        let allKeys = (rotationKeys + 1) * perKey
        // On demand: the Galois keys cached within the budget, the one a key switch is using
        // (it may have just been evicted), and the relinearization key, which is always in memory.
        // With the plan's cut keys known: those read so far (each read once and kept) while the
        // budget holds them, else the budget and a key in use. AlexNet's 185 cuts were 4.4 GB;
        // under the default 6 GB budget, counting the whole budget put its peak at 10,159 MB
        // for 5,908 measured.
        let cutKeyBytes = steps.reduce(0) { $0 + $1.keyBytes }
        func resident(_ read: Int, budget: Int) -> Int {
            min(read, budget) + (read > budget ? perKey : 0) + perKey
        }
        var keysWithCiphertexts: Int?
        let keys = residentKeyBytes.map { budget in
            let budget = max(budget, perKey)
            guard cutKeyBytes > 0 else { return min(allKeys, min(budget, allKeys) + 2 * perKey) }
            var read = 0, together = 0
            for step in steps {
                read += step.keyBytes
                together = max(together, resident(read, budget: budget) + step.ciphertexts)
            }
            keysWithCiphertexts = together
            return resident(cutKeyBytes, budget: budget)
        } ?? allKeys
        // Per concurrent key switch: the decomposition (dnum polynomials over the extended
        // basis), the ModUp/ModDown temporaries and two accumulators over the same basis.
        let scratch = (p.keySwitchDigits + 5) * keyBasis * n * 8
        return MemoryEstimate(
            baseline: baselineBytes, weights: 8 * weightCount, keys: keys,
            input: seededInputBytes(ciphertexts: inputCiphertexts, parameters: p),
            ciphertexts: ciphertexts, scratch: scratch,
            keyFile: residentKeyBytes == nil ? perKey : 0,
            keysWithCiphertexts: keysWithCiphertexts, keysBeforeSteps: keysWithCiphertexts == nil ? nil : perKey)
    }

    /// Bytes of an encrypted input of `ciphertexts` seeded ciphertexts at the top level (each
    /// one polynomial; the other is its seed): its file frame, what `input` counts.
    public static func seededInputBytes(ciphertexts: Int, parameters p: CKKSParameters) -> Int {
        ciphertexts * p.ciphertextPrimes.count * p.degree * 8
    }

    /// One line: the total and its parts, in MB.
    public var description: String {
        func mb(_ b: Int) -> String { String(format: "%.0f", Double(b) / 1e6) }
        let together = keysWithCiphertexts.map { ", keys and ciphertexts at once \(mb($0))" } ?? ""
        return "\(mb(total)) MB (keys \(mb(keys)), ciphertexts \(mb(ciphertexts))\(together), key-switching scratch \(mb(scratch)), input \(mb(input)), weights \(mb(weights)), process \(mb(baseline)))"
    }
}
