import Crypto
import Foundation
import RegularFiles

/// Galois keys that stay in their file until a rotation needs them: each is read (`pread`),
/// checked against the SHA-256 its entry had when the file was opened and validated, decoded,
/// and kept while the keys in memory stay within `residentBytes` (least recently used first
/// out). So a plan's key set may be larger than the memory it runs in: only the keys of the
/// steps running are resident (issue 17's "keys on demand"; a ResNet-20 at N = 65536 has 106 of
/// 400 MB each).
public final class GaloisKeyStore: @unchecked Sendable {
    struct Entry {
        let offset: Int
        let length: Int
        let digest: [UInt8]
    }

    let handle: RegularFile.Handle
    let context: CKKSContext
    let entries: [UInt64: Entry]
    /// The most bytes of decoded keys kept at once (at least one key is kept).
    public let residentBytes: Int
    private let lock = NSLock()
    private var cache: [UInt64: KeySwitchKey] = [:]
    private var recent: [UInt64] = []
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

    /// Bytes one decoded key-switching key of `context` holds.
    public static func keyBytes(_ context: CKKSContext) -> Int {
        2 * context.keySwitchPlans[context.maxLevel].digits.count * context.keyBasis.count * context.degree * MemoryLayout<UInt64>.size
    }

    /// The key of element `g`, read from the file when it is not in memory; nil when the file
    /// has none.
    /// - Throws: `CKKSError.invalidFormat` when the file changed since it was opened.
    func key(_ g: UInt64) throws -> KeySwitchKey? {
        guard let entry = entries[g] else { return nil }
        return try lock.withLock {
            if let key = cache[g] {
                recent.removeAll { $0 == g }
                recent.append(g)
                return key
            }
            let bytes: [UInt8]
            do { bytes = try handle.read(at: entry.offset, count: entry.length) } catch {
                throw CKKSError.invalidFormat("\(handle.path): the Galois key of element \(g) cannot be read again (\(error)); the file changed after it was opened")
            }
            guard Array(SHA256.hash(data: bytes)) == entry.digest else {
                throw CKKSError.invalidFormat("\(handle.path): the Galois key of element \(g) changed after the file was opened; give the server the keys again")
            }
            let key = try CKKSFile.galoisKey(bytes, context: context, index: nil).key
            reads += 1
            let size = Self.keyBytes(context)
            while held + size > residentBytes, let oldest = recent.first {
                recent.removeFirst()
                cache[oldest] = nil
                held -= size
            }
            cache[g] = key
            recent.append(g)
            held += size
            return key
        }
    }
}
