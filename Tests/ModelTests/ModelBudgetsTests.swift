import Foundation
import XCTest
@testable import Model

/// `he_tool.budgets` (a model trained with several budgets in one set of weights,
/// Examples/mnist-budgets): each budget's sub-network against onnxruntime's logits of the same
/// sub-network (Fixtures/budgets, made by make_budget_fixtures.py), the zeroed blocks, the
/// depths inspect lists, and the errors of damaged metadata.
final class ModelBudgetsTests: XCTestCase {
    static let folder = BundledModelsTests.examples.appendingPathComponent("mnist-budgets")
    static let modelURL = folder.appendingPathComponent("model.onnx")
    static let bundled = ["full", "b50", "b75", "b875"]

    /// The fixture: image names, extra budgets (dropping activations) and logits per budget.
    struct Expectations {
        var images: [String]
        var extraBudgets: [Any]
        var logits: [String: [[Double]]]
    }

    static func expectations() throws -> Expectations {
        let object = try JSONSerialization.jsonObject(with: Fixtures.data("budgets/mnist-budgets.json")) as! [String: Any]
        return Expectations(images: object["images"] as! [String], extraBudgets: object["extra_budgets"] as! [Any],
                            logits: object["logits"] as! [String: [[Double]]])
    }

    /// The bundled file with its `he_tool.budgets` JSON changed by `edit` (or replaced by `raw`).
    static func mutated(raw: String? = nil, _ edit: (inout [String: Any]) -> Void = { _ in }) throws -> Data {
        var model = try ONNXImporter.parse(try Data(contentsOf: modelURL), fileName: "model.onnx")
        let index = model.metadataProps.firstIndex { $0.key == ModelBudgets.metadataKey }!
        if let raw {
            model.metadataProps[index].value = raw
        } else {
            var json = try JSONSerialization.jsonObject(with: Data(model.metadataProps[index].value.utf8)) as! [String: Any]
            edit(&json)
            model.metadataProps[index].value = String(decoding: try JSONSerialization.data(withJSONObject: json), as: UTF8.self)
        }
        return try model.serializedData()
    }

    /// The bundled file with the fixture's extra budgets appended.
    static func withExtraBudgets() throws -> Data {
        let extra = try expectations().extraBudgets
        return try mutated { json in json["budgets"] = (json["budgets"] as! [Any]) + extra }
    }

    /// The plaintext logits of `graph` on the bundled PNGs, one row per image.
    func logits(_ graph: Graph, images: [String]) throws -> [[Double]] {
        let preprocessing = try Preprocessing.fromMetadata(of: graph)
        return try images.map { name in
            let samples = try InputLoader.load(Self.folder.appendingPathComponent(name), sampleShape: graph.inputShape, preprocessing: preprocessing)
            return try PlainExecutor.run(graph, input: InputLoader.batch(samples)).values
        }
    }

    func checkAgainstOnnxruntime(_ data: Data, budgets: [String]) throws {
        let expected = try Self.expectations()
        for name in budgets {
            let graph = try ONNXImporter.load(data: data, options: ImportOptions(budget: name), fileName: "model.onnx")
            XCTAssertEqual(graph.budget, name)
            let rows = try logits(graph, images: expected.images)
            let want = try XCTUnwrap(expected.logits[name], name)
            XCTAssertEqual(rows.count, want.count)
            for (row, w) in zip(rows, want) {
                // Double against onnxruntime's float32, in the max norm relative to the largest logit.
                XCTAssertLessThan(maxRelativeError(row, w), 1e-4, "budget \(name): \(row) vs onnxruntime \(w)")
            }
        }
    }

    func testEachBundledBudgetMatchesOnnxruntime() throws {
        try checkAgainstOnnxruntime(try Data(contentsOf: Self.modelURL), budgets: Self.bundled)
    }

    func testBudgetsThatDropActivationsMatchOnnxruntime() throws {
        let data = try Self.withExtraBudgets()
        try checkAgainstOnnxruntime(data, budgets: ["b50-no-act2", "b75-no-act3", "linear"])
        // Without act2 a convolution and a dense layer stay two layers; without act3 fc1 and fc2
        // merge into one dense layer (exact), which saves its level.
        let depths = try ["b50-no-act2", "b75-no-act3", "linear"].map { name -> [Int] in
            let g = try ONNXImporter.load(data: data, options: ImportOptions(budget: name))
            return [g.polynomialLayers.count, g.layers.filter { $0.operation.kind == "dense" }.count, g.multiplicativeDepth]
        }
        XCTAssertEqual(depths, [[2, 2, 8], [2, 1, 7], [0, 1, 3]])
    }

    func testWithoutABudgetTheDefaultIsImported() throws {
        let graph = try ONNXImporter.load(contentsOf: Self.modelURL)
        XCTAssertEqual(graph.budget, "full")
        XCTAssertEqual(graph.layers, try ONNXImporter.load(contentsOf: Self.modelURL, options: ImportOptions(budget: "full")).layers)
        XCTAssertTrue(graph.notes.contains { $0.contains("budget 'full' (the file's default)") }, "\(graph.notes)")
        // A file without budgets imports as before.
        XCTAssertNil(try ONNXImporter.load(contentsOf: BundledModelsTests.examples.appendingPathComponent("mnist/model.onnx")).budget)
    }

    /// The blocks of each pruned layer that are entirely zero, in the imported graph.
    func zeroBlocks(_ graph: Graph, _ budgets: ModelBudgets) throws -> [String: [Int]] {
        var out: [String: [Int]] = [:]
        for layer in budgets.layers {
            let found = graph.layers.first { $0.name.contains(layer.node!) }
            let weights: Tensor
            switch try XCTUnwrap(found, layer.module).operation {
            case let .conv2d(c): weights = c.weights
            case let .dense(d): weights = d.weights
            default: XCTFail("\(layer.module) is not linear"); return [:]
            }
            var nonZero = [Bool](repeating: false, count: layer.geometry.blockCount)
            for (i, b) in layer.geometry.blockOfEveryElement().enumerated() where weights.values[i] != 0 { nonZero[b] = true }
            out[layer.module] = nonZero.indices.filter { !nonZero[$0] }
        }
        return out
    }

    func testTheListedBlocksAndOnlyThemAreZero() throws {
        let budgets = try XCTUnwrap(try ModelBudgets.fromMetadata(try ONNXImporter.load(contentsOf: Self.modelURL).metadata))
        XCTAssertEqual(budgets.names, Self.bundled)
        XCTAssertEqual(budgets.prunedLayerBlocks, 64)
        for budget in budgets.budgets {
            let graph = try ONNXImporter.load(contentsOf: Self.modelURL, options: ImportOptions(budget: budget.name))
            let zero = try zeroBlocks(graph, budgets)
            XCTAssertEqual(zero, budget.zeroed, budget.name)
            XCTAssertEqual(zero.values.reduce(0) { $0 + $1.count }, budget.zeroedBlocks, budget.name)
        }
        XCTAssertEqual(budgets.budgets.map(\.zeroedBlocks), [0, 32, 48, 56])
    }

    func testBlockFormula() throws {
        // Gemm [m, n] viewed as [m, C, H, W]: fc1's geometry, 16 filters × 8 channels per block,
        // one row and column group: block = f/16 · 4 + c/8.
        let g = try BlockGeometry(shape: [100, 32, 7, 7], filtersPerBlock: 16, channelsPerBlock: 8,
                                  rowGroups: [0, 0, 0, 0, 0, 0, 0], columnGroups: [0, 0, 0, 0, 0, 0, 0], what: "test")
        XCTAssertEqual(g.blockCount, 28)
        XCTAssertEqual(g.block(f: 99, c: 31, y: 6, x: 6), 27)
        XCTAssertEqual(g.block(f: 17, c: 9, y: 3, x: 0), 5)
        let ids = g.blockOfEveryElement()
        XCTAssertEqual(ids[(17 * 32 + 9) * 49 + 3 * 7], 5)
        // A tap convolution: one block per tap.
        let t = try BlockGeometry(shape: [32, 16, 3, 3], filtersPerBlock: 8, channelsPerBlock: 16, rowGroups: [0, 1, 2], columnGroups: [0, 1, 2], what: "test")
        XCTAssertEqual(t.blockCount, 36)
        XCTAssertEqual(t.block(f: 9, c: 15, y: 2, x: 1), (1 * 3 + 2) * 3 + 1)
    }

    func testInspectDepthIsTheToolkitsDepth() throws {
        let (budgets, rows) = try XCTUnwrap(try BudgetsDescription.rows(data: try Data(contentsOf: Self.modelURL), fileName: "model.onnx"))
        XCTAssertEqual(rows.map(\.budget.name), Self.bundled)
        XCTAssertEqual(rows.map(\.isDefault), [true, false, false, false])
        for row in rows {
            XCTAssertEqual(row.depth, row.budget.depthWithoutFolding, row.budget.name)
            XCTAssertEqual(row.foldedDepth, row.budget.depth, row.budget.name)
        }
        let text = BudgetsDescription.lines(budgets, rows: rows).joined(separator: "\n")
        for piece in ["full *", "b875", "56 / 64", "act1, act2, act3", "10 (7)", "98.26% of 10000 test images", "0.875"] {
            XCTAssertTrue(text.contains(piece), "\(piece) missing from\n\(text)")
        }
        // Budgets that drop activations: the engine's count (fc1 and fc2 merged without act3) is
        // at most the toolkit's, which keeps the linear layers apart.
        let (_, extra) = try XCTUnwrap(try BudgetsDescription.rows(data: try Self.withExtraBudgets(), fileName: "model.onnx"))
        XCTAssertEqual(extra.suffix(3).map { [$0.depth, $0.budget.depthWithoutFolding!] }, [[8, 8], [7, 8], [3, 4]])
    }

    /// x (N×4) → fc1 (Gemm 3×4, transB) → act = c·h² (a monomial: folding would move c into fc2)
    /// → fc2 (Gemm 2×3) → y, with budgets "full" (act kept) and "lin" (act dropped, fc1 blocks
    /// 1 and 4 zeroed: fc1 viewed as [3, 4, 1, 1], 1 filter × 2 channels per block).
    static func tinyBudgetedModel(transB: Int64 = 1) throws -> Data {
        let w1: [Float] = [1, 2, 3, 4, -1, 0.5, 2, -3, 0.25, 1, -2, 1]
        let fc1Weight = transB == 1 ? ONNXBuilder.floats("w1", [3, 4], w1)
            : ONNXBuilder.floats("w1", [4, 3], (0..<12).map { w1[($0 % 3) * 4 + $0 / 3] })
        let nodes = [
            ONNXBuilder.node("Gemm", ["x", "w1", "b1"], ["h"], name: "/fc1/Gemm", attributes: [ONNXBuilder.intAttribute("transB", transB)]),
            ONNXBuilder.node("Mul", ["c", "h"], ["t"], name: "/act/Mul"),
            ONNXBuilder.node("Mul", ["t", "h"], ["a"], name: "/act/Mul_1"),
            ONNXBuilder.node("Gemm", ["a", "w2", "b2"], ["y"], name: "/fc2/Gemm", attributes: [ONNXBuilder.intAttribute("transB", 1)]),
        ]
        let inits = [fc1Weight, ONNXBuilder.floats("b1", [3], [0.5, -1, 0.25]), ONNXBuilder.floats("c", [1], [0.5]),
                     ONNXBuilder.floats("w2", [2, 3], [1, -1, 2, 0.5, 3, -2]), ONNXBuilder.floats("b2", [2], [0.125, -0.5])]
        var model = try ONNXImporter.parse(try ONNXBuilder.model(nodes: nodes, initializers: inits, inputs: [ONNXBuilder.valueInfo("x", [nil, 4])], output: "y"), fileName: "tiny")
        var entry = Onnx_StringStringEntryProto()
        entry.key = ModelBudgets.metadataKey
        entry.value = """
        {"format": 1, "default": "full", "activations": ["act"],
         "layers": [{"layer": "/fc1/Gemm", "module": "fc1", "initializer": "w1", "blocks": 6,
                     "geometry": {"shape": [3, 4, 1, 1], "filters_per_block": 1, "channels_per_block": 2, "row_groups": [0], "column_groups": [0]}}],
         "budgets": [{"name": "full", "kept_activations": [0], "zeroed": {"fc1": []}},
                     {"name": "lin", "kept_activations": [], "zeroed": {"fc1": [1, 4]}}]}
        """
        model.metadataProps = [entry]
        return try model.serializedData()
    }

    func testADroppedMonomialActivationIsTheIdentityAndTheDenseLayersMerge() throws {
        let data = try Self.tinyBudgetedModel()
        let x: [Double] = [0.5, -1, 2, 1]
        let w1: [[Double]] = [[1, 2, 3, 4], [-1, 0.5, 2, -3], [0.25, 1, -2, 1]]
        let w2: [[Double]] = [[1, -1, 2], [0.5, 3, -2]]
        func reference(zeroed: Set<Int>, activation: (Double) -> Double) -> [Double] {
            let h = (0..<3).map { f in (0..<4).reduce([0.5, -1, 0.25][f]) { s, c in zeroed.contains(f * 2 + c / 2) ? s : s + w1[f][c] * x[c] } }
            return (0..<2).map { o in (0..<3).reduce([0.125, -0.5][o]) { $0 + w2[o][$1] * activation(h[$1]) } }
        }
        let input = Tensor(shape: [1, 4], values: x)
        let full = try ONNXImporter.load(data: data, fileName: "tiny")
        XCTAssertEqual(full.budget, "full")
        XCTAssertEqual(try PlainExecutor.run(full, input: input).values, reference(zeroed: [], activation: { 0.5 * $0 * $0 }))
        for fold in [true, false] {
            let lin = try ONNXImporter.load(data: data, options: ImportOptions(foldLinearLayers: fold, budget: "lin"), fileName: "tiny")
            let want = reference(zeroed: [1, 4], activation: { $0 })
            let got = try PlainExecutor.run(lin, input: input).values
            XCTAssertLessThan(maxRelativeError(got, want), 1e-12, "fold \(fold): \(got) vs \(want)")
            XCTAssertEqual(lin.polynomialLayers.count, 0)
            // Folded, fc1 and fc2 are one dense layer (one level); unfolded they stay two.
            XCTAssertEqual(lin.layers.filter { $0.operation.kind == "dense" }.count, fold ? 1 : 2)
            XCTAssertEqual(lin.multiplicativeDepth, fold ? 1 : 2)
        }
        // The format defines a Gemm weight with transB = 1; another orientation is refused.
        assertRefused(try Self.tinyBudgetedModel(transB: 0), ["initializer 'w1' has shape 4×3", "3×4"])
    }

    /// The import of `data` with `budget` fails with a ModelError whose message holds every piece.
    func assertRefused(_ data: Data, budget: String? = nil, _ pieces: [String], file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try ONNXImporter.load(data: data, options: ImportOptions(budget: budget), fileName: "model.onnx")
            XCTFail("imported; expected an error with \(pieces)", file: file, line: line)
        } catch let error as ModelError {
            for piece in pieces {
                XCTAssertTrue(error.description.contains(piece), "'\(piece)' missing from: \(error)", file: file, line: line)
            }
        } catch {
            XCTFail("not a ModelError: \(error)", file: file, line: line)
        }
    }

    func testUnknownBudgetListsTheNames() throws {
        assertRefused(try Data(contentsOf: Self.modelURL), budget: "b99", ["no budget 'b99'", "full, b50, b75, b875", "default full"])
        let plain = try Data(contentsOf: BundledModelsTests.examples.appendingPathComponent("mnist/model.onnx"))
        assertRefused(plain, budget: "b50", ["has no budgets", "he_tool.budgets"])
    }

    func testDamagedMetadataIsRefusedClearly() throws {
        func layer(_ json: inout [String: Any], _ i: Int, _ edit: (inout [String: Any]) -> Void) {
            var layers = json["layers"] as! [[String: Any]]
            edit(&layers[i])
            json["layers"] = layers
        }
        func budget(_ json: inout [String: Any], _ i: Int, _ edit: (inout [String: Any]) -> Void) {
            var budgets = json["budgets"] as! [[String: Any]]
            edit(&budgets[i])
            json["budgets"] = budgets
        }
        assertRefused(try Self.mutated(raw: "{\"format\": 1, \"budgets\": [}"), ["he_tool.budgets is not valid JSON"])
        assertRefused(try Self.mutated(raw: "[1, 2]"), ["is a list, not an object"])
        assertRefused(try Self.mutated { $0["format"] = 2 }, ["format 2", "reads format 1"])
        assertRefused(try Self.mutated { $0["format"] = true }, ["format", "reads format 1"])
        assertRefused(try Self.mutated { $0["default"] = "b60" }, ["default is 'b60'", "full, b50, b75, b875"])
        assertRefused(try Self.mutated { $0["activations"] = ["act1", "act2", "act3", "act4"] }, ["4 activations", "3 polynomial activation"])
        assertRefused(try Self.mutated { $0["activations"] = ["act1", "act2"] }, ["holds 2, but there are 2 activations"])
        assertRefused(try Self.mutated { $0["activations"] = ["act1", "act1", "act3"] }, ["names 'act1' twice"])
        // Block indices out of range, repeated, or a total that disagrees with the lists.
        assertRefused(try Self.mutated { json in budget(&json, 1) { $0["zeroed"] = ["conv2": [0, 36], "fc1": []] } },
                      ["budgets[1].zeroed.conv2[1] is block 36", "layer 'conv2' has 36 blocks (0 … 35)"])
        assertRefused(try Self.mutated { json in budget(&json, 1) { $0["zeroed"] = ["conv2": [-1], "fc1": []] } },
                      ["budgets[1].zeroed.conv2[0] is -1"])
        assertRefused(try Self.mutated { json in budget(&json, 1) { $0["zeroed"] = ["conv2": [3, 3], "fc1": []] } }, ["not increasing"])
        assertRefused(try Self.mutated { json in budget(&json, 1) { $0["zeroed"] = ["conv3": [1]] } }, ["module 'conv3'", "conv2, fc1"])
        assertRefused(try Self.mutated { json in budget(&json, 2) { $0["zeroed_blocks"] = 47 } }, ["budgets[2].zeroed_blocks is 47", "hold 48 blocks"])
        assertRefused(try Self.mutated { json in budget(&json, 0) { $0["kept_activations"] = [0, 1, 3] } }, ["holds 3", "3 activations"])
        assertRefused(try Self.mutated { json in budget(&json, 0) { $0["kept_activation_names"] = ["act1", "act3", "act2"] } }, ["kept_activation_names"])
        assertRefused(try Self.mutated { json in budget(&json, 0) { $0["ratio"] = 1.5 } }, ["budgets[0].ratio is 1.5"])
        assertRefused(try Self.mutated { json in budget(&json, 0) { $0["name"] = "b50" } }, ["names budget 'b50' twice"])
        // Geometry: the block count, the groups, and the initializer's shape.
        assertRefused(try Self.mutated { json in layer(&json, 0) { $0["blocks"] = 35 } }, ["layers[0].blocks is 35", "= 36 blocks"])
        assertRefused(try Self.mutated { json in layer(&json, 0) { l in
            var g = l["geometry"] as! [String: Any]; g["row_groups"] = [0, 1]; l["geometry"] = g } }, ["row_groups has 2 entries", "KH = 3"])
        assertRefused(try Self.mutated { json in layer(&json, 0) { l in
            var g = l["geometry"] as! [String: Any]; g["shape"] = [16, 32, 3, 3]; l["geometry"] = g } },
                      ["layer 'conv2' has block geometry of shape 16×32×3×3", "'conv2.weight' has shape 32×16×3×3"])
        assertRefused(try Self.mutated { json in layer(&json, 1) { l in
            var g = l["geometry"] as! [String: Any]; g["shape"] = [100, 16, 7, 7]; g["channels_per_block"] = 4; l["geometry"] = g } },
                      ["layer 'fc1' has block geometry of shape 100×16×7×7", "100×1568"])
        assertRefused(try Self.mutated { json in layer(&json, 0) { $0["initializer"] = "conv9.weight" } }, ["initializer 'conv9.weight', which is not in the file"])
        assertRefused(try Self.mutated { json in layer(&json, 0) { $0["initializer"] = "conv2.bias" } }, ["initializer 'conv2.bias' has shape 32"])
        assertRefused(try Self.mutated { json in layer(&json, 0) { $0["layer"] = "/conv1/Conv" } }, ["names node '/conv1/Conv'"])
        // Every field of the wrong type or missing: an error, never a crash.
        let names = ["format", "default", "activations", "layers", "budgets"]
        for key in names {
            for value: Any in ["x", 7, NSNull(), [String: Any]()] {
                assertRefused(try Self.mutated { $0[key] = value }, ["he_tool.budgets"])
            }
        }
        assertRefused(try Self.mutated { json in budget(&json, 3) { $0["name"] = 7 } }, ["budgets[3].name is a number, not a string"])
        assertRefused(try Self.mutated { json in budget(&json, 3) { $0["name"] = "b 8" } }, ["budgets[3].name is 'b 8'"])
        for key in ["kept_activations", "zeroed", "ratio", "depth", "accuracy_onnxruntime", "test_images"] {
            for value: Any in ["x", -1, [1.5]] {
                assertRefused(try Self.mutated { json in budget(&json, 3) { $0[key] = value } }, ["he_tool.budgets: budgets[3]"])
            }
        }
        for key in ["module", "initializer", "blocks", "geometry"] {
            assertRefused(try Self.mutated { json in layer(&json, 1) { $0[key] = 3.5 } }, ["he_tool.budgets: layers[1]"])
        }
    }
}
