import Foundation

/// One upload per key id at a time: when several clients (or one client's parallel requests,
/// each answered 409) send the same keys at once, the first is read and parsed and the others
/// wait for it instead of each holding and parsing another copy of a file of hundreds of MB.
final class UploadGate: @unchecked Sendable {
    private let lock = NSLock()
    private var active: Set<String> = []
    private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]

    /// Returns when the caller may upload `id`: at once when nobody else is uploading it,
    /// otherwise after the other upload has ended (the caller then checks whether it stored
    /// the keys). Every call must be followed by `end(id)`.
    func begin(_ id: String) async -> Bool {
        var waited = false
        while true {
            let mine = lock.withLock { () -> Bool in
                if active.contains(id) { return false }
                active.insert(id)
                return true
            }
            if mine { return waited }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let queued = lock.withLock { () -> Bool in
                    guard active.contains(id) else { return false }
                    waiters[id, default: []].append(c)
                    return true
                }
                if !queued { c.resume() }
            }
            waited = true
        }
    }

    func end(_ id: String) {
        let resumed = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
            active.remove(id)
            return waiters.removeValue(forKey: id) ?? []
        }
        for c in resumed { c.resume() }
    }
}
