import Crypto
import _CryptoExtras
import Foundation

/// A deterministic stream of pseudorandom words expanded from a `Seed` with ChaCha20.
///
/// The stream named by (seed, domain, index) is the ChaCha20 keystream (RFC 8439) with
///
///     key     = the seed's 32 bytes,
///     nonce   = domain as 8 bytes little-endian ‖ index as 4 bytes little-endian,
///     counter = 0, 1, 2, … (one 64-byte block each),
///
/// read as consecutive little-endian 64-bit words: word k is keystream bytes 8k … 8k+7.
/// The keystream comes from swift-crypto's `Insecure.ChaCha20CTR` (BoringSSL's vectorised
/// ChaCha20) encrypting zeros; nothing here implements the cipher.
///
/// Why this is sound: ChaCha20 is a PRF keyed by the seed, so for a uniformly random seed the
/// streams of distinct (domain, index) pairs are computationally indistinguishable from
/// independent uniform bit strings. `domain` separates the different uses of one seed (for
/// example the uniform `a` of each key) and `index` numbers sub-streams within a use (for
/// example one per RNS limb), so no two uses share keystream. The same triple always yields
/// the same words, on every platform, which is what lets a file store a seed instead of a
/// polynomial.
///
/// Cost: the keystream is produced in chunks of `chunkByteCount` bytes (512 ChaCha20 blocks per
/// call), so the per-word cost is a buffer read plus 1/4096 of a call. Each call allocates (the
/// key's copy, the keystream's `Data`): with 4 KiB chunks a full-batch input's expansion made
/// about 600,000 allocations, and its two threads waited on the allocator's one lock. A stream
/// holds at most 2^32 blocks (256 GiB); reading past that is a precondition failure rather than
/// a repeat.
public struct SeededStream: RandomNumberGenerator, Sendable {
    /// Bytes of keystream generated per refill: 32 KiB, 512 ChaCha20 blocks, 4,096 words (a
    /// limb of N = 16384 in four refills). The words do not depend on it.
    public static let chunkByteCount = 32_768
    static let wordsPerChunk = chunkByteCount / 8
    static let blocksPerChunk = UInt64(chunkByteCount / 64)
    /// The plaintext encrypted to get keystream (ciphertext = 0 ⊕ keystream).
    private static let zeros = Data(count: chunkByteCount)

    /// The seed (the ChaCha20 key).
    public let seed: Seed
    /// The domain-separation tag (first 8 nonce bytes).
    public let domain: UInt64
    /// The sub-stream number (last 4 nonce bytes).
    public let index: UInt32

    private let nonce: Insecure.ChaCha20CTR.Nonce
    /// The current chunk, as words in host order after `UInt64(littleEndian:)` at read time.
    private var words: [UInt64]
    /// The next unread word of `words`; `wordsPerChunk` means "refill first".
    private var position: Int
    /// The ChaCha20 block counter of the next chunk (a UInt64 so that running past 2^32 is seen).
    private var nextBlock: UInt64

    /// The stream named by (seed, domain, index), positioned at its first word.
    public init(seed: Seed, domain: UInt64, index: UInt32) {
        self.seed = seed
        self.domain = domain
        self.index = index
        var nonceBytes = [UInt8]()
        nonceBytes.reserveCapacity(12)
        for k in 0..<8 { nonceBytes.append(UInt8(truncatingIfNeeded: domain >> (8 * k))) }
        for k in 0..<4 { nonceBytes.append(UInt8(truncatingIfNeeded: index >> (8 * k))) }
        // Twelve bytes by construction, the only way `Nonce(data:)` can throw.
        self.nonce = try! Insecure.ChaCha20CTR.Nonce(data: nonceBytes)
        self.words = [UInt64](repeating: 0, count: SeededStream.wordsPerChunk)
        self.position = SeededStream.wordsPerChunk
        self.nextBlock = 0
    }

    /// Generates the next `chunkByteCount` bytes of keystream into `words`.
    private mutating func refill() {
        precondition(nextBlock < (1 << 32), "SeededStream exhausted: ChaCha20's 32-bit block counter would wrap")
        // The key is rebuilt per chunk (one 32-byte copy per 4 KiB) rather than stored, because
        // `SymmetricKey` is not `Sendable`. Both throws are ruled out by construction: a
        // 256-bit key and an in-range counter.
        let key = SymmetricKey(data: seed.bytes)
        let counter = try! Insecure.ChaCha20CTR.Counter(offset: UInt32(nextBlock))
        let keystream = try! Insecure.ChaCha20CTR.encrypt(SeededStream.zeros, using: key,
                                                          counter: counter, nonce: nonce)
        precondition(keystream.count == SeededStream.chunkByteCount)
        keystream.withUnsafeBytes { source in
            words.withUnsafeMutableBytes { $0.copyMemory(from: source) }
        }
        nextBlock += SeededStream.blocksPerChunk
        position = 0
    }

    /// The next 64-bit word: the next 8 keystream bytes read little-endian.
    @inline(__always)
    public mutating func nextWord() -> UInt64 {
        if position == SeededStream.wordsPerChunk { refill() }
        let word = UInt64(littleEndian: words[position])
        position &+= 1
        return word
    }

    /// The next words masked by `mask`, each kept when below `bound` and skipped otherwise,
    /// into `out` until it is full: the same values, and the stream left at the same word, as
    /// `x = nextWord() & mask` repeated with the rejected ones drawn again (`Sampler`'s
    /// rejection sampling), read chunk by chunk in place (a full-batch input expands 77 M of them).
    public mutating func fillMasked(_ out: UnsafeMutableBufferPointer<UInt64>, mask: UInt64, below bound: UInt64) {
        guard let target = out.baseAddress else { return }
        let n = out.count
        var j = 0
        while j < n {
            if position == Self.wordsPerChunk { refill() }
            let start = position
            let end = words.withUnsafeBufferPointer { w -> Int in
                var p = start
                let source = w.baseAddress!
                while p < Self.wordsPerChunk && j < n {
                    let x = UInt64(littleEndian: source[p]) & mask
                    p &+= 1
                    target[j] = x
                    j &+= x < bound ? 1 : 0
                }
                return p
            }
            position = end
        }
    }

    /// A double uniform in [0, 1): the top 53 bits of the next word times 2^−53.
    ///
    /// Every value k·2^−53 (0 ≤ k < 2^53) is equally likely and each is exactly representable,
    /// so this is the uniform distribution on that grid with no rounding bias.
    @inline(__always)
    public mutating func nextDouble() -> Double {
        Double(nextWord() >> 11) * 0x1p-53
    }

    /// The next `count` bytes of the stream. Consumes ⌈count/8⌉ whole words (the unused tail
    /// of the last word is dropped), so the stream stays word-aligned.
    public mutating func nextBytes(count: Int) -> [UInt8] {
        precondition(count >= 0)
        var bytes = [UInt8]()
        bytes.reserveCapacity(count)
        while bytes.count < count {
            let word = nextWord()
            for k in 0..<min(8, count - bytes.count) {
                bytes.append(UInt8(truncatingIfNeeded: word >> (8 * k)))
            }
        }
        return bytes
    }

    /// A seed taken from the next 32 bytes, e.g. the seed of a uniform polynomial drawn during
    /// an encryption whose other randomness comes from this stream.
    public mutating func nextSeed() -> Seed {
        Seed(validBytes: nextBytes(count: Seed.byteCount))
    }

    /// `RandomNumberGenerator`: the next word, so `Int.random(in:using:)` and friends work.
    @inline(__always)
    public mutating func next() -> UInt64 {
        nextWord()
    }
}
