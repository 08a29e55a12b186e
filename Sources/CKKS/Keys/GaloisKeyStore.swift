import Crypto
import Foundation
import HEMath
import RegularFiles

/// Galois keys that stay in their file until a rotation needs them, read only as far as the
/// rotation's level needs: key switching at level l reads digits 0 ..< dnum(l) over Q_l·P, a
/// fraction of the whole key (at N = 65536 a whole key decodes to 411 MB; at level 18 of 51 it
/// needs 69 MB). Each read (`pread` of the limbs' residues) is checked against the SHA-256 each
/// limb had when the file was opened and validated; the uniform a of a seeded key is expanded
/// again for those limbs only. Cut keys are kept, least recently used first out, while they
/// stay within `residentBytes`. So a plan's key set may be far larger than the memory it runs
/// in (issue 17's "keys on demand"; a ResNet-20 at N = 65536 has 106 keys, 22 GB in the file).
public final class GaloisKeyStore: @unchecked Sendable {
    struct Entry {
        /// File offset of b's residues: digit d, key limb i at 8·(d·K + i)·N.
        let bOffset: Int
        /// File offset of a's residues, same layout, when the file stores a (not its seed).
        let aOffset: Int?
        /// The seed a was expanded from, when the file stores that.
        let seed: Seed?
        /// SHA-256 of each limb of b (index d·K + i), then of a when stored: 32 bytes each.
        let limbDigests: [UInt8]
    }

    private struct Cut: Hashable {
        let element: UInt64
        let level: Int
    }

    let handle: RegularFile.Handle
    let context: CKKSContext
    let entries: [UInt64: Entry]
    /// The most bytes of keys kept at once (at least one key is kept).
    public let residentBytes: Int
    /// Threads one read spreads its limbs over (file reads, digests, the expansion of a): a
    /// thread that needs a key being read waits for it, so the reader takes the idle cores.
    public let readThreads: Int
    private let condition = NSCondition()
    private var cache: [Cut: KeySwitchKey] = [:]
    private var recent: [Cut] = []
    /// Cuts a thread is reading now (outside the lock): others wanting one wait for it.
    private var reading: Set<Cut> = []
    private var held = 0
    private var counters = Statistics()

    init(handle: RegularFile.Handle, context: CKKSContext, entries: [UInt64: Entry], residentBytes: Int, readThreads: Int = 1) {
        self.handle = handle
        self.context = context
        self.entries = entries
        self.residentBytes = residentBytes
        self.readThreads = max(1, readThreads)
    }

    /// The Galois elements the file holds.
    public var elements: Set<UInt64> { Set(entries.keys) }

    /// What the store has done so far.
    public struct Statistics: Sendable, Equatable {
        /// Keys (cut at a level) read from the file.
        public var reads = 0
        /// Bytes of those keys as held in memory.
        public var readBytes = 0
        /// Seconds spent reading them (each read's wall time, summed).
        public var readSeconds = 0.0
        /// Bytes of keys in memory now.
        public var residentBytes = 0

        public init() {}
    }

    /// How many keys were read from the file so far, their bytes and time, and the bytes of
    /// keys in memory now.
    public var statistics: Statistics {
        condition.lock()
        defer { condition.unlock() }
        var s = counters
        s.residentBytes = held
        return s
    }

    /// Bytes one whole decoded key-switching key of `context` holds.
    public static func keyBytes(_ context: CKKSContext) -> Int {
        keyBytes(context, level: context.maxLevel)
    }

    /// Bytes of a key cut for key switching at `level`.
    public static func keyBytes(_ context: CKKSContext, level: Int) -> Int {
        let limbs = level + 1 + context.specialBasis.count
        return 2 * context.keySwitchPlans[level].digits.count * limbs * context.degree * MemoryLayout<UInt64>.size
    }

    /// The key of element `g` cut for key switching at `level` (whole at the top level), read
    /// from the file when it is not in memory; nil when the file has none. A key another
    /// thread is reading is waited for, not read twice; different keys are read at once.
    /// - Throws: `CKKSError.invalidFormat` when the file changed since it was opened.
    func key(_ g: UInt64, level: Int) throws -> KeySwitchKey? {
        guard let entry = entries[g] else { return nil }
        precondition((0...context.maxLevel).contains(level), "a level of the context")
        let cut = Cut(element: g, level: level)
        condition.lock()
        while true {
            if let key = cache[cut] {
                recent.removeAll { $0 == cut }
                recent.append(cut)
                condition.unlock()
                return key
            }
            guard reading.contains(cut) else { break }
            condition.wait()
        }
        reading.insert(cut)
        condition.unlock()
        let start = DispatchTime.now().uptimeNanoseconds
        let key: KeySwitchKey
        do {
            key = try read(entry, element: g, level: level)
        } catch {
            condition.lock()
            reading.remove(cut)
            condition.broadcast()
            condition.unlock()
            throw error
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        condition.lock()
        defer { condition.unlock() }
        reading.remove(cut)
        counters.reads += 1
        counters.readBytes += key.residentBytes
        counters.readSeconds += seconds
        let size = key.residentBytes
        while held + size > residentBytes, let oldest = recent.first {
            recent.removeFirst()
            held -= cache.removeValue(forKey: oldest)?.residentBytes ?? 0
        }
        cache[cut] = key
        recent.append(cut)
        held += size
        condition.broadcast()
        return key
    }

    /// Reads the limbs key switching at `level` uses: for each digit d < dnum(level), key limbs
    /// 0 … level and the special ones, each checked against its digest (a stored a likewise; a
    /// seeded a expanded again for those limbs). Limbs are independent: they are dealt to
    /// `readThreads` threads, each reading, checking and placing whole limbs.
    private func read(_ entry: Entry, element g: UInt64, level: Int) throws -> KeySwitchKey {
        let n = context.degree, keyLimbs = context.keyBasis.count
        let special = context.specialBasis.count, top = context.maxLevel
        let digits = context.keySwitchPlans[level].digits.count
        let e = level + 1 + special
        // Limb j of the cut key is key limb i(j): 0 … level, then the special ones.
        func keyLimb(_ j: Int) -> Int { j <= level ? j : top + 1 + (j - level - 1) }
        let aDigestBase = context.keySwitchPlans[top].digits.count * keyLimbs
        var b = [UInt64](repeating: 0, count: digits * e * n)
        var a = [UInt64](repeating: 0, count: digits * e * n)
        let failure = Locked<Error?>(nil)
        b.withUnsafeMutableBufferPointer { bOut in
            a.withUnsafeMutableBufferPointer { aOut in
                let (bBase, aBase) = (bOut.baseAddress!, aOut.baseAddress!)
                // Loads limb (d, j) of b (half 0) or a (half 1) from the file into its place.
                func load(_ offset: Int, digestBase: Int, into base: UnsafeMutablePointer<UInt64>, digit d: Int, limb j: Int) throws {
                    let i = keyLimb(j)
                    let index = digestBase + d * keyLimbs + i
                    let target = UnsafeMutableRawBufferPointer(start: base + (d * e + j) * n, count: 8 * n)
                    do { try handle.read(at: offset + 8 * (d * keyLimbs + i) * n, into: target) } catch {
                        throw CKKSError.invalidFormat("\(handle.path): the Galois key of element \(g) cannot be read again (\(error)); the file changed after it was opened")
                    }
                    guard SHA256.hash(data: UnsafeRawBufferPointer(target)).elementsEqual(entry.limbDigests[(32 * index)..<(32 * index + 32)]) else {
                        throw CKKSError.invalidFormat("\(handle.path): the Galois key of element \(g) changed after the file was opened; give the server the keys again")
                    }
                }
                let jobs = 2 * digits * e
                let workers = min(readThreads, jobs)
                let run = { (w: Int) in
                    var k = w
                    while k < jobs, failure.withLock({ $0 == nil }) {
                        let (half, rest) = (k / (digits * e), k % (digits * e))
                        let (d, j) = (rest / e, rest % e)
                        do {
                            if half == 0 {
                                try load(entry.bOffset, digestBase: 0, into: bBase, digit: d, limb: j)
                            } else if let aOffset = entry.aOffset {
                                try load(aOffset, digestBase: aDigestBase, into: aBase, digit: d, limb: j)
                            } else if let seed = entry.seed {
                                // a_d limb i is the uniform stream (seed, domain d, index i) of the whole key.
                                let i = keyLimb(j)
                                var stream = SeededStream(seed: seed, domain: UInt64(d), index: UInt32(i))
                                Sampler.fillUniform(UnsafeMutableBufferPointer(start: aBase + (d * e + j) * n, count: n),
                                                    modulus: self.context.keyBasis.moduli[i], using: &stream)
                            }
                        } catch {
                            failure.withLock { $0 = $0 ?? error }
                        }
                        k += workers
                    }
                }
                if workers > 1 {
                    DispatchQueue.concurrentPerform(iterations: workers, execute: run)
                } else {
                    run(0)
                }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return KeySwitchKey(context: context, digitCount: digits, b: b, a: a, seed: level == top ? entry.seed : nil,
                            level: level == top ? nil : level)
    }
}
