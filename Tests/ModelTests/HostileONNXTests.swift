import Foundation
import XCTest
@testable import Model

/// ONNX models built to break the importer: shapes whose products pass 2^63, empty tensors
/// with huge extents, folding bombs, NaN weights, long chains. Each import throws a
/// `ModelError` naming the node or tensor (and the limit) or succeeds; none traps.
final class HostileONNXTests: XCTestCase {
    private let big = Int64(Int32.max)

    private func importError(_ data: Data, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try ONNXImporter.load(data: data)
            XCTFail("the hostile model was accepted", file: file, line: line)
            return ""
        } catch let e as ModelError {
            return e.description
        } catch {
            XCTFail("not a ModelError: \(error)", file: file, line: line)
            return ""
        }
    }

    private func assertRefused(_ data: Data, _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        let message = importError(data, file: file, line: line)
        for f in fragments { XCTAssertTrue(message.contains(f), "'\(f)' missing in: \(message)", file: file, line: line) }
        XCTAssertFalse(message.contains("\n"), "not one line: \(message)", file: file, line: line)
    }

    private func model(_ nodes: [Onnx_NodeProto], _ initializers: [Onnx_TensorProto], input: [Int64?] = [nil, 1, 4, 4],
                       output: String = "y") throws -> Data {
        try ONNXBuilder.model(nodes: nodes, initializers: initializers, inputs: [ONNXBuilder.valueInfo("x", input)], output: output)
    }

    // MARK: shapes that overflow

    func testReshapeTargetWhoseProductPassesTwoToTheSixtyThree() throws {
        let data = try model([ONNXBuilder.node("Reshape", ["x", "shape"], ["y"], name: "bad_reshape")],
                             [HostileFiles.int64s("shape", [1, big, big, big])])
        assertRefused(data, ["bad_reshape", "\(ONNXLimits.maximumElements)"])
    }

    func testReshapeInferringAnAxisFromAnOverflowingTarget() throws {
        let data = try model([ONNXBuilder.node("Reshape", ["x", "shape"], ["y"], name: "infer")],
                             [HostileFiles.int64s("shape", [1, -1, big, big, big])])
        assertRefused(data, ["infer"])
    }

    func testReshapeOfAnEmptyConstantToHugeExtents() throws {
        let reshape = ONNXBuilder.node("Reshape", ["empty", "shape"], ["r"], name: "empty_reshape", attributes: [ONNXBuilder.intAttribute("allowzero", 1)])
        let add = ONNXBuilder.node("Add", ["x", "r"], ["y"], name: "add")
        let data = try model([reshape, add], [ONNXBuilder.floats("empty", [0], []), HostileFiles.int64s("shape", [0, big, big, big])])
        assertRefused(data, ["empty_reshape", "\(ONNXLimits.maximumElements)"])
    }

    func testZeroSizeInitializerWithHugeExtentsIsRefusedByName() throws {
        // dims [0, 2^31−1, 2^31−1, 2^31−1]: zero elements, but strides past 2^63.
        let transpose = ONNXBuilder.node("Transpose", ["zero"], ["t"], name: "T")
        let add = ONNXBuilder.node("Add", ["x", "t"], ["y"], name: "add")
        let data = try model([transpose, add], [HostileFiles.emptyFloats("zero", [0, big, big, big])])
        assertRefused(data, ["'zero'", "\(ONNXLimits.maximumElements)"])
        // The same dims with the zero last are refused too (the product overflows first).
        let last = try model([transpose, add], [HostileFiles.emptyFloats("zero", [big, big, big, 0])])
        assertRefused(last, ["'zero'"])
        let rank = try model([transpose, add], [HostileFiles.emptyFloats("zero", [Int64](repeating: 1, count: 40) + [0])])
        assertRefused(rank, ["'zero'", "rank 41"])
    }

    func testInputWithHugeExtentsIsRefusedBeforeAnyLayer() throws {
        let flatten = ONNXBuilder.node("Flatten", ["x"], ["y"], name: "flat")
        assertRefused(try model([flatten], [], input: [nil, big, big, big]), ["input 'x'", "\(ONNXImporter.maximumSampleElements)"])
        assertRefused(try model([flatten], [], input: [nil] + [Int64](repeating: 2, count: 70)), ["input 'x'"])
    }

    func testPadToHugeExtentsThenFlatten() throws {
        let pad = ONNXBuilder.node("Pad", ["x", "pads"], ["p"], name: "huge_pad")
        let flatten = ONNXBuilder.node("Flatten", ["p"], ["y"], name: "flat")
        let data = try model([pad, flatten], [HostileFiles.int64s("pads", [0, 0, big, big, 0, 0, big, big])])
        assertRefused(data, ["huge_pad", "\(ONNXImporter.maximumSampleElements)"])
    }

    func testConvWithAnEmptyKernelAndHugePads() throws {
        let conv = ONNXBuilder.node("Conv", ["x", "w"], ["c"], name: "empty_conv", attributes: [HostileFiles.ints("pads", [big, big, big, big])])
        let flatten = ONNXBuilder.node("Flatten", ["c"], ["y"], name: "flat")
        assertRefused(try model([conv, flatten], [HostileFiles.emptyFloats("w", [1, 1, 0, 0])]), ["empty_conv", "empty"])
        // A real 1×1 kernel with pads of 2^31−1 gives a 2^32-wide output: refused at the Conv.
        let real = try model([conv, flatten], [ONNXBuilder.floats("w", [1, 1, 1, 1], [1])])
        assertRefused(real, ["empty_conv", "\(ONNXImporter.maximumSampleElements)"])
    }

    func testConstantFoldingBombsAreRefusedBeforeAllocating() throws {
        // ConstantOfShape of 2^31−1 × 2^31−1 × 2^31−1.
        let cos = ONNXBuilder.node("ConstantOfShape", ["s"], ["c"], name: "fill")
        let add = ONNXBuilder.node("Add", ["x", "c"], ["y"], name: "add")
        assertRefused(try model([cos, add], [HostileFiles.int64s("s", [big, big, big])]), ["fill", "\(ONNXLimits.maximumElements)"])
        assertRefused(try model([cos, add], [HostileFiles.int64s("s", [0, big, big, big])]), ["fill"])
        // Two small constants broadcast to 8192 × 16384 = 2^27 values.
        let a = ONNXBuilder.node("ConstantOfShape", ["sa"], ["a"], name: "a")
        let b = ONNXBuilder.node("ConstantOfShape", ["sb"], ["b"], name: "b")
        let sum = ONNXBuilder.node("Add", ["a", "b"], ["c"], name: "broadcast_bomb")
        assertRefused(try model([a, b, sum, add], [HostileFiles.int64s("sa", [8192, 1]), HostileFiles.int64s("sb", [1, 16384])]),
                      ["broadcast_bomb", "\(ONNXLimits.maximumElements)"])
        // Concat of one 2^20 tensor with itself 100 times.
        let big1 = ONNXBuilder.node("ConstantOfShape", ["s1"], ["m"], name: "m")
        let concat = ONNXBuilder.node("Concat", [String](repeating: "m", count: 100), ["c"], name: "concat_bomb", attributes: [ONNXBuilder.intAttribute("axis", 0)])
        assertRefused(try model([big1, concat, add], [HostileFiles.int64s("s1", [1 << 20])]), ["concat_bomb"])
        // Gather of 4096 × 16 with 2^15 indices along axis 1: 2^27 values.
        let data = ONNXBuilder.node("ConstantOfShape", ["sd"], ["d"], name: "d")
        let idx = ONNXBuilder.node("ConstantOfShape", ["si"], ["i"], name: "i")
        let gather = ONNXBuilder.node("Gather", ["d", "i"], ["c"], name: "gather_bomb", attributes: [ONNXBuilder.intAttribute("axis", 1)])
        assertRefused(try model([data, idx, gather, add], [HostileFiles.int64s("sd", [4096, 16]), HostileFiles.int64s("si", [1 << 15])]),
                      ["gather_bomb"])
    }

    func testAveragePoolPadsMustBeSmallerThanTheWindow() throws {
        let pool = ONNXBuilder.node("AveragePool", ["x"], ["p"], name: "wide_pool",
                                    attributes: [HostileFiles.ints("kernel_shape", [2, 2]), HostileFiles.ints("pads", [big, big, big, big])])
        let flatten = ONNXBuilder.node("Flatten", ["p"], ["y"], name: "flat")
        assertRefused(try model([pool, flatten], []), ["wide_pool", "not smaller than the window"])
    }

    func testAFixedBatchOnTopOfALargeSampleStaysImportable() throws {
        // 64 × (1 × 2048 × 1024) = 2^27 elements in the batched tensor, 2^21 per sample.
        let reshape = ONNXBuilder.node("Reshape", ["x", "shape"], ["y"], name: "flatten_batch")
        let graph = try ONNXImporter.load(data: try model([reshape], [HostileFiles.int64s("shape", [64, -1])], input: [64, 1, 2048, 1024]))
        XCTAssertEqual(graph.outputShape, [1 << 21])
    }

    // MARK: numbers that are not finite

    func testNaNAndInfiniteInitializersAreRefusedByName() throws {
        var w = (0..<12).map { Float($0) }
        w[5] = .nan
        assertRefused(try ONNXBuilder.dense(weight: ONNXBuilder.floats("fc.weight", [3, 4], w)), ["initializer 'fc.weight'", "nan", "element 5"])
        w[5] = -.infinity
        assertRefused(try ONNXBuilder.dense(weight: ONNXBuilder.floats("fc.weight", [3, 4], w)), ["initializer 'fc.weight'", "-inf"])
        // Raw float16 +inf (0x7c00).
        let halves: [UInt16] = [0x3c00, 0x7c00] + [UInt16](repeating: 0, count: 10)
        let raw = ONNXBuilder.raw("half_w", [3, 4], type: 10, bytes: halves.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] })
        assertRefused(try ONNXBuilder.dense(weight: raw), ["initializer 'half_w'", "inf"])
    }

    func testFoldingThatOverflowsIsRefused() throws {
        // 1 / 0 between constants.
        let one = ONNXBuilder.floats("one", [1], [1]), zero = ONNXBuilder.floats("zero", [1], [0])
        let div = ONNXBuilder.node("Div", ["one", "zero"], ["q"], name: "div0")
        let add = ONNXBuilder.node("Add", ["x", "q"], ["y"], name: "add")
        assertRefused(try model([div, add], [one, zero]), ["div0", "inf"])
        // Ten multiplications by 3e38 fold into one scale of 3e380 = inf.
        let huge = ONNXBuilder.floats("huge", [1], [3e38])
        var nodes: [Onnx_NodeProto] = []
        for k in 0..<10 { nodes.append(ONNXBuilder.node("Mul", [k == 0 ? "x" : "m\(k - 1)", "huge"], [k == 9 ? "m" : "m\(k)"], name: "mul\(k)")) }
        nodes.append(ONNXBuilder.node("Flatten", ["m"], ["y"], name: "flat"))
        assertRefused(try model(nodes, [huge]), ["not finite", "scale"])
    }

    func testNonFiniteLogitsNameTheSampleAndTheLayer() throws {
        // Weights of 1e300 (float64) on inputs of 1e300: finite weights, infinite logits.
        let w = (0..<12).flatMap { _ in withUnsafeBytes(of: (1e300 as Double).bitPattern.littleEndian, Array.init) }
        let graph = try ONNXImporter.load(data: ONNXBuilder.dense(weight: ONNXBuilder.raw("w", [3, 4], type: 11, bytes: w)))
        let input = Tensor(shape: [2, 4], values: [1, 1, 1, 1, 1e300, 1, 1, 1])
        let logits = try PlainExecutor.run(graph, input: input)
        XCTAssertThrowsError(try PlainExecutor.requireFiniteOutputs(graph, input: input, output: logits, names: ["a.npy[0]", "a.npy[1]"])) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("a.npy[1]") && message.contains("'fc'") && message.contains("not a finite number"), message)
        }
        let fine = Tensor(shape: [1, 4], values: [1e-300, 0, 0, 0])
        XCTAssertNoThrow(try PlainExecutor.requireFiniteOutputs(graph, input: fine, output: try PlainExecutor.run(graph, input: fine), names: ["ok"]))
    }

    // MARK: long chains stay linear

    func testLongChainOfAddZeroImports() throws {
        let n = 5000
        var nodes: [Onnx_NodeProto] = []
        for k in 0..<n { nodes.append(ONNXBuilder.node("Add", [k == 0 ? "x" : "a\(k - 1)", "zero"], ["a\(k)"], name: "add\(k)")) }
        nodes.append(ONNXBuilder.node("Flatten", ["a\(n - 1)"], ["y"], name: "flat"))
        let graph = try ONNXImporter.load(data: try model(nodes, [ONNXBuilder.floats("zero", [1], [0])]))
        XCTAssertEqual(graph.layers.map(\.operation.kind), ["input", "flatten"])
        // With a constant 1 instead of 0 the chain becomes one affine layer named after its ends.
        let ones = try ONNXImporter.load(data: try model(nodes, [ONNXBuilder.floats("zero", [1], [1])]), options: ImportOptions(foldLinearLayers: false))
        XCTAssertTrue(ones.layers.contains { $0.name == "add0 … add\(n - 1) (\(n) nodes)" }, "\(ones.layers.map(\.name))")
        let y = try PlainExecutor.run(ones, input: Tensor(zeros: [1, 1, 4, 4]))
        XCTAssertEqual(y.values, [Double](repeating: Double(n), count: 16))
    }

    func testLongChainOfFoldableLayersImports() throws {
        // Conv → BatchNormalization, 1500 times (each BatchNorm folds into its Conv), and
        // Pad → Mul → … (each zero pad and scaling folds into the next Conv).
        let n = 1500
        var nodes: [Onnx_NodeProto] = []
        var last = "x"
        for k in 0..<n {
            nodes.append(ONNXBuilder.node("Mul", [last, "s"], ["m\(k)"], name: "mul\(k)"))
            nodes.append(ONNXBuilder.node("Conv", ["m\(k)", "w"], ["c\(k)"], name: "conv\(k)"))
            nodes.append(ONNXBuilder.node("BatchNormalization", ["c\(k)", "g", "b", "mean", "var"], ["n\(k)"], name: "bn\(k)"))
            last = "n\(k)"
        }
        nodes.append(ONNXBuilder.node("Flatten", [last], ["y"], name: "flat"))
        let inits = [ONNXBuilder.floats("w", [1, 1, 1, 1], [0.5]), ONNXBuilder.floats("s", [1], [2]),
                     ONNXBuilder.floats("g", [1], [1]), ONNXBuilder.floats("b", [1], [0]),
                     ONNXBuilder.floats("mean", [1], [0]), ONNXBuilder.floats("var", [1], [1])]
        let data = try model(nodes, inits)
        let folded = try ONNXImporter.load(data: data)
        XCTAssertEqual(folded.layers.filter { $0.operation.kind == "conv2d" }.count, n)
        XCTAssertFalse(folded.layers.contains { $0.operation.kind == "affine" })
        let unfolded = try ONNXImporter.load(data: data, options: ImportOptions(foldLinearLayers: false))
        let x = Tensor(shape: [1, 1, 4, 4], values: (0..<16).map(Double.init))
        XCTAssertLessThan(maxRelativeError(try PlainExecutor.run(folded, input: x).values, try PlainExecutor.run(unfolded, input: x).values), 1e-9)
    }
}
