import CKKS

/// The products of a step in which no term rotates (one-pixel tiles: CryptoNets' layouts, batch
/// plans), as lazy sums: each output's products accumulated in 128 bits and reduced once
/// (`TensorBackend.sumsOfProducts`), several outputs at a time so that each input is read once
/// for all of them.
extension TileTensor {
    /// The most terms one lazy sum takes (`hoistedProducts` without rotations): its plaintexts
    /// are alive together.
    public static var lazySumTerms: Int { 32 }

    /// How many output sums are made together (`TensorBackend.sumsOfProducts`), each input
    /// read once for all of them: their accumulators (2N words per limb each) stay in cache.
    public static var lazySumBlock: Int { 4 }

    /// The run and the block when every weight is a scalar (nothing encoded, nothing held per
    /// term): the constant-factor kernel blocks the coefficients itself, so a block takes 16
    /// sums, each input read from memory once for all of them, and runs are joined 4× less
    /// often. CryptoNets at 8192 images: its convolution and dense layer 5.95 and 5.98 s with
    /// the plaintexts' 4 × 32, 4.92 and 4.85 s so.
    public static var scalarLazySumTerms: Int { 128 }
    public static var scalarLazySumBlock: Int { 16 }

    /// `hoistedProducts` when no term rotates: each output a lazy sum of its products,
    /// consecutive outputs made `lazySumBlock` at a time, their terms in runs of `lazySumTerms`
    /// (`scalarLazySumBlock` and `scalarLazySumTerms` when the caller knows every weight scalar)
    /// whose partial sums are added; blocks dealt to the product workers so that their term
    /// counts are even; each sum `finish`ed (rescaled) by its worker once complete. The same
    /// residues as adding the products one by one.
    func lazySums<Term: HoistedTerm>(_ terms: [Term], outputs: Int, workers: Int, scalarWeights: Bool = false,
                                     initial: consuming [Backend.Ciphertext?]? = nil,
                                     finish: (Backend.Ciphertext) throws -> Backend.Ciphertext,
                                     weight: (Term) throws -> TermWeight<Backend.Plaintext>) throws -> [Backend.Ciphertext?] {
        let tiles = self.tiles
        return try Self.lazySums(terms, outputs: outputs, workers: workers, backend: backend, scalarWeights: scalarWeights,
                                 initial: initial.take(), read: { tiles[$0] }, finish: finish, weight: weight)
    }

    /// `lazySums` on tiles that `read(source)` hands out, once per term that reads them (a
    /// `TileSupply` releases each tile after its last term, so a consuming step that makes its
    /// outputs in the order of its inputs holds only the inputs still to be read beside them).
    static func lazySums<Term: HoistedTerm>(_ terms: [Term], outputs: Int, workers: Int, backend: Backend,
                                            scalarWeights: Bool = false,
                                            initial: consuming [Backend.Ciphertext?]? = nil,
                                            read: (Int) -> Backend.Ciphertext,
                                            finish: (Backend.Ciphertext) throws -> Backend.Ciphertext,
                                            weight: (Term) throws -> TermWeight<Backend.Plaintext>) throws -> [Backend.Ciphertext?] {
        var byOutput = [[Term]](repeating: [], count: outputs)
        for term in terms { byOutput[term.output].append(term) }
        // Blocks of consecutive outputs: neighbouring pixels of one filter tile, whose windows
        // overlap (a dense layer's outputs all read every input), and whose plaintexts are the
        // same taps of one filter tile, so the plaintext cache keeps serving them. Grouping a
        // pixel's filter tiles instead shares every input but needs every filter's plaintexts
        // at once: the batch-4096 MNIST plan's 32×16 convolution overflowed the 1 GiB cache,
        // re-encoded, and ran 71 s instead of 40.
        var order = (0..<outputs).filter { !byOutput[$0].isEmpty }
        if scalarWeights {
            // Nothing is cached per weight here, so outputs that read the same inputs in the same
            // order go side by side (a convolution's filters at one pixel): the constant-factor
            // kernel makes such twins with one load per input, and a block's distinct inputs
            // stay few enough for L2. Each sum keeps its terms: the same residues in any order.
            let keys = byOutput.map { $0.map(\.source) }
            order.sort { a, b in keys[a] == keys[b] ? a < b : keys[a].lexicographicallyPrecedes(keys[b]) }
        }
        let blockSize = scalarWeights ? Self.scalarLazySumBlock : Self.lazySumBlock
        let blocks = stride(from: 0, to: order.count, by: blockSize).map { Array(order[$0..<min($0 + blockSize, order.count)]) }
        let workerCount = max(1, min(workers, blocks.count))
        var shares = [[Int]](repeating: [], count: workerCount)
        var load = [Int](repeating: 0, count: workerCount)
        for b in blocks.indices.sorted(by: { blocks[$0].count > blocks[$1].count || (blocks[$0].count == blocks[$1].count && $0 < $1) }) {
            let w = load.indices.min { load[$0] < load[$1] }!
            shares[w].append(b)
            load[w] += blocks[b].reduce(0) { $0 + byOutput[$1].count }
        }
        let runLength = scalarWeights ? Self.scalarLazySumTerms : Self.lazySumTerms
        // Each output's initial sum (if any) is handed to the worker that adds to it, or kept
        // as the result when no term reaches the output.
        let sums = Locked(initial.take() ?? [Backend.Ciphertext?](repeating: nil, count: outputs))
        try backend.runProductWorkers(workerCount, outputs: outputs) { w in
            for b in shares[w].sorted() {
                let members = blocks[b]
                var made = sums.withLock { all in members.map { output -> Backend.Ciphertext? in
                    let seed = all[output]
                    all[output] = nil
                    return seed
                } }
                let runs = members.map { (byOutput[$0].count + runLength - 1) / runLength }.max() ?? 0
                for r in 0..<runs {
                    // This run's inputs, each once, and each member's terms over them.
                    var local: [Int: Int] = [:]
                    var inputs: [Backend.Ciphertext] = []
                    var lists: [[(Int, TermWeight<Backend.Plaintext>)]] = []
                    var who: [Int] = []
                    for (m, output) in members.enumerated() where r * runLength < byOutput[output].count {
                        let run = byOutput[output][(r * runLength)..<min((r + 1) * runLength, byOutput[output].count)]
                        lists.append(try run.map { term in
                            // Every term reads (a supply counts the reads); the run keeps one copy.
                            let tile = read(term.source)
                            let index = local[term.source] ?? inputs.count
                            if index == inputs.count { local[term.source] = index; inputs.append(tile) }
                            return (index, try weight(term))
                        })
                        who.append(m)
                    }
                    let parts = try backend.sumsOfProducts(inputs: inputs, sums: lists)
                    for (k, m) in who.enumerated() { try backend.accumulate(&made[m], parts[k]) }
                }
                var finished: [Backend.Ciphertext?] = []
                for m in made.indices {
                    let sum = made[m]
                    made[m] = nil
                    finished.append(try sum.map(finish))
                }
                sums.withLock { for (m, output) in members.enumerated() { $0[output] = finished[m] } }
            }
        }
        return sums.withLock { $0 }
    }
}
