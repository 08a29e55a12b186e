import ArgumentParser
import Compiler
import CKKS
import TileTensors

/// `he-tool bench conv`: one convolution on tile tensors — the chosen tile shapes, the mock's
/// operation counts, the levels consumed and the median wall time on CKKS.
struct BenchConvCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conv",
        abstract: "Time a convolution on tile tensors (interleaved or SIMD algorithm).",
        discussion: "Example, the first layer of CryptoNets: --input 1x28x28 --out-channels 5 --kernel 5 --stride 2 --padding 1 --batch 512")

    @Option(help: "Input as CxHxW.") var input: String = "1x28x28"
    @Option(help: "Output channels F.") var outChannels: Int = 5
    @Option(help: "Kernel size K.") var kernel: Int = 5
    @Option(help: "Stride.") var stride: Int = 2
    @Option(help: "Zero padding.") var padding: Int = 1
    @Option(help: "Images per batch (SIMD: packed in front of the image, as many per ciphertext as fit).") var batch: Int = 1
    @Option(help: "interleaved or simd.") var algorithm: String = "interleaved"
    @Option(help: "Image tile t_X = t_Y of the interleaved layout (1: CryptoNets).") var imageTile: Int = 1
    @Option(help: "Parameter preset name or preset JSON file.") var params: String = "n8192-l2"
    @Option(help: "Timed repetitions.") var reps: Int = 5
    @Flag(help: "Print JSON in the schema of shared/bench.") var json = false

    func run() throws {
        let sizes = input.split(separator: "x").compactMap { Int($0) }
        guard sizes.count == 3, sizes.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--input must be CxHxW, got \(input)") }
        guard ["interleaved", "simd"].contains(algorithm) else { throw ValidationError("--algorithm must be interleaved or simd") }
        guard reps >= 1, batch >= 1, kernel >= 1, stride >= 1, padding >= 0 else { throw ValidationError("sizes must be positive") }
        let (c, h, w) = (sizes[0], sizes[1], sizes[2])
        let preset = try ParameterPreset.named(params)
        let parameters = try preset.parameters()
        let slots = parameters.slotCount
        let filters = TensorBenchmarks.random([outChannels, c, kernel, kernel])
        let bias = TensorBenchmarks.random([outChannels]).values
        let simd = algorithm == "simd"
        let images = batch
        let shape: TileShape
        let logical: Tensor
        if simd {
            shape = try LayoutChoice.simdConvInput(channels: c, height: h, width: w, kernel: kernel, stride: stride, padding: padding,
                                                   batch: images, slots: slots)
            let one = try Tensor.polyphase(TensorBenchmarks.random([c, h, w]), stride: stride)
            logical = images == 1 ? one : try Tensor(shape: [images] + one.shape, values: (0..<images).flatMap { _ in one.values })
        } else {
            shape = try LayoutChoice.interleavedConvInput(channels: c, filters: outChannels, height: h, width: w, batch: images,
                                                          imageTile: imageTile, slots: slots)
            logical = TensorBenchmarks.random(shape.logicalShape)
        }
        func conv<B: TensorBackend>(_ x: TileTensor<B>) throws -> TileTensor<B> {
            simd ? try x.conv2dSIMD(filters: filters, bias: bias, stride: stride, padding: padding, height: h, width: w)
                : try x.conv2dInterleaved(filters: filters, bias: bias, stride: stride, padding: padding)
        }
        let mock = MockBackend(slotCount: slots, parameters: parameters)
        let mx = try TileTensor(encrypting: logical, shape: shape, backend: mock)
        mock.resetCounts()
        let mockOut = try conv(mx)
        let counts = mock.counts
        let countsByLevel = mock.countsByLevel

        let backend = try TensorBenchmarks.backend(parameters: parameters, rotations: mock.rotationSteps)
        let x = try TileTensor(encrypting: logical, shape: shape, backend: backend)
        var failure: Error?
        var last: TileTensor<CKKSBackend>?
        let summary = Stopwatch.measure(reps: reps, warmup: 1) {
            do { last = try conv(x) } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
        let precision = TensorBenchmarks.bits(try last!.decrypt(), try mockOut.decrypt())

        var report = BenchReport(
            title: "conv \(input) → \(outChannels) maps, K \(kernel), stride \(stride), padding \(padding), batch \(images), \(algorithm), \(preset.name) (\(slots) slots), \(reps) reps",
            params: [("log_n", "\(parameters.logDegree)"), ("algorithm", "\"\(algorithm)\""), ("batch", "\(images)"),
                     ("input", "\"\(input)\""), ("out_channels", "\(outChannels)"), ("kernel", "\(kernel)"),
                     ("stride", "\(stride)"), ("padding", "\(padding)"), ("rotations", "\(counts.rotations + counts.hoistedRotations)"),
                     ("preset", "\"\(preset.name)\"")],
            threads: 1, reps: reps)
        report.rows.append(("conv", summary))
        report.rows.append(("conv_per_image", Stopwatch.Summary(median: summary.median / Double(images), minimum: summary.minimum / Double(images))))
        TensorBenchmarks.describe("conv", input: shape, output: mockOut.shape, counts: counts,
                                  levels: backend.maxLevel - last!.level, into: &report)
        report.notes.append(String(format: "  %d input and %d output ciphertexts; CKKS vs mock: %.1f bits", x.tiles.count, last!.tiles.count, precision))
        report.notes.append(TensorBenchmarks.estimateNote(countsByLevel, parameters: parameters, preset: preset.name, measured: summary.median))
        print(json ? report.json() : report.table())
    }
}
