import CKKS
import HEMath
import Foundation
import TileTensors

/// An encrypted batch in a plan's layout (`*.hect`): the client's input or the server's
/// output, one CKKS ciphertext file per tile. A file of more images than the plan carries per
/// evaluation holds several such groups, one frame each (`EncryptedTensorGroups`).
public struct EncryptedTensorFile: Sendable {
    public enum Stage: String, Sendable { case input, output }

    public var parametersFingerprint: [UInt8]
    public var planFingerprint: [UInt8]
    public var stage: Stage
    public var layout: TileShape
    public var images: Int
    /// Each a he-tool ciphertext file, in tile order. Held as the protobuf decoder gives them
    /// (`Data`): a full-batch input is 0.6–2.6 GB, and copying it into arrays on one thread
    /// took 1.5 s of CryptoNets' evaluation.
    public var tiles: [Data] { didSet { tilesInsideCheckedFrame = false } }
    /// Whether `tiles` are as read from a frame whose SHA-256 `read` verified (which covers
    /// their own checksums' bytes): their decoding skips those. Any change to them clears it.
    private var tilesInsideCheckedFrame = false
    /// This group's place (0-based) among the file's `groups` (≥ 1).
    public var group: Int
    public var groups: Int

    public static let magic = "he-tool-tensor"
    /// Version 2 was version 1 inside an integrity frame (SHA-256 checked before parsing);
    /// version 3 types the layout (it was a notation string); version 4 numbers the groups.
    public static let formatVersion = 4

    /// The most groups one file may hold: a bound checked before a count is trusted.
    public static let maximumGroups = 1 << 20

    public init(parametersFingerprint: [UInt8], planFingerprint: [UInt8], stage: Stage, layout: TileShape, images: Int, tiles: [Data],
                group: Int = 0, groups: Int = 1) {
        precondition(groups >= 1 && groups <= Self.maximumGroups && (0..<groups).contains(group), "group \(group) of \(groups)")
        self.parametersFingerprint = parametersFingerprint
        self.planFingerprint = planFingerprint
        self.stage = stage
        self.layout = layout
        self.images = images
        self.tiles = tiles
        self.group = group
        self.groups = groups
    }

    /// The file of a tile tensor's ciphertexts (group `group` of `groups`).
    public init(_ tensor: TileTensor<CKKSBackend>, planFingerprint: [UInt8], stage: Stage, images: Int, group: Int = 0, groups: Int = 1) throws {
        self.init(parametersFingerprint: tensor.backend.context.parameters.fingerprint, planFingerprint: planFingerprint,
                  stage: stage, layout: tensor.shape, images: images, tiles: try tensor.tiles.map { Data(try CKKSFile.serialize($0)) },
                  group: group, groups: groups)
    }

    public func serialized() throws -> [UInt8] {
        var m = Hetool_Plan_V1_EncryptedTensor()
        m.magic = Self.magic
        m.formatVersion = UInt32(Self.formatVersion)
        m.parametersFingerprint = Data(parametersFingerprint)
        m.planFingerprint = Data(planFingerprint)
        m.stage = stage == .input ? .input : .output
        m.layout = PlanCoding.layout(layout)
        m.images = UInt32(images)
        m.tiles = tiles
        m.group = UInt32(group)
        m.groups = UInt32(groups)
        return IntegrityFrame.seal(try m.serializedBytes(), tag: .encryptedTensor)
    }

    /// Reads the file's frame (the tiles are read against a context by `tensor(backend:)`).
    public static func read(_ bytes: [UInt8], source: String = "the encrypted tensor") throws -> EncryptedTensorFile {
        let m = try PlanCoding.framed(bytes, tag: .encryptedTensor, source: source,
                                      remake: "encrypt the input again with `he-tool encrypt` (or evaluate it again)",
                                      as: Hetool_Plan_V1_EncryptedTensor.self, checksumAlongside: true)
        guard m.magic == magic else {
            throw CompilerError.invalidFile("\(source) is not an he-tool encrypted tensor (magic '\(m.magic.prefix(20))')")
        }
        guard m.formatVersion == formatVersion else {
            throw CompilerError.invalidFile("\(source) has format version \(m.formatVersion); this he-tool reads version \(formatVersion): \(m.formatVersion < formatVersion ? "encrypt the input again with this he-tool's `he-tool encrypt` and a profile it compiled" : "it was written by a newer he-tool")")
        }
        try PlanCoding.rejectUnknown(m, source)
        guard m.parametersFingerprint.count == 32, m.planFingerprint.count == 32 else {
            throw CompilerError.invalidFile("\(source): a fingerprint is not 32 bytes")
        }
        let stage: Stage
        switch m.stage {
        case .input: stage = .input
        case .output: stage = .output
        default: throw CompilerError.invalidFile("\(source): unknown stage")
        }
        guard m.hasLayout, m.layout.dimensions.count == 5 else { throw CompilerError.invalidFile("\(source) has no five-dimensional layout") }
        // Slots per tile are checked against the parameters where the tiles are read.
        let layout = try PlanCoding.layout(m.layout, present: true, slots: nil, "layout", source)
        guard layout.tileCount == m.tiles.count, m.images >= 1 else {
            throw CompilerError.invalidFile("\(source): the layout \(layout) does not describe its \(m.tiles.count) tiles")
        }
        guard m.groups >= 1, m.groups <= maximumGroups, m.group < m.groups else {
            throw CompilerError.invalidFile("\(source): group \(m.group) of \(m.groups) (a file holds 1 … \(maximumGroups) groups, numbered from 0)")
        }
        var file = EncryptedTensorFile(parametersFingerprint: Array(m.parametersFingerprint), planFingerprint: Array(m.planFingerprint),
                                       stage: stage, layout: layout, images: Int(m.images), tiles: m.tiles,
                                       group: Int(m.group), groups: Int(m.groups))
        file.tilesInsideCheckedFrame = true
        return file
    }

    /// The tiles read as ciphertexts of `backend`'s parameters (each validated by the CKKS reader).
    /// Consuming: each tile's bytes are released as soon as it is decoded, so the ciphertexts
    /// take the memory of the bytes they were read from (CryptoNets' full batch: 708 MB of tiles
    /// beside 1.38 GB of ciphertexts before, every page of both newly faulted in).
    public consuming func tensor(backend: CKKSBackend, source: String) throws -> TileTensor<CKKSBackend> {
        guard parametersFingerprint == backend.context.parameters.fingerprint else {
            throw CompilerError.mismatch("\(source) was encrypted under other parameters than the model/profile's")
        }
        guard layout.slotsPerTile == backend.slotCount else {
            throw CompilerError.invalidFile("\(source): its layout has \(layout.slotsPerTile) slots per tile, the parameters \(backend.slotCount)")
        }
        // Tiles are independent: each decoded, checked and its seeded half expanded on one
        // thread, the threads in force taking tiles in turn (a full-batch input is 784–3,136
        // ciphertexts; one at a time, CryptoNets' took 2.6 s of a 24 s evaluation).
        // The first bad tile's error is thrown, as when they were read in order.
        let context = backend.context
        let checked = tilesInsideCheckedFrame, count = tiles.count
        let pending = Locked(tiles.map(Optional.some))
        tiles = []
        let cts = try ExecutionPolicy.concurrentMap(count) { i -> Ciphertext in
            let bytes = pending.withLock { all in
                let tile = all[i]!
                all[i] = nil
                return tile
            }
            do { return try CKKSFile.readCiphertext(data: bytes, context: context, insideCheckedFrame: checked) } catch {
                throw CompilerError.invalidFile("\(source), tile \(i): \(error)")
            }
        }
        return try TileTensor(wrapping: cts, shape: layout, backend: backend)
    }
}
