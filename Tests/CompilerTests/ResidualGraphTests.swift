import CKKS
import Foundation
import Model
import TileTensors
import XCTest
@testable import Compiler

/// Small networks with joins, built layer by layer with random weights: a residual block with
/// an identity shortcut, one with a strided 1×1 projection shortcut, a subtraction, and channel
/// concatenations (Inception-like branches, and DenseNet-like x ‖ conv(x) whose operands hold
/// their channels in different tile dimensions). Each is lowered and checked against the
/// plaintext executor, then compiled, encrypted, evaluated with evaluation keys only and
/// decrypted: logits within 1e-3 relative of the plaintext executor, top-1 agreeing.
final class ResidualGraphTests: XCTestCase {
    /// A network under construction (layer 0 the input).
    struct Sketch {
        var layers: [Layer]
        var rng = SplitMix(seed: 7)

        init(_ shape: [Int]) { layers = [Layer(name: "input", operation: .input, inputs: [], shape: shape)] }

        mutating func add(_ name: String, _ op: LayerOperation, _ inputs: [Int], _ shape: [Int]) -> Int {
            layers.append(Layer(name: name, operation: op, inputs: inputs, shape: shape))
            return layers.count - 1
        }

        mutating func conv(_ x: Int, _ f: Int, k: Int, stride: Int = 1, pad: Int) -> Int {
            let s = layers[x].shape, c = s[0]
            let bound = 1.0 / Double(c * k * k).squareRoot()
            let w = (0..<(f * c * k * k)).map { _ in rng.uniform(-bound, bound) }
            let b = (0..<f).map { _ in rng.uniform(-0.1, 0.1) }
            let o = (s[1] + 2 * pad - k) / stride + 1
            let conv = Conv2d(weights: Model.Tensor(shape: [f, c, k, k], values: w), bias: b, strideH: stride, strideW: stride,
                              padding: Padding2d(top: pad, left: pad, bottom: pad, right: pad))
            return add("conv\(layers.count)", .conv2d(conv), [x], [f, o, o])
        }

        /// a·x² + b·x + c per channel with 0.05 ≤ |a| ≤ 0.2, as trained quadratics have (it folds
        /// forward; a far smaller |a| shrinks the next layer's weights toward the encoding's
        /// resolution, which the precision planning of issue 16 is to handle).
        mutating func quadratic(_ x: Int) -> Int {
            let c = layers[x].shape[0]
            let rows = [(0..<c).map { _ in rng.uniform(0.5, 1) * 0.2 }, (0..<c).map { _ in rng.uniform(0.5, 1) },
                        (0..<c).map { _ in rng.uniform(0.1, 0.3) }]
            return add("act\(layers.count)", .polynomial(PolynomialActivation(coefficients: rows)), [x], layers[x].shape)
        }

        mutating func head(_ x: Int, classes: Int) -> Int {
            let c = layers[x].shape[0]
            let pooled = add("gap", .globalAveragePool, [x], [c, 1, 1])
            let flat = add("flatten", .flatten, [pooled], [c])
            // Logits of a few units: the decrypted ones are rounded to 3 decimals (the profile's).
            let bound = 30 / Double(c).squareRoot()
            let dense = Dense(weights: Model.Tensor(shape: [classes, c], values: (0..<(classes * c)).map { _ in rng.uniform(-bound, bound) }),
                              bias: (0..<classes).map { _ in rng.uniform(-0.1, 0.1) })
            return add("fc", .dense(dense), [flat], [classes])
        }

        func graph() -> Graph {
            Graph(layers: layers, output: layers.count - 1, batchSize: nil, inputName: "x", outputName: "y")
        }
    }

    /// Stem conv + quadratic, then a basic block: conv-act-conv, + shortcut, act; then the head.
    static func residual(projection: Bool, subtract: Bool = false) -> Graph {
        var s = Sketch([2, 8, 8])
        let stem = s.quadratic(s.conv(0, 4, k: 3, pad: 1))
        let main = s.conv(s.quadratic(s.conv(stem, projection ? 8 : 4, k: 3, stride: projection ? 2 : 1, pad: 1)), projection ? 8 : 4, k: 3, pad: 1)
        var shortcut = projection ? s.conv(stem, 8, k: 1, stride: 2, pad: 0) : stem
        if subtract {
            shortcut = s.add("negate", .affine(ChannelAffine(scale: [-1], shift: [0])), [shortcut], s.layers[shortcut].shape)
        }
        let joined = s.add("join", .add, [main, shortcut], s.layers[main].shape)
        _ = s.head(s.quadratic(joined), classes: 3)
        return s.graph()
    }

    /// Stem, then two branches joined along the channels: conv 1×1 ‖ conv 3×3 (Inception), or
    /// x ‖ conv(x) (DenseNet: the operands' channels sit in different tile dimensions).
    static func concatenation(dense: Bool) -> Graph {
        var s = Sketch([2, 8, 8])
        let stem = s.quadratic(s.conv(0, 4, k: 3, pad: 1))
        let right = s.quadratic(s.conv(stem, 4, k: 3, pad: 1))
        let left = dense ? stem : s.quadratic(s.conv(stem, 4, k: 1, pad: 0))
        let joined = s.add("concat", .concat, [left, right], [8, 8, 8])
        _ = s.head(s.quadratic(s.conv(joined, 4, k: 3, pad: 1)), classes: 3)
        return s.graph()
    }

    static func samples(_ graph: Graph, count: Int) -> [[Double]] {
        var rng = SplitMix(seed: 99)
        let n = graph.inputShape.reduce(1, *)
        return (0..<count).map { _ in (0..<n).map { _ in rng.uniform(-1, 1) } }
    }

    /// The lowered graph run in Double equals the plaintext executor (with the client's map).
    func checkLowering(_ graph: Graph, label: String) throws -> NetworkLowering.Result {
        let lowered = try NetworkLowering.lower(graph)
        for sample in Self.samples(graph, count: 3) {
            let want = try PlainExecutor.run(graph, input: Model.Tensor(shape: [1] + graph.inputShape, values: sample)).values
            let y = lowered.run(lowered.packed(sample))
            let per = lowered.outputShape[1] * lowered.outputShape[2]
            let got = y.indices.map { lowered.outputScale[$0 / per] * y[$0] + lowered.outputShift[$0 / per] }
            XCTAssertEqual(got.count, want.count, label)
            for (a, b) in zip(got, want) { XCTAssertEqual(a, b, accuracy: 1e-9 * max(1, abs(b)), label) }
        }
        return lowered
    }

    func testLoweringOfJoinsMatchesThePlaintextExecutor() throws {
        let identity = try checkLowering(Self.residual(projection: false), label: "identity shortcut")
        XCTAssertTrue(identity.steps.contains { $0.operation == .add })
        XCTAssertFalse(identity.isChain)
        // The block is one unit of the conversion search: cut points only where one value lives.
        XCTAssertLessThan(identity.blocks.count, identity.steps.count)
        XCTAssertFalse(identity.steps.contains { if case .scaleChannels = $0.operation { return true } else { return false } },
                       "the scale ratio folds into a convolution")
        let projection = try checkLowering(Self.residual(projection: true), label: "projection shortcut")
        // The projection has one convolution, the main path two: the channel move costs one 1×1 convolution.
        XCTAssertTrue(projection.steps.contains { $0.sources.contains { $0.hasSuffix("(channel move)") } })
        _ = try checkLowering(Self.residual(projection: false, subtract: true), label: "subtraction")
        let inception = try checkLowering(Self.concatenation(dense: false), label: "inception concat")
        XCTAssertTrue(inception.steps.contains { $0.operation == .concat })
        _ = try checkLowering(Self.concatenation(dense: true), label: "dense concat")
    }

    func compileAndRun(_ graph: Graph, label: String, conversions: Bool = false) throws -> Compilation {
        let samples = Self.samples(graph, count: 2)
        var options = Optimizer.Options()
        options.searchConversions = conversions
        let c = try Compilation.compile(graph, name: label, options: options, calibrationInputs: samples, costModel: FlowFixtures.costModel)
        let model = try CompiledModel.read(try c.model.serialized())
        let profile = try ClientProfile.read(try c.profile.serialized())
        XCTAssertEqual(model.steps, c.chain.steps, "\(label): the steps and their inputs survive the file")
        let context = try CKKSContext(parameters: profile.parameters)
        let sk = KeyGenerator(context: context).secretKey()
        let keys = try ClientSession(profile: profile, secretKey: sk).evaluationKeys()
        for (i, sample) in samples.enumerated() {
            let input = try ClientSession(profile: profile, secretKey: sk).encrypt([sample])
            let output = try EvaluationSession(model: model, keys: keys).evaluate(input)
            let got = try ClientSession(profile: profile, secretKey: sk).decrypt(output)[0]
            let want = try PlainExecutor.run(graph, input: Model.Tensor(shape: [1] + graph.inputShape, values: sample)).values
            let scale = max(want.map(abs).max()!, 1e-3)
            let error = zip(got, want).map { abs($0 - $1) }.max()! / scale
            XCTAssertLessThanOrEqual(error, 1e-3, "\(label) sample \(i): \(got) vs \(want)")
            XCTAssertEqual(FlowFixtures.argmax(got), FlowFixtures.argmax(want), "\(label) sample \(i)")
        }
        return c
    }

    func testIdentityShortcutEndToEnd() throws {
        let c = try compileAndRun(Self.residual(projection: false), label: "identity")
        let report = CompilationReport.lines(c).joined(separator: "\n")
        XCTAssertTrue(report.contains("reads"), "the report shows what each step reads:\n\(report)")
    }

    func testProjectionShortcutEndToEndWithConversionSearch() throws {
        _ = try compileAndRun(Self.residual(projection: true), label: "projection", conversions: true)
    }

    func testConcatenationsEndToEnd() throws {
        _ = try compileAndRun(Self.concatenation(dense: false), label: "inception")
        _ = try compileAndRun(Self.concatenation(dense: true), label: "densenet")
    }

    /// A plan whose step reads a later value, or whose join reads values of other shapes, is
    /// refused with a message naming the step.
    func testMalformedGraphPlansAreRefused() throws {
        let graph = Self.residual(projection: false)
        var options = Optimizer.Options()
        options.searchConversions = false
        let c = try Compilation.compile(graph, name: "m", options: options, calibrationInputs: [], costModel: FlowFixtures.costModel)
        let join = try XCTUnwrap(c.model.steps.firstIndex { $0.operation == .add })
        func refused(_ change: (inout CompiledModel) -> Void, _ expected: String) throws {
            var m = c.model
            change(&m)
            XCTAssertThrowsError(try CompiledModel.read(try m.serialized())) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error)")
            }
        }
        try refused({ $0.plan.steps[join].inputs[1] = join + 2 }, "computed before it")
        // A cycle: the join reads its own output, or an earlier step reads the join's.
        try refused({ $0.plan.steps[join].inputs[1] = join + 1 }, "computed before it")
        try refused({ $0.plan.steps[join - 1].inputs = [join + 1] }, "computed before it")
        try refused({ $0.plan.steps[join].inputs = [$0.plan.steps[join].inputs[0]] }, "two values")
        try refused({ $0.plan.steps[join].inputs[1] = 0 }, "one shape")
        try refused({ $0.plan.steps[0].inputs = [] }, "reads values")
        // A step whose planned output layout is not what the next one or the header expects.
        let last = c.model.plan.steps.count - 1
        try refused({ $0.plan.steps[last].outputLayout = $0.plan.header.inputLayout }, "output layout")
        // Weights that do not fit their step's structure.
        let conv = try XCTUnwrap(c.model.steps.firstIndex { if case .convolution = $0.operation { return true } else { return false } })
        try refused({ model in
            if case let .convolution(f, shape, bias, s, p) = model.steps[conv].operation {
                model.steps[conv].operation = .convolution(filters: Array(f.dropLast()), shape: shape, bias: bias, stride: s, padding: p)
            }
        }, "the filters")
    }
}

extension SplitMix {
    /// Uniform on [a, b) (the compiler's simulation generator, reused for the test weights).
    mutating func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * (nextUnit() + 1) / 2 }
}
