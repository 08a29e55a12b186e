import Dispatch
import TileTensors

/// The dynamic programme over the network's blocks that lets each block run in its own tiling,
/// paying for a layout conversion (masked rotations, one level) where the tiling changes: a
/// convolution on a 28×28 image and a dense layer on a 1×1 one want very different tiles, and
/// one tiling for the whole network makes every step pay for the worst step's needs.
///
/// A block (`NetworkLowering.Result.blocks`) is a step of a chain, or a whole residual block:
/// the steps between two points where a single value is live. At those points the state of the
/// DP is that value's tiling, the only one any later step sees; inside a block every branch runs
/// in one tiling, so the operands of a join always agree.
///
/// Each block is simulated alone in every tiling, from the input form it has in the reference
/// plan (the same dimensions and garbage, other tile sizes), and priced at the levels where it
/// runs; a conversion into a tiling is simulated with the block it feeds, from the cheapest few
/// predecessors into the cheapest few tilings of the block. The state is (tiling, conversions
/// so far), at most `maximumConversions`; the best paths are then simulated whole, exactly,
/// and priced with the parameters their depth needs, as every other plan.
enum ConversionSearch {
    static let maximumConversions = 2
    static let predecessors = 3
    static let successors = 5
    static let tileRatio = 64

    /// A block's input converted from one tiling into another.
    struct Move: Hashable {
        var from: InterleavedTiling
        var to: InterleavedTiling
    }

    struct State {
        var cost: Double
        var path: [InterleavedTiling]
    }

    /// Tiling paths (one tiling per step), best first by the DP's estimate.
    static func paths(_ chain: NetworkLowering.Result, reference: ChainSimulation, tilings: [InterleavedTiling],
                      logScale: Int, levels: Int, price: @escaping ([Int: OperationCounts]) -> Double,
                      memo: PlanningMemo? = nil, progress: (String) -> Void) -> [[InterleavedTiling]] {
        let blocks = chain.blocks
        let n = blocks.count
        // A block's cost, nil when it does not run or costs more than `limit` (whether or not
        // the budget stopped it: so a block kept by the memo counts as a fresh one).
        func simulate(_ b: Int, in t: InterleavedTiling, from input: TileShape, limit: Double) -> Double? {
            let r = blocks[b]
            let depth = reference.steps[r.lowerBound].depthBefore
            func run() -> [[Int: OperationCounts]]? {
                (try? ChainSimulation.segment(Array(chain.steps[r]), first: r.lowerBound,
                                              tilings: Array(repeating: t, count: r.count), input: input,
                                              depth: depth, logScale: logScale, levels: levels,
                                              budget: limit.isFinite ? { price($0) <= limit } : nil))?.steps.map(\.countsByDepth)
            }
            let counts = memo.map { $0.blockCounts(chain, steps: r, tiling: t, input: input, depth: depth, levels: levels, simulate: run) } ?? run()
            guard let counts else { return nil }
            let cost = counts.reduce(0.0) { $0 + price($1) }
            return cost <= limit ? cost : nil
        }
        // stay[b][T]: block b in T, from the form its input has when block b − 1 also ran in T.
        // Blocks are independent here: simulated on every core (the mock backend of each
        // simulation is its own), results in block order.
        let perBlock = parallelMap(n) { b -> (stay: [InterleavedTiling: Double], simulated: Int) in
            let ref = reference.steps[blocks[b].lowerBound]
            var best = Double.infinity, stay: [InterleavedTiling: Double] = [:], simulated = 0
            // Layouts that need many times the fewest ciphertexts of this block are not tried
            // (simulating them is what costs; for one image they never win).
            let inputs = tilings.compactMap { t in (try? keepingGarbage(ref.inputLayout, tiling: t)).map { (t, $0) } }
            let fewest = inputs.map(\.1.tileCount).min() ?? 1
            for (t, input) in inputs.sorted(by: { ($0.0.tX, -$0.0.tB) > ($1.0.tX, -$1.0.tB) }) where input.tileCount <= tileRatio * fewest {
                simulated += 1
                guard let cost = simulate(b, in: t, from: input, limit: best * 4) else { continue }
                stay[t] = cost
                best = min(best, cost)
            }
            return (stay, simulated)
        }
        let stay = perBlock.map(\.stay)
        let simulated = perBlock.reduce(0) { $0 + $1.simulated }
        // best[k][T] after block b.
        var states: [[InterleavedTiling: State]] = Array(repeating: [:], count: maximumConversions + 1)
        for (t, cost) in stay[0] { states[0][t] = State(cost: cost, path: [t]) }
        var conversions = 0
        for b in 1..<max(1, n) {
            var next: [[InterleavedTiling: State]] = Array(repeating: [:], count: maximumConversions + 1)
            func offer(_ k: Int, _ t: InterleavedTiling, _ s: State) {
                if next[k][t].map({ s.cost < $0.cost }) ?? true { next[k][t] = s }
            }
            for k in 0...maximumConversions {
                for (t, s) in states[k].sorted(by: { cheaper(($0.key, $0.value.cost), ($1.key, $1.value.cost)) }) {
                    if let c = stay[b][t] { offer(k, t, State(cost: s.cost + c, path: s.path + [t])) }
                }
            }
            let targets = stay[b].sorted { cheaper(($0.key, $0.value), ($1.key, $1.value)) }.prefix(successors).map(\.key)
            let ref = reference.steps[blocks[b].lowerBound]
            // Every (conversions so far, predecessor, target) is simulated on every core, then
            // offered in a fixed order: the result does not depend on the thread count.
            var jobs: [(k: Int, from: State, to: InterleavedTiling, input: TileShape)] = []
            for k in 0..<maximumConversions {
                // The cheapest few predecessors, and always the reference plan's own tiling: the
                // blocks' costs here are estimates from the reference's input forms, and where
                // they flatter another tiling the exact one-tiling plan is not converted from.
                // (Not enough alone for AlexNet: a state keeps one path per tiling, so the
                // optimizer also retries every path from the reference tiling.)
                var sources = Array(states[k].sorted(by: { cheaper(($0.key, $0.value.cost), ($1.key, $1.value.cost)) }).prefix(predecessors))
                if let own = states[k][reference.tiling], !sources.contains(where: { $0.key == reference.tiling }) {
                    sources.append((reference.tiling, own))
                }
                for (from, s) in sources {
                    guard let input = try? keepingGarbage(ref.inputLayout, tiling: from) else { continue }
                    for to in targets where to != from { jobs.append((k, s, to, input)) }
                }
            }
            // A conversion's cost depends only on its two tilings (the input form is the
            // predecessor's), so a move offered after no and after one conversion is simulated
            // once (45 of AlexNet's 431).
            var moveOf: [Move: Int] = [:]
            var moves: [(to: InterleavedTiling, input: TileShape)] = []
            let jobMoves = jobs.map { job -> Int in
                let move = Move(from: job.from.path[job.from.path.count - 1], to: job.to)
                if let known = moveOf[move] { return known }
                moveOf[move] = moves.count
                moves.append((job.to, job.input))
                return moves.count - 1
            }
            let moveCosts = parallelMap(moves.count) { simulate(b, in: moves[$0].to, from: moves[$0].input, limit: .infinity) }
            conversions += moveCosts.filter { $0 != nil }.count
            for (job, move) in zip(jobs, jobMoves) {
                guard let cost = moveCosts[move] else { continue }
                offer(job.k + 1, job.to, State(cost: job.from.cost + cost, path: job.from.path + [job.to]))
            }
            states = next
        }
        progress("optimizer: conversion search over \(n) blocks simulated \(simulated) single blocks and \(conversions) conversions")
        let finals = states.flatMap { $0.values }.sorted {
            $0.cost != $1.cost ? $0.cost < $1.cost : $0.path.flatMap(\.sizes).lexicographicallyPrecedes($1.path.flatMap(\.sizes))
        }
        var seen = Set<[InterleavedTiling]>()
        let best = finals.map(\.path).filter { seen.insert($0).inserted && Set($0).count > 1 }.prefix(4)
        return best.map { path in zip(blocks, path).flatMap { r, t in Array(repeating: t, count: r.count) } }
    }

    /// Cost order with ties broken by the tiling's sizes: the search visits dictionaries, whose
    /// order changes from run to run, so without it equal costs made different plans.
    static func cheaper(_ a: (InterleavedTiling, Double), _ b: (InterleavedTiling, Double)) -> Bool {
        a.1 != b.1 ? a.1 < b.1 : a.0.sizes.lexicographicallyPrecedes(b.0.sizes)
    }

    /// `body(i)` for i in 0 ..< count on every core, the results in index order.
    static func parallelMap<T>(_ count: Int, _ body: (Int) -> T) -> [T] {
        let results = UnsafeMutableBufferPointer<T?>.allocate(capacity: count)
        results.initialize(repeating: nil)
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: count) { results[$0] = body($0) }
        return results.map { $0! }
    }

    /// `shape` with `tiling`'s tile sizes and its unknown (garbage) dimensions kept.
    static func keepingGarbage(_ shape: TileShape, tiling: InterleavedTiling) throws -> TileShape {
        try TileShape(zip(shape.dimensions, tiling.sizes).map { dim, t in
            dim.isReplicated ? try .replicated(tile: t)
                : try TileDimension(size: dim.size, tileSize: t, interleaved: dim.isInterleaved).withUnknowns(dim.hasUnknowns)
        })
    }
}
