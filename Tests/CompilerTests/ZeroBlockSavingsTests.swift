import XCTest
@testable import Compiler
import Model
import TileTensors

/// The compile report's account of a pruned model's zero weight blocks: what its plan does not
/// multiply or rotate, against the same plan with those blocks nonzero.
final class ZeroBlockSavingsTests: XCTestCase {
    func testPrunedModelReportsWhatItsZerosRemoved() throws {
        let (_, dense, _) = try FlowFixtures.compile("mnist")
        XCTAssertNil(dense.zeroBlockSavings, "an unpruned model saves nothing")

        let (_, pruned, _) = try FlowFixtures.compile("mnist-pruned-all")
        let saved = try XCTUnwrap(pruned.zeroBlockSavings)
        // The unpruned model (the same network, none of its weights zero) in the pruned plan's
        // own tilings counts exactly the saved products and key switches more.
        let plan = pruned.plans[0]
        let full = try ChainSimulation.run(dense.chain, tilings: plan.simulation.tilings, batch: plan.batch,
                                           logScale: Optimizer.Options().minimumScaleBits, levels: dense.chain.steps.count * 4 + 2)
        func total(_ s: ChainSimulation) -> OperationCounts { s.steps.reduce(OperationCounts()) { $0 + $1.countsByDepth.values.reduce(OperationCounts(), +) } }
        let all = total(full), kept = total(plan.simulation)
        XCTAssertEqual(all.plainMultiplications - kept.plainMultiplications, saved.plainProducts)
        XCTAssertEqual(all.rotations + all.hoistedRotations - kept.rotations - kept.hoistedRotations, saved.rotations)
        XCTAssertGreaterThan(saved.plainProducts, kept.plainMultiplications / 2, "most of the pruned layers' products go")
        XCTAssertTrue(CompilationReport.lines(pruned).contains { $0.hasPrefix("zero weight blocks: \(saved.plainProducts) plaintext products") })
    }
}
