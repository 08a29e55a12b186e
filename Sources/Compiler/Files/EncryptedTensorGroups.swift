import CKKS
import Foundation
import HEMath
import RegularFiles
import TileTensors

/// A `.hect` file of one or more groups: each group one evaluation's worth of images (at most
/// the plan's batch), one framed `EncryptedTensor` message, the frames one after another in
/// group order. More images than the plan carries per evaluation are encrypted as several
/// groups; `eval` evaluates each and writes the results as groups in the same order; `decrypt`
/// prints every image in input order. A one-group file is a single frame, as before groups.
///
/// Read frame by frame: a reader holds one group at a time, so a file may hold more images than
/// fit in memory at once. Every frame says which group it is and how many the file holds, so
/// a file cut at a frame boundary, frames swapped, or a frame of another file spliced in is an
/// error, never a shorter or reordered answer.
public enum EncryptedTensorGroups {
    /// The file of `groups` (numbered 0 ..< count, each its own frame).
    public static func serialized(_ groups: [EncryptedTensorFile]) throws -> [UInt8] {
        var bytes: [UInt8] = []
        for (g, group) in groups.enumerated() {
            precondition(group.group == g && group.groups == groups.count, "groups numbered in order")
            bytes += try group.serialized()
        }
        return bytes
    }

    /// The groups of a file held in memory (`source` names it in errors).
    public static func read(_ bytes: [UInt8], source: String) throws -> [EncryptedTensorFile] {
        var groups: [EncryptedTensorFile] = []
        var checker = FrameOrder(source: source)
        var offset = 0
        while offset < bytes.count {
            guard let size = IntegrityFrame.frameSize(header: bytes[offset..<min(bytes.count, offset + IntegrityFrame.headerSize)],
                                                      limit: bytes.count - offset) else {
                // Not a frame at the start: the one-frame reader names what it is instead.
                if offset == 0 { _ = try EncryptedTensorFile.read(bytes, source: source) }
                throw checker.damaged(at: offset, of: bytes.count)
            }
            let group = try EncryptedTensorFile.read(Array(bytes[offset..<(offset + size)]), source: checker.name)
            try checker.accept(group)
            groups.append(group)
            offset += size
        }
        try checker.finish()
        return groups
    }

    /// Calls `body` with each group of the file at `path`, in order, reading one frame at a time.
    /// The group is handed over: nothing here keeps its bytes once `body` lets them go (an
    /// evaluation drops them once its ciphertexts are read, 617 MB for CryptoNets' full batch).
    public static func forEach(path: String, _ body: (consuming EncryptedTensorFile) throws -> Void) throws {
        try frames(path: path) { try body($0); return true }
    }

    /// The first group of the file at `path` (one evaluation's worth: what `bench eval` times),
    /// read alone.
    public static func first(path: String) throws -> EncryptedTensorFile {
        var first: EncryptedTensorFile?
        try frames(path: path) { first = $0; return false }
        return first!
    }

    /// Reads the frames of the file at `path` in order while `body` returns true; the checks
    /// across frames (`FrameOrder`) cover those read, and the whole file when every one is.
    private static func frames(path: String, _ body: (consuming EncryptedTensorFile) throws -> Bool) throws {
        let file: RegularFile.Handle
        do { file = try RegularFile.Handle(path: path) } catch let failure as RegularFile.Failure {
            throw CompilerError.invalidFile("\(path): \(failure)")
        }
        var checker = FrameOrder(source: path)
        var offset = 0
        do {
            while offset < file.size {
                let header = try file.read(at: offset, count: min(IntegrityFrame.headerSize, file.size - offset))
                guard let size = IntegrityFrame.frameSize(header: header[...], limit: min(file.size - offset, CKKSFile.maximumFileSize)) else {
                    // Not a frame at the start: the one-frame reader names what it is instead.
                    if offset == 0 { _ = try EncryptedTensorFile.read(header, source: path) }
                    throw checker.damaged(at: offset, of: file.size)
                }
                // Read in pieces on the threads in force (the caller's policy; every core outside one).
                let pieces = size >= 64 << 20 ? (ExecutionPolicy.current ?? .allCores).threads : 1
                let bytes = try file.read(at: offset, count: size, pieces: pieces) { count, body in
                    _ = try ExecutionPolicy.concurrentMap(count, body)
                }
                let group = try EncryptedTensorFile.read(bytes, source: checker.name)
                try checker.accept(group)
                offset += size
                guard try body(consume group) else { return }
            }
        } catch let failure as RegularFile.Failure {
            throw CompilerError.invalidFile("\(path): \(failure)")
        }
        try checker.finish()
    }

    /// The checks across a file's frames: group g is the g-th frame, every frame states the same
    /// count, and the file ends after the last.
    private struct FrameOrder {
        let source: String
        var next = 0
        var count: Int?
        /// What every group must share with the first (not the first group itself: its tiles
        /// would stay in memory for the whole file).
        var first: (stage: EncryptedTensorFile.Stage, plan: [UInt8], parameters: [UInt8], layout: TileShape)?

        init(source: String) { self.source = source }

        /// The name of the frame about to be read, for its errors.
        var name: String { next == 0 ? source : "\(source), group \(next + 1)" }

        mutating func accept(_ group: EncryptedTensorFile) throws {
            guard group.group == next, count == nil || group.groups == count else {
                throw CompilerError.invalidFile("\(source): frame \(next + 1) is group \(group.group + 1) of \(group.groups)\(count.map { ", the file's first frame says \($0) groups" } ?? ""); the file was cut, reordered or spliced: make it again")
            }
            if let first {
                guard group.stage == first.stage, group.planFingerprint == first.plan,
                      group.parametersFingerprint == first.parameters, group.layout == first.layout else {
                    throw CompilerError.invalidFile("\(source): group \(next + 1) was not made with group 1 (another plan, stage or layout); the file was spliced: make it again")
                }
            } else {
                first = (group.stage, group.planFingerprint, group.parametersFingerprint, group.layout)
            }
            count = group.groups
            next += 1
        }

        func damaged(at offset: Int, of size: Int) -> CompilerError {
            .invalidFile("\(source): \(next == 0 ? "it does not start with" : "no whole frame follows group \(next), at byte \(offset) of \(size), where there should be") an he-tool frame; the file is truncated or damaged: make it again")
        }

        func finish() throws {
            guard let count else { throw CompilerError.invalidFile("\(source) is empty") }
            guard next == count else {
                throw CompilerError.invalidFile("\(source) ends after \(next) of its \(count) groups: the file was cut; make it again")
            }
        }
    }
}
