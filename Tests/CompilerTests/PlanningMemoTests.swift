import Foundation
import Model
import TileTensors
import XCTest
@testable import Compiler

/// A compile plans again when its precision estimate asks for a larger scale; the second round
/// re-prices the first round's simulations and conversion paths (`PlanningMemo`) instead of
/// simulating again. It must plan exactly what a fresh round plans.
final class PlanningMemoTests: XCTestCase {
    func testARoundAtALargerScalePlansWhatAFreshRoundPlans() throws {
        let chain = try NetworkLowering.lower(PrecisionPlanningTests.network(headScale: 1))
        var options = Optimizer.Options()
        options.memo = PlanningMemo()
        // Scales held apart, as the compile's rounds are (2^30, then 2^31 and more).
        options.minimumScaleBits = 29
        options.maximumScaleBits = 30
        let first = try Optimizer.plans(for: chain, options: options, costModel: FlowFixtures.costModel)
        options.minimumScaleBits = 31
        options.maximumScaleBits = 32
        var lines: [String] = []
        let again = try Optimizer.plans(for: chain, options: options, costModel: FlowFixtures.costModel) { lines.append($0) }
        var fresh = options
        fresh.memo = nil
        let want = try Optimizer.plans(for: chain, options: fresh, costModel: FlowFixtures.costModel)
        XCTAssertTrue(lines.contains { $0.contains("from the previous planning round") }, lines.joined(separator: "\n"))
        XCTAssertLessThanOrEqual(first[0].choice.parameters.logScale, 30)
        XCTAssertEqual(again.count, want.count)
        for (a, b) in zip(again, want) {
            XCTAssertEqual(a.simulation.tilings, b.simulation.tilings)
            XCTAssertEqual(a.choice.preset.name, b.choice.preset.name)
            XCTAssertGreaterThanOrEqual(a.choice.parameters.logScale, 31)
            XCTAssertEqual(a.stepMicroseconds, b.stepMicroseconds)
            XCTAssertEqual(a.simulation.rotationSteps, b.simulation.rotationSteps)
            XCTAssertEqual(a.simulation.steps.map(\.depthAfter), b.simulation.steps.map(\.depthAfter))
            XCTAssertEqual(a.simulation.steps.map(\.peakBytes), b.simulation.steps.map(\.peakBytes))
        }
    }

    /// A simulation its budget stopped keeps the counts it had reached: a later budget that
    /// refuses them stops it at once, without simulating; one that allows them simulates it
    /// (then kept whole, and handed back under any budget).
    func testAStoppedSimulationStopsAgainWithoutRunning() throws {
        let chain = try NetworkLowering.lower(PrecisionPlanningTests.network(headScale: 1))
        var options = Optimizer.Options()
        options.searchConversions = false
        let tiling = try Optimizer.plans(for: chain, options: options, costModel: FlowFixtures.costModel)[0].simulation.tiling
        let levels = chain.steps.count * 4 + 2
        let path = Array(repeating: tiling, count: chain.steps.count)
        let memo = PlanningMemo()
        var runs = 0
        func simulate(_ budget: (([Int: OperationCounts]) -> Bool)?) throws -> ChainSimulation {
            runs += 1
            return try ChainSimulation.run(chain, tiling: tiling, batch: 1, logDegree: tiling.slots.trailingZeroBitCount + 1,
                                           logScale: 30, levels: levels, budget: budget)
        }
        let nothing: ([Int: OperationCounts]) -> Bool = { counts in counts.values.allSatisfy { $0 == OperationCounts() } }
        for round in 0..<2 {
            XCTAssertThrowsError(try memo.simulation(chain, tilings: path, batch: 1, complexPacking: false, budget: nothing, simulate: simulate),
                                 "round \(round)") { XCTAssertEqual($0 as? TileTensorError, .budgetExceeded) }
        }
        XCTAssertEqual(runs, 1, "the second round is stopped by the counts the first reached")
        let whole = try memo.simulation(chain, tilings: path, batch: 1, complexPacking: false, budget: { _ in true }, simulate: simulate)
        XCTAssertEqual(runs, 2)
        let kept = try memo.simulation(chain, tilings: path, batch: 1, complexPacking: false, budget: nothing, simulate: simulate)
        XCTAssertEqual(runs, 2, "a whole simulation is kept")
        XCTAssertEqual(kept.steps.map(\.countsByDepth), whole.steps.map(\.countsByDepth))
        XCTAssertGreaterThan(whole.steps.count, 1)
    }

    /// A join's level depends on its operands' scales, so a chain with one keeps nothing.
    func testChainsWithJoinsAreNotKept() throws {
        let residual = try NetworkLowering.lower(ResidualGraphTests.residual(projection: false))
        XCTAssertNil(PlanningMemo.chainKey(residual))
        XCTAssertNotNil(PlanningMemo.chainKey(try NetworkLowering.lower(PrecisionPlanningTests.network(headScale: 1))))
        let memo = PlanningMemo()
        var made = 0
        for _ in 0..<2 {
            _ = memo.paths(residual, reference: InterleavedTiling(t0: 1, t1: 1, tX: 8, tY: 8, tB: 1), batch: 1, prices: [:]) {
                made += 1
                return []
            }
        }
        XCTAssertEqual(made, 2, "a chain with a join is searched every time")
    }

    /// The conversion search with its blocks kept finds the paths a fresh search finds, at
    /// another scale and with other prices too (the kept counts are priced again).
    func testConversionSearchWithKeptBlocksFindsTheFreshPaths() throws {
        let chain = try NetworkLowering.lower(PrecisionPlanningTests.network(headScale: 1))
        var options = Optimizer.Options()
        options.searchConversions = false
        let reference = try Optimizer.plans(for: chain, options: options, costModel: FlowFixtures.costModel)[0]
        let model = try FlowFixtures.costModel(reference.choice)
        let top = reference.choice.parameters.maxLevel
        func price(rotationWeight: Double) -> ([Int: OperationCounts]) -> Double {
            { counts in
                counts.reduce(0.0) { sum, entry in
                    sum + ((try? model.microseconds(entry.value, level: max(0, top - entry.key))) ?? 0)
                        + rotationWeight * Double(entry.value.rotations + entry.value.hoistedRotations)
                }
            }
        }
        let tilings = InterleavedTiling.enumerate(slots: reference.simulation.tiling.slots, maxChannelTile: 4, maxImageTile: 8,
                                                  minimumBatchTile: 1)
        let levels = chain.steps.count * 4 + 2
        let memo = PlanningMemo()
        var found = 0
        for (logScale, weight) in [(29, 0.0), (31, 500.0)] {
            let fresh = ConversionSearch.paths(chain, reference: reference.simulation, tilings: tilings, logScale: logScale,
                                               levels: levels, price: price(rotationWeight: weight), progress: { _ in })
            let kept = ConversionSearch.paths(chain, reference: reference.simulation, tilings: tilings, logScale: logScale,
                                              levels: levels, price: price(rotationWeight: weight), memo: memo, progress: { _ in })
            XCTAssertEqual(kept, fresh, "scale 2^\(logScale), rotation weight \(weight)")
            found += fresh.count
        }
        XCTAssertGreaterThan(found, 0, "the search must find a path with a conversion for the comparison to mean anything")
    }
}
