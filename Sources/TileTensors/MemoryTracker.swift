/// Live-memory accounting for a simulated run: the bytes the real CKKS objects would occupy
/// (every ciphertext and plaintext the mock holds, at its level and component count), and the
/// peak since the last `resetPeak`. The kernels are the same generic code on both backends, so
/// the objects alive at each moment of a mock run are those of the server's run: this is how
/// the compiler predicts the resident memory of a plan's steps (hoisted rotations, plaintexts in
/// flight, accumulators) without running it.
///
/// It also counts the ring polynomials alive (a ciphertext's components, a plaintext's one), so
/// that a simulation run with more levels than the plan's parameters keep can be converted:
/// with every level d primes lower, the bytes are `bytes − d·polynomials·N·8`.
public final class MemoryTracker {
    /// Bytes and ring polynomials alive now.
    public private(set) var current = 0, currentPolynomials = 0
    /// The most bytes alive at once since the tracker was made or `resetPeak` was called, and
    /// the polynomials alive at that moment.
    public private(set) var peak = 0, peakPolynomials = 0

    public init() {}

    /// Starts a new peak from what is alive now.
    public func resetPeak() {
        peak = current
        peakPolynomials = currentPolynomials
    }

    func allocate(_ bytes: Int, polynomials: Int) {
        current += bytes
        currentPolynomials += polynomials
        if current > peak {
            peak = current
            peakPolynomials = currentPolynomials
        }
    }

    func release(_ bytes: Int, polynomials: Int) {
        current -= bytes
        currentPolynomials -= polynomials
    }
}

/// The bytes of one simulated object, counted alive for as long as a mock ciphertext or
/// plaintext refers to it (copies of a value share it, as copies of a CKKS value share storage).
final class LiveBytes {
    let bytes: Int, polynomials: Int
    let tracker: MemoryTracker

    init(_ bytes: Int, polynomials: Int, tracker: MemoryTracker) {
        self.bytes = bytes
        self.polynomials = polynomials
        self.tracker = tracker
        tracker.allocate(bytes, polynomials: polynomials)
    }

    deinit { tracker.release(bytes, polynomials: polynomials) }
}
