import CKKS
import Foundation
import HEMath

/// What reading a Galois key from its file costs on this machine, per megabyte of the key as
/// held in memory: a key file larger than one he-tool file (2 GiB) is always read key by key
/// when a step first needs a key (`GaloisKeyStore`: `pread` of the limbs, each checked against
/// its SHA-256, the uniform half expanded again from its seed). AlexNet's plan reads 5 GB of
/// keys so: 8.8 s of a 1,011-s evaluation, 2.8 s of them in the layout conversion that reads
/// 112 keys.
///
/// Measured through the real reader: keys of a small ring written to a temporary file (so in
/// the page cache, as after `keygen` or a server's first evaluation) and read back with at
/// most one key kept, each read a whole key on one thread; the store's own read time over its
/// bytes. One thread, because in an evaluation the worker that needs a key reads it while the
/// others compute their key switches: AlexNet's steps read at 1.2–2.4 ms per MB (2.6–2.8 in
/// its first step), where two idle threads read at 0.73 and one at 1.11 on the same machine.
public struct KeyReadCost: Sendable {
    /// Ring of the probe's keys (log N).
    public var logDegree: Int
    /// Galois keys in the probe's file; each is read `rounds` times.
    public var keys: Int
    public var rounds: Int

    /// N = 16384, 5 digits of one prime: 7.9 MB a key, 4 keys read 6 times each (190 MB), about
    /// half a second once per machine and thread count.
    public init(logDegree: Int = 14, keys: Int = 4, rounds: Int = 6) {
        precondition(keys >= 2 && rounds >= 1, "at least two keys (one is kept), read at least once")
        self.logDegree = logDegree
        self.keys = keys
        self.rounds = rounds
    }

    /// Microseconds per megabyte (10^6 bytes) of keys read on `threads` threads per read (1:
    /// as an evaluation's workers read them); nil when the probe's file cannot be written or
    /// read (then the cost model prices no reads).
    public func measure(threads: Int = 1) -> Double? {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("he-tool-key-read-\(ProcessInfo.processInfo.processIdentifier)-\(UInt64.random(in: 0...UInt64.max)).heevk")
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            let parameters = try CKKSParameters(logDegree: logDegree, primeBits: [60, 40, 40, 40, 40], specialPrimeBits: [60],
                                                logScale: 40, keySwitchDigits: 5, security: .insecureTestingOnly)
            let context = try CKKSContext(parameters: parameters)
            let keygen = KeyGenerator(context: context)
            let written = try keygen.evaluationKeys(for: keygen.secretKey(), rotations: Array(1...keys))
            try CKKSFile.write(CKKSFile.serialize(written), to: url, ownerOnly: true)
            let stored = try CKKSFile.openEvaluationKeys(path: url.path, context: context, residentBytes: 1, readThreads: threads)
            guard let store = stored.store else { return nil }
            // One key is kept: taking them in turn reads every one anew.
            let elements = (1...keys).map { context.galoisElement(forStep: $0) }
            let before = store.statistics
            for _ in 0..<rounds {
                for g in elements { _ = try stored.galoisKey(element: g) }
            }
            let after = store.statistics
            let bytes = after.readBytes - before.readBytes, seconds = after.readSeconds - before.readSeconds
            guard bytes > 0, seconds > 0 else { return nil }
            return seconds * 1e6 / (Double(bytes) / 1e6)
        } catch {
            return nil
        }
    }
}
