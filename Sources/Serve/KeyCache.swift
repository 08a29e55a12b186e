import CKKS
import Foundation

/// The server's evaluation keys by id, bounded in memory and spilling to a directory.
///
/// Keys are kept parsed in memory (an evaluation needs them parsed, and parsing a seeded key
/// file re-expands half of it), accounted at the size of their residues. Every uploaded file
/// is also written to the spill directory (owner-only, named `<id>.heevk`, atomically), so
/// evicting the least recently used parsed keys when memory passes its bound only drops the
/// parsed copy; a later request reads the file back, checks its SHA-256 against the id and
/// parses it again. The directory has its own bound: past it the least recently used files
/// that are not in memory are deleted (their clients then get a 409 and upload again).
/// Thread-safe: one lock guards the tables; files are read, written and parsed outside it.
public final class KeyCache: @unchecked Sendable {
    /// The cache's size, for metrics and tests.
    public struct Statistics: Sendable, Equatable {
        public var memoryBytes: Int
        public var memoryEntries: Int
        public var spillBytes: Int
        public var spillEntries: Int
    }

    /// Where a lookup found the keys.
    public enum Source: String, Sendable { case memory, spill }

    private struct Resident {
        var keys: EvaluationKeys
        var bytes: Int
    }

    private let lock = NSLock()
    private var resident: [String: Resident] = [:]
    /// Files in the spill directory: id → (file size, last use).
    private var files: [String: (bytes: Int, lastUse: UInt64)] = [:]
    private var memoryBytes = 0
    private var spillBytes = 0
    private var clock: UInt64 = 0

    /// Bytes of parsed keys kept in memory.
    public let memoryCapacity: Int
    /// Bytes of key files kept in the spill directory.
    public let spillCapacity: Int
    public let directory: URL
    private let onChange: @Sendable (Statistics) -> Void

    /// Opens (creating, mode 0700) the spill directory and adopts the key files already in it
    /// (a restarted server keeps its clients' keys; each is checked against its id when read).
    /// - Throws: `CKKSError.fileSystem` when the directory cannot be made or listed.
    public init(memoryCapacity: Int, directory: URL, spillCapacity: Int,
                onChange: @escaping @Sendable (Statistics) -> Void = { _ in }) throws {
        precondition(memoryCapacity >= 0 && spillCapacity >= 0, "cache bounds are not negative")
        self.memoryCapacity = memoryCapacity
        self.spillCapacity = spillCapacity
        self.directory = directory
        self.onChange = onChange
        let fm = FileManager.default
        do {
            try fm.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try fm.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory.path)
            for name in try fm.contentsOfDirectory(atPath: directory.path) {
                let path = directory.appendingPathComponent(name).path
                if name.hasPrefix("."), name.contains(".tmp-") {
                    try? fm.removeItem(atPath: path)  // a write that never finished
                    continue
                }
                guard name.hasSuffix(".heevk"), KeyID.isWellFormed(String(name.dropLast(6))) else { continue }
                let size = (try fm.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
                files[String(name.dropLast(6))] = (size, 0)
                spillBytes += size
            }
        } catch {
            throw CKKSError.fileSystem("cannot use \(directory.path) as the key spill directory: \(error.localizedDescription)")
        }
        lock.withLock { evictLocked() }
        publish()
    }

    /// Bytes the parsed `keys` hold in memory: two polynomials over the key basis per digit
    /// of each key-switching key.
    public static func memorySize(_ keys: EvaluationKeys) -> Int {
        var all = Array(keys.galois.values)
        if let r = keys.relinearization { all.append(r) }
        return all.reduce(0) { $0 + 2 * $1.digitCount * $1.context.keyBasis.count * $1.context.degree * MemoryLayout<UInt64>.size }
    }

    public var statistics: Statistics { lock.withLock { statisticsLocked() } }

    /// Whether the cache holds keys with this id (in memory or in the directory).
    public func contains(_ id: String) -> Bool {
        guard KeyID.isWellFormed(id) else { return false }
        // Files another replica wrote into a shared directory count too.
        return lock.withLock { resident[id] != nil || files[id] != nil } || FileManager.default.fileExists(atPath: url(id).path)
    }

    /// Stores keys that were uploaded as `fileBytes` (parsed and judged by the caller): the file
    /// into the directory, the parsed keys into memory.
    /// - Returns: false when the cache held them already (the upload is idempotent).
    /// - Throws: `CKKSError.fileSystem` when the file cannot be written.
    @discardableResult
    public func insert(id: String, keys: EvaluationKeys, fileBytes: [UInt8]) throws -> Bool {
        precondition(KeyID.isWellFormed(id), "ids are checked by the caller")
        let known = lock.withLock { () -> Bool in
            if resident[id] != nil { touchLocked(id); return true }
            return false
        }
        if known { return false }
        let onDisk = lock.withLock { files[id] != nil }
        if !onDisk { try CKKSFile.write(fileBytes, to: url(id), ownerOnly: true) }
        lock.withLock { admitLocked(id, keys: keys, fileSize: fileBytes.count) }
        publish()
        return !onDisk
    }

    /// The keys with this id: from memory, or read back from the directory, checked against
    /// the id and parsed with `parse`; nil when the cache does not hold them (a file whose
    /// hash no longer matches its name is deleted and counts as absent).
    public func keys(_ id: String, parse: ([UInt8]) throws -> EvaluationKeys) throws -> (EvaluationKeys, Source)? {
        guard KeyID.isWellFormed(id) else { return nil }
        let hit = lock.withLock { () -> EvaluationKeys? in
            guard let r = resident[id] else { return nil }
            touchLocked(id)
            return r.keys
        }
        if let hit { return (hit, .memory) }
        let file = url(id)
        // Files another replica wrote into a shared directory count too.
        guard lock.withLock({ files[id] != nil }) || FileManager.default.fileExists(atPath: file.path) else { return nil }
        let bytes: [UInt8]
        do { bytes = try CKKSFile.read(from: file) } catch { forget(id); return nil }
        guard KeyID.of(bytes) == id else {
            try? FileManager.default.removeItem(at: file)
            forget(id)
            return nil
        }
        let keys = try parse(bytes)
        lock.withLock { admitLocked(id, keys: keys, fileSize: bytes.count) }
        publish()
        return (keys, .spill)
    }

    /// Records the file of `id` (once) and its parsed keys in memory (once), marks it most
    /// recently used and evicts past the bound. Call with the lock held.
    private func admitLocked(_ id: String, keys: EvaluationKeys, fileSize: Int) {
        if files[id] == nil {
            files[id] = (fileSize, 0)
            spillBytes += fileSize
        }
        if resident[id] == nil {
            let size = Self.memorySize(keys)
            resident[id] = Resident(keys: keys, bytes: size)
            memoryBytes += size
        }
        touchLocked(id)
        evictLocked()
    }

    private func url(_ id: String) -> URL { directory.appendingPathComponent("\(id).heevk") }

    private func forget(_ id: String) {
        lock.withLock {
            if let f = files.removeValue(forKey: id) { spillBytes -= f.bytes }
            if let r = resident.removeValue(forKey: id) { memoryBytes -= r.bytes }
        }
        publish()
    }

    private func touchLocked(_ id: String) {
        clock += 1
        files[id]?.lastUse = clock
    }

    /// Least recently used first: parsed keys past the memory bound, then files (not in
    /// memory) past the directory bound.
    private func evictLocked() {
        while memoryBytes > memoryCapacity,
              let lru = resident.keys.min(by: { (files[$0]?.lastUse ?? 0) < (files[$1]?.lastUse ?? 0) }) {
            memoryBytes -= resident.removeValue(forKey: lru)!.bytes
        }
        while spillBytes > spillCapacity,
              let lru = files.filter({ resident[$0.key] == nil }).min(by: { $0.value.lastUse < $1.value.lastUse })?.key {
            spillBytes -= files.removeValue(forKey: lru)!.bytes
            try? FileManager.default.removeItem(at: url(lru))
        }
    }

    private func statisticsLocked() -> Statistics {
        Statistics(memoryBytes: memoryBytes, memoryEntries: resident.count, spillBytes: spillBytes, spillEntries: files.count)
    }

    private func publish() { onChange(statistics) }
}
