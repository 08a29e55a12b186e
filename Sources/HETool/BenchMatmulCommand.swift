import ArgumentParser
import CKKS
import TileTensors

/// `he-tool bench matmul`: y = W·x for an R×C matrix and one encrypted vector, by tile shapes
/// (dense, row orientation) and by the diagonal method (baby-step/giant-step).
struct BenchMatmulCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "matmul",
        abstract: "Time matrix × vector on tile tensors (tile-shape dense layer and diagonal method).")

    @Option(help: "Rows R of W.") var rows: Int = 64
    @Option(help: "Columns C of W (the vector's length).") var cols: Int = 64
    @Option(help: "Tile size t1 along the columns for the dense layout (default: C rounded up to a power of two).") var tileCols: Int?
    @Option(help: "Parameter preset name or preset JSON file.") var params: String = "n8192-l2"
    @Option(help: "Timed repetitions.") var reps: Int = 10
    @Flag(help: "Print JSON in the schema of shared/bench.") var json = false

    func run() throws {
        guard rows >= 1, cols >= 1, reps >= 1 else { throw ValidationError("sizes must be positive") }
        let preset = try ParameterPreset.named(params)
        let parameters = try preset.parameters()
        let slots = parameters.slotCount
        let w = TensorBenchmarks.random([rows, cols])
        let x = TensorBenchmarks.random([1, cols])
        var report = BenchReport(
            title: "matmul \(rows)×\(cols) · vector, \(preset.name) (\(slots) slots), \(reps) reps",
            params: [("log_n", "\(parameters.logDegree)"), ("rows", "\(rows)"), ("cols", "\(cols)"), ("preset", "\"\(preset.name)\"")],
            threads: 1, reps: reps)
        var kernels: [(String, TileShape, (TileTensor<MockBackend>) throws -> TileTensor<MockBackend>, (TileTensor<CKKSBackend>) throws -> TileTensor<CKKSBackend>)] = [
            ("dense", try LayoutChoice.denseRowInput(columns: cols, columnTile: tileCols, slots: slots), { try $0.dense(weights: w) }, { try $0.dense(weights: w) }),
        ]
        if let diagonal = try? LayoutChoice.diagonalInput(rows: rows, columns: cols, slots: slots) {
            kernels.append(("diagonal", diagonal, { try $0.diagonalMatrixVectorProduct(weights: w) }, { try $0.diagonalMatrixVectorProduct(weights: w) }))
        }
        for (name, shape, onMock, onCKKS) in kernels {
            let mock = MockBackend(slotCount: slots, parameters: parameters)
            let mx = try TileTensor(encrypting: x, shape: shape, backend: mock)
            mock.resetCounts()
            let mockOut = try onMock(mx)
            let backend = try TensorBenchmarks.backend(parameters: parameters, rotations: mock.rotationSteps)
            let cx = try TileTensor(encrypting: x, shape: shape, backend: backend)
            var failure: Error?
            var last: TileTensor<CKKSBackend>?
            report.rows.append((name, Stopwatch.measure(reps: reps, warmup: 1) {
                do { last = try onCKKS(cx) } catch { failure = failure ?? error }
            }))
            if let failure { throw failure }
            TensorBenchmarks.describe(name, input: shape, output: mockOut.shape, counts: mock.counts,
                                      levels: backend.maxLevel - last!.level, into: &report)
            report.notes.append(String(format: "  CKKS vs mock: %.1f bits", TensorBenchmarks.bits(try last!.decrypt(), try mockOut.decrypt())))
            report.notes.append(TensorBenchmarks.estimateNote(mock.countsByLevel, parameters: parameters, preset: preset.name,
                                                              measured: report.rows.last!.1.median))
        }
        print(json ? report.json() : report.table())
    }
}
