/// Chunked execution in the optimizer: a plan over the memory limit whole may fit with its
/// convolutions made a few channel tiles at a time (`ChunkedSegment`), at the price its chunked
/// simulation counts (in one-pixel tiles the same products; with rotations, the first
/// convolution's input rotations once per chunk).
extension Optimizer {
    /// The chunkable segments of `chain` in `tilings`, left to right and disjoint: (first
    /// convolution, the convolution ending the segment, the most chunks it takes).
    static func chunkableSegments(_ chain: NetworkLowering.Result, tilings: [InterleavedTiling]) -> [(start: Int, end: Int, maximum: Int)] {
        var lastUse: [Int: Int] = [:]
        for (k, step) in chain.steps.enumerated() { for v in step.inputs { lastUse[v] = max(lastUse[v] ?? 0, k) } }
        var result: [(Int, Int, Int)] = []
        var k = 0
        while k < chain.steps.count {
            if let end = ChunkedSegment.end(of: chain.steps, first: 0, start: k, tilings: tilings, lastUse: lastUse),
               case let .convolution(_, shape, _, _, _) = chain.steps[k].operation {
                let maximum = ChunkedSegment.maximumChunks(filters: shape[0], tiling: tilings[k])
                if maximum >= 2 { result.append((k, end, maximum)) }
                k = end + 1
            } else {
                k += 1
            }
        }
        return result
    }

    /// `candidate` with every chunkable segment made in the fewest chunks (2, 4, 8, …, each
    /// segment at most one per channel tile) that bring its memory within `limit`, priced by
    /// `price`; nil when no chunking does (or the chain has no segment).
    static func chunkedToFit(_ candidate: Candidate, chain: NetworkLowering.Result, limit: Int, weightCount: Int,
                             price: (ChainSimulation) throws -> [Double]) throws -> Candidate? {
        let simulation = candidate.simulation
        let segments = chunkableSegments(chain, tilings: simulation.tilings)
        guard let most = segments.map(\.maximum).max() else { return nil }
        var c = 2
        while true {
            var chunks = [Int](repeating: 1, count: chain.steps.count)
            for s in segments { chunks[s.start] = min(c, s.maximum) }
            let chunked = try simulation.chunked(chunks, steps: chain.steps)
            let fitted = Candidate(simulation: chunked, choice: candidate.choice, stepMicroseconds: try price(chunked), batch: candidate.batch)
            if fitted.leastMemoryBytes(weightCount: weightCount) <= limit { return fitted }
            if c >= most { return nil }
            c *= 2
        }
    }

    /// "steps 0–3 in 4 chunks, …" for a report.
    static func chunkSummary(_ chunks: [Int]) -> String {
        let parts = chunks.enumerated().filter { $0.element > 1 }.map { "step \($0.offset) in \($0.element) chunks" }
        return parts.isEmpty ? "no chunks" : parts.joined(separator: ", ")
    }
}
