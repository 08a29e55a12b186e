import CKKS
import Model
import TileTensors
import XCTest
@testable import Compiler

/// The optimizer prices plans on a counting-only mock (no slot values: milliseconds whatever the
/// ring). Oracle: the same plans simulated with values computed. Every step's counts by level,
/// layouts, levels, live bytes and the rotation steps must be identical, for chains, residual
/// blocks, concatenations and paths that convert between tilings.
final class CountingSimulationTests: XCTestCase {
    func same(_ a: ChainSimulation, _ b: ChainSimulation, _ label: String) {
        XCTAssertEqual(a.rotationSteps, b.rotationSteps, label)
        XCTAssertEqual(a.outputLayout, b.outputLayout, label)
        XCTAssertEqual(a.steps.count, b.steps.count, label)
        for (k, (x, y)) in zip(a.steps, b.steps).enumerated() {
            XCTAssertEqual(x.countsByDepth, y.countsByDepth, "\(label) step \(k)")
            XCTAssertEqual(x.outputLayout, y.outputLayout, "\(label) step \(k)")
            XCTAssertEqual([x.depthBefore, x.depthAfter, x.liveBytes], [y.depthBefore, y.depthAfter, y.liveBytes], "\(label) step \(k)")
            XCTAssertEqual(x.converted, y.converted, "\(label) step \(k)")
        }
    }

    func testCountingOnlySimulationCountsWhatTheValueMockCounts() throws {
        let graphs: [(String, Graph)] = [
            ("identity shortcut", ResidualGraphTests.residual(projection: false)),
            ("projection shortcut", ResidualGraphTests.residual(projection: true)),
            ("dense concat", ResidualGraphTests.concatenation(dense: true)),
        ]
        var compared = 0, converting = 0
        for (label, graph) in graphs {
            let lowered = try NetworkLowering.lower(graph)
            let n = lowered.steps.count
            let tilings = InterleavedTiling.enumerate(slots: 1024, maxChannelTile: 16, maxImageTile: 16, minimumBatchTile: 1)
                .filter { $0.tB == 1 }
            // Every tiling alone, and pairs switching tiling half way (conversions).
            var paths = tilings.map { Array(repeating: $0, count: n) }
            for (a, b) in zip(tilings, tilings.dropFirst()) { paths.append(Array(repeating: a, count: n / 2) + Array(repeating: b, count: n - n / 2)) }
            for path in paths {
                let counted: ChainSimulation
                do {
                    counted = try ChainSimulation.run(lowered, tilings: path, batch: 1, logScale: 30, levels: 3 * n)
                } catch {
                    // A tiling that cannot run must fail the same way with values.
                    XCTAssertThrowsError(try ChainSimulation.run(lowered, tilings: path, batch: 1, logScale: 30, levels: 3 * n, values: true), label)
                    continue
                }
                let valued = try ChainSimulation.run(lowered, tilings: path, batch: 1, logScale: 30, levels: 3 * n, values: true)
                same(counted, valued, "\(label) \(path.map(\.description))")
                compared += 1
                if counted.steps.contains(where: \.converted) { converting += 1 }
            }
        }
        XCTAssertGreaterThan(compared, 10)
        XCTAssertGreaterThan(converting, 2, "some paths must convert between tilings")
    }
}
