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
    private let lock = NSLock()
    private var cache: [Cut: KeySwitchKey] = [:]
    private var recent: [Cut] = []
    private var held = 0
    private var reads = 0

    init(handle: RegularFile.Handle, context: CKKSContext, entries: [UInt64: Entry], residentBytes: Int) {
        self.handle = handle
        self.context = context
        self.entries = entries
        self.residentBytes = residentBytes
    }

    /// The Galois elements the file holds.
    public var elements: Set<UInt64> { Set(entries.keys) }

    /// How many keys were read from the file so far, and the bytes of those in memory now.
    public var statistics: (reads: Int, residentBytes: Int) { lock.withLock { (reads, held) } }

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
    /// from the file when it is not in memory; nil when the file has none.
    /// - Throws: `CKKSError.invalidFormat` when the file changed since it was opened.
    func key(_ g: UInt64, level: Int) throws -> KeySwitchKey? {
        guard let entry = entries[g] else { return nil }
        precondition((0...context.maxLevel).contains(level), "a level of the context")
        let cut = Cut(element: g, level: level)
        return try lock.withLock {
            if let key = cache[cut] {
                recent.removeAll { $0 == cut }
                recent.append(cut)
                return key
            }
            let key = try read(entry, element: g, level: level)
            reads += 1
            let size = key.residentBytes
            while held + size > residentBytes, let oldest = recent.first {
                recent.removeFirst()
                held -= cache.removeValue(forKey: oldest)?.residentBytes ?? 0
            }
            cache[cut] = key
            recent.append(cut)
            held += size
            return key
        }
    }

    /// Reads the limbs key switching at `level` uses: for each digit d < dnum(level), key limbs
    /// 0 … level and the special ones (two runs of the file), each checked against its digest.
    private func read(_ entry: Entry, element g: UInt64, level: Int) throws -> KeySwitchKey {
        let n = context.degree, keyLimbs = context.keyBasis.count
        let special = context.specialBasis.count, top = context.maxLevel
        let digits = context.keySwitchPlans[level].digits.count
        let e = level + 1 + special
        // (first key limb, limbs, first limb of the cut key)
        let runs = [(0, level + 1, 0), (top + 1, special, level + 1)]
        var b = [UInt64](repeating: 0, count: digits * e * n)
        var a = [UInt64](repeating: 0, count: digits * e * n)
        func load(_ offset: Int, digestBase: Int, into target: inout [UInt64], digit d: Int) throws {
            for (first, count, at) in runs {
                let bytes: [UInt8]
                do { bytes = try handle.read(at: offset + 8 * (d * keyLimbs + first) * n, count: 8 * count * n) } catch {
                    throw CKKSError.invalidFormat("\(handle.path): the Galois key of element \(g) cannot be read again (\(error)); the file changed after it was opened")
                }
                try bytes.withUnsafeBytes { raw in
                    for t in 0..<count {
                        let limb = UnsafeRawBufferPointer(rebasing: raw[(8 * t * n)..<(8 * (t + 1) * n)])
                        let index = digestBase + d * keyLimbs + first + t
                        guard SHA256.hash(data: limb).elementsEqual(entry.limbDigests[(32 * index)..<(32 * index + 32)]) else {
                            throw CKKSError.invalidFormat("\(handle.path): the Galois key of element \(g) changed after the file was opened; give the server the keys again")
                        }
                        target.withUnsafeMutableBytes { out in
                            out.baseAddress!.advanced(by: 8 * (d * e + at + t) * n).copyMemory(from: limb.baseAddress!, byteCount: 8 * n)
                        }
                    }
                }
            }
        }
        for d in 0..<digits {
            try load(entry.bOffset, digestBase: 0, into: &b, digit: d)
            if let aOffset = entry.aOffset {
                try load(aOffset, digestBase: context.keySwitchPlans[top].digits.count * keyLimbs, into: &a, digit: d)
            } else if let seed = entry.seed {
                // a_d limb i is the uniform stream (seed, domain d, index i) of the whole key.
                a.withUnsafeMutableBufferPointer { out in
                    let base = out.baseAddress!
                    RNSParallelism.forEachLimb(count: e, degree: n) { j in
                        let i = j <= level ? j : top + 1 + (j - level - 1)
                        var stream = SeededStream(seed: seed, domain: UInt64(d), index: UInt32(i))
                        Sampler.fillUniform(UnsafeMutableBufferPointer(start: base + (d * e + j) * n, count: n),
                                            modulus: self.context.keyBasis.moduli[i], using: &stream)
                    }
                }
            }
        }
        return KeySwitchKey(context: context, digitCount: digits, b: b, a: a, seed: level == top ? entry.seed : nil,
                            level: level == top ? nil : level)
    }
}
