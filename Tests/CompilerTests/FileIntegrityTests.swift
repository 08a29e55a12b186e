import CKKS
import Foundation
import SwiftProtobuf
import XCTest
@testable import Compiler
import TileTensors

/// The compiler's files (model, profile, encrypted tensor) against damage and hostile numbers:
/// a flipped byte anywhere is named as damage; an earlier version's file is refused with what to
/// do; layouts and tilings whose counts overflow are refused, never trapped on; payloads mutated
/// behind a valid checksum throw or decode, never crash.
final class FileIntegrityTests: XCTestCase {
    struct Files {
        let model: [UInt8]
        let profile: [UInt8]
        let input: [UInt8]
        let output: [UInt8]
    }

    /// One compile of the tutorial net and one encrypted evaluation, shared by the tests.
    static let files: Files = {
        do {
            let (_, c, images) = try FlowFixtures.compile("tenseal-tutorial")
            let model = try CompiledModel.read(try c.model.serialized())
            let profile = try ClientProfile.read(try c.profile.serialized())
            let context = try CKKSContext(parameters: profile.parameters)
            let sk = KeyGenerator(context: context).secretKey()
            let keys = try ClientSession(profile: profile, secretKey: sk).evaluationKeys()
            let input = try ClientSession(profile: profile, secretKey: sk).encrypt([images[0].tensor.values])
            let output = try EvaluationSession(model: model, keys: keys).evaluate(input)
            return Files(model: try c.model.serialized(), profile: try c.profile.serialized(),
                         input: try input.serialized(), output: try output.serialized())
        } catch { fatalError("fixture: \(error)") }
    }()

    typealias Reader = ([UInt8]) throws -> Void
    var kinds: [(name: String, bytes: [UInt8], read: Reader)] {
        let f = Self.files
        return [
            ("model", f.model, { _ = try CompiledModel.read($0, source: "m.hemodel") }),
            ("profile", f.profile, { _ = try ClientProfile.read($0, source: "c.heprofile") }),
            ("input", f.input, { _ = try EncryptedTensorFile.read($0, source: "x.hect") }),
            ("output", f.output, { _ = try EncryptedTensorFile.read($0, source: "y.hect") }),
        ]
    }

    func testEveryFlippedByteIsNamedAsDamage() throws {
        var rng = SplitMix64(seed: 5)
        for (name, bytes, read) in kinds {
            XCTAssertNoThrow(try read(bytes), name)
            var positions = Array(IntegrityFrame.headerSize..<(IntegrityFrame.headerSize + 40)) + [bytes.count / 2, bytes.count - 1]
            positions += (0..<60).map { _ in Int.random(in: IntegrityFrame.headerSize..<bytes.count, using: &rng) }
            positions += Array(24..<56)   // the checksum itself
            for position in positions {
                var damaged = bytes
                damaged[position] ^= UInt8.random(in: 1...255, using: &rng)
                XCTAssertThrowsError(try read(damaged), "\(name) @\(position)") { error in
                    let text = "\(error)"
                    XCTAssertTrue(text.contains("damaged") && text.contains("again"), "\(name) @\(position): \(text)")
                    XCTAssertTrue(text.contains(".he"), "the error names the file: \(text)")
                }
            }
            XCTAssertThrowsError(try read(Array(bytes.dropLast(100)))) { XCTAssertTrue("\($0)".contains("truncated"), "\($0)") }
        }
    }

    func testEarlierVersionsAreRefusedWithAdvice() throws {
        for (name, bytes, read) in kinds {
            let legacy = Array(bytes[IntegrityFrame.headerSize...])   // the bare message, as version 2 wrote it
            XCTAssertThrowsError(try read(legacy), name) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains("earlier he-tool") && text.contains("again with `he-tool"), text)
            }
        }
    }

    /// Files of the previous format versions (model 4, profile 3, tensor 2, whose fields all sit
    /// below number 20) are refused by their version, with what to do.
    func testPreviousFormatVersionsAreRefusedWithAdvice() throws {
        var model = Hetool_Plan_V1_CompiledModel()
        model.magic = CompiledModel.magic
        model.formatVersion = 4
        // Version 4's field 8 (its tiling message {t0: 8}), unknown to version 5.
        let bytes = (try model.serializedBytes() as [UInt8]) + [0x42, 2, 0x08, 8]
        XCTAssertThrowsError(try CompiledModel.read(IntegrityFrame.seal(bytes, tag: .compiledModel))) { error in
            XCTAssertTrue("\(error)".contains("format version 4") && "\(error)".contains("compile the model again"), "\(error)")
        }
        var profile = Hetool_Plan_V1_ClientProfile()
        profile.magic = ClientProfile.magic
        profile.formatVersion = 3
        XCTAssertThrowsError(try ClientProfile.read(IntegrityFrame.seal(try profile.serializedBytes(), tag: .clientProfile))) { error in
            XCTAssertTrue("\(error)".contains("format version 3") && "\(error)".contains("compile the model again"), "\(error)")
        }
        var tensor = try Hetool_Plan_V1_EncryptedTensor(serializedBytes: Array(Self.files.input[IntegrityFrame.headerSize...]))
        tensor.formatVersion = 2
        XCTAssertThrowsError(try EncryptedTensorFile.read(IntegrityFrame.seal(try tensor.serializedBytes(), tag: .encryptedTensor))) { error in
            XCTAssertTrue("\(error)".contains("format version 2") && "\(error)".contains("encrypt the input again"), "\(error)")
        }
    }

    /// A typed layout of (size, tile size, kind) dimensions.
    static func typed(_ dims: [(UInt64, UInt64, Hetool_Plan_V1_LayoutDimension.Kind)]) -> Hetool_Plan_V1_TileLayout {
        var layout = Hetool_Plan_V1_TileLayout()
        layout.dimensions = dims.map { size, tile, kind in
            var d = Hetool_Plan_V1_LayoutDimension()
            d.size = size; d.tileSize = tile; d.kind = kind
            return d
        }
        return layout
    }

    /// A tensor whose layout declares about 2^63 tiles, or tile sizes whose product overflows,
    /// or a dimension of no kind, of size 0, or too few dimensions.
    func testOverflowingLayoutsAreRefused() throws {
        var m = try Hetool_Plan_V1_EncryptedTensor(serializedBytes: Array(Self.files.input[IntegrityFrame.headerSize...]))
        let big = UInt64(Int64.max)
        let layouts: [[(UInt64, UInt64, Hetool_Plan_V1_LayoutDimension.Kind)]] = [
            [(1, 8192, .plain), (1, 1, .replicated), (1, 1, .plain), (1, 1, .plain), (big, 1, .interleaved)],
            [(big, big, .plain), (1, 1, .plain), (1, 1, .plain), (1, 1, .plain), (1, 1, .plain)],
            [(1 << 62, 1, .plain), (4, 1, .plain), (1, 1, .plain), (1, 1, .plain), (1, 1, .plain)],
            [(1, 8192, .plain), (1, 8192, .plain), (1, 8192, .plain), (1, 8192, .plain), (1, 8192, .plain)],
            [(3, 0, .plain), (1, 1, .plain), (1, 1, .plain), (1, 1, .plain), (1, 1, .plain)],
            [(0, 2, .plain), (1, 1, .plain), (1, 1, .plain), (1, 1, .plain), (1, 1, .plain)],
            [(2, 2, .unspecified), (1, 1, .plain), (1, 1, .plain), (1, 1, .plain), (1, 1, .plain)],
            [(2, 2, .replicated), (1, 1, .plain), (1, 1, .plain), (1, 1, .plain), (1, 1, .plain)],
            [(1, 8192, .plain)], [],
        ]
        for dims in layouts {
            m.layout = Self.typed(dims)
            let bytes = IntegrityFrame.seal(try m.serializedBytes(), tag: .encryptedTensor)
            XCTAssertThrowsError(try EncryptedTensorFile.read(bytes), "\(dims)") { XCTAssertTrue($0 is CompilerError, "\($0)") }
        }
        XCTAssertThrowsError(try TileShape(parsing: "1099511627776/1,1099511627776/1")) { XCTAssertTrue($0 is TileTensorError) }
    }

    /// A profile and a model whose tiling multiplies to 8192⁵ (2^65).
    func testOverflowingTilingsAreRefused() throws {
        var tiling = Hetool_Plan_V1_Tiling()
        tiling.t0 = 8192; tiling.t1 = 8192; tiling.tx = 8192; tiling.ty = 8192; tiling.tb = 8192
        var model = try Hetool_Plan_V1_CompiledModel(serializedBytes: Array(Self.files.model[IntegrityFrame.headerSize...]))
        model.plan.steps[0].tiling = tiling
        XCTAssertThrowsError(try CompiledModel.read(IntegrityFrame.seal(try model.serializedBytes(), tag: .compiledModel))) {
            XCTAssertTrue("\($0)".contains("does not fill"), "\($0)")
        }
        var profile = try Hetool_Plan_V1_ClientProfile(serializedBytes: Array(Self.files.profile[IntegrityFrame.headerSize...]))
        profile.plan.steps[0].tiling = tiling
        XCTAssertThrowsError(try ClientProfile.read(IntegrityFrame.seal(try profile.serializedBytes(), tag: .clientProfile)))
        profile = try Hetool_Plan_V1_ClientProfile(serializedBytes: Array(Self.files.profile[IntegrityFrame.headerSize...]))
        profile.plan.header.inputLayout = Self.typed(Array(repeating: (1, 8192, .plain), count: 5))
        XCTAssertThrowsError(try ClientProfile.read(IntegrityFrame.seal(try profile.serializedBytes(), tag: .clientProfile)))
    }

    /// Chunks asked for on a step that is not a convolution, or more chunks than a
    /// convolution's output channels, are refused when the model is read.
    func testImpossibleChunksAreRefused() throws {
        let original = try Hetool_Plan_V1_CompiledModel(serializedBytes: Array(Self.files.model[IntegrityFrame.headerSize...]))
        func isConvolution(_ step: Hetool_Plan_V1_PlannedStep) -> Bool {
            if case .convolution? = step.operation { return true }
            return false
        }
        let other = try XCTUnwrap(original.plan.steps.firstIndex { !isConvolution($0) })
        let conv = try XCTUnwrap(original.plan.steps.firstIndex(where: isConvolution))
        for (index, chunks) in [(other, UInt32(2)), (conv, original.plan.steps[conv].outputShape[0] + 1)] {
            var model = original
            model.plan.steps[index].chunks = chunks
            XCTAssertThrowsError(try CompiledModel.read(IntegrityFrame.seal(try model.serializedBytes(), tag: .compiledModel))) {
                XCTAssertTrue("\($0)".contains("chunks") && "\($0)".contains("step \(index)"), "\($0)")
            }
        }
    }

    /// Two images per slot and sanitized results together are refused when read: the
    /// sanitizer keeps the slots of the first images, one image per slot.
    func testComplexPackingWithCircuitPrivacyIsRefused() throws {
        var model = try Hetool_Plan_V1_CompiledModel(serializedBytes: Array(Self.files.model[IntegrityFrame.headerSize...]))
        var privacy = Hetool_Plan_V1_CircuitPrivacy()
        (privacy.maskLogScale, privacy.floodBits, privacy.slotBits, privacy.statisticalBits, privacy.precisionBits) = (20, 40, 10, 40, 10)
        model.plan.header.circuitPrivacy = privacy
        model.plan.header.complexPacking = true
        XCTAssertThrowsError(try CompiledModel.read(IntegrityFrame.seal(try model.serializedBytes(), tag: .compiledModel))) {
            XCTAssertTrue("\($0)".contains("two images per slot"), "\($0)")
        }
    }

    /// Behind a valid checksum (a hostile or buggy writer): mutated payloads throw a
    /// `CompilerError` or decode to a file that passed every check; none traps.
    func testMutatedPayloadsBehindAValidChecksum() throws {
        var rng = SplitMix64(seed: 9)
        let tags: [String: IntegrityFrame.Tag] = ["model": .compiledModel, "profile": .clientProfile, "input": .encryptedTensor, "output": .encryptedTensor]
        for (name, bytes, read) in kinds {
            let payload = Array(bytes[IntegrityFrame.headerSize...])
            var refused = 0
            for trial in 0..<300 {
                var mutated = payload
                switch trial % 3 {
                case 0:   // flips, mostly in the first fields (structure, lengths, layout strings)
                    for _ in 0..<Int.random(in: 1...3, using: &rng) {
                        let p = trial % 2 == 0 ? Int.random(in: 0..<min(400, mutated.count), using: &rng) : Int.random(in: 0..<mutated.count, using: &rng)
                        mutated[p] ^= UInt8.random(in: 1...255, using: &rng)
                    }
                case 1:   // a truncation
                    mutated = Array(mutated.prefix(Int.random(in: 0..<mutated.count, using: &rng)))
                default:  // a duplicated range
                    let a = Int.random(in: 0..<mutated.count, using: &rng)
                    let b = min(mutated.count, a + Int.random(in: 1...64, using: &rng))
                    mutated.insert(contentsOf: mutated[a..<b], at: Int.random(in: 0...mutated.count, using: &rng))
                }
                do { try read(IntegrityFrame.seal(mutated, tag: tags[name]!)) } catch is CompilerError { refused += 1 } catch {
                    XCTFail("\(name): not a CompilerError: \(error)")
                }
            }
            XCTAssertGreaterThan(refused, 100, name)
        }
    }
}

/// A small deterministic generator so that failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
