/// How the slots of a data movement (`TileTensor.remapped`) read their sources: target slot σ
/// of target tile R reads source tile S at slot σ + δ, and the slots are grouped by (R, S, δ).
/// Each group is one masked product of `rot(S, δ)`; what a plan of them costs is its rotations
/// (one per distinct (S, δ ≠ 0), the hoisted sets of the sources) and its rotation steps (one
/// evaluation key each).
struct RemapGroups {
    /// The groups in order of first appearance (target slots in order).
    var order: [RemapKey] = []
    /// Each group's target slots, ascending.
    var members: [[Int]] = []
    /// Each target tile's groups.
    var ofTarget: [[Int]]
    /// Each target tile's valid (element-holding) slots.
    var validPerTile: [Int]

    /// Groups the slots of `target` by where they read in `shape` (`source(I)`: the source
    /// element of target element I, nil for a zero).
    init(from shape: TileShape, to target: TileShape, slots: Int, source: ([Int]) -> [Int]?) throws {
        // Neighbouring slots mostly fall in one group, so the last group is tried before the
        // table: hashing every slot's key was a quarter of AlexNet's compile (the optimizer
        // prices hundreds of conversions). The table's key: (target, source · slots + δ), below
        // the source shape's total slots, which `TileShape.init` bounds (no overflow).
        var groupOf = PairTable(capacity: 64)
        var last: (key: RemapKey, group: Int)?
        var valid = [Int](repeating: 0, count: target.tileCount)
        var failure: Error?
        var order: [RemapKey] = [], members: [[Int]] = []
        target.forEachSlot { tile, slot, index in
            guard failure == nil, let index else { return }
            valid[tile] += 1
            guard let j = source(index) else { return }
            do {
                let (s, sigma) = try shape.location(of: j)
                let key = RemapKey(target: tile, source: s, delta: ((sigma - slot) % slots + slots) % slots)
                let g: Int
                if let last, last.key == key {
                    g = last.group
                } else {
                    let (found, inserted) = groupOf.value(key.target, key.source * slots + key.delta, orInsert: order.count)
                    g = found
                    if inserted {
                        order.append(key)
                        members.append([])
                    }
                }
                last = (key, g)
                members[g].append(slot)
            } catch { failure = error }
        }
        if let failure { throw failure }
        self.order = order
        self.members = members
        validPerTile = valid
        ofTarget = [[Int]](repeating: [], count: target.tileCount)
        for (g, key) in order.enumerated() { ofTarget[key.target].append(g) }
    }

    /// Every target tile is one source tile rotated by one step, covering all its elements.
    var wholeTiles: Bool {
        ofTarget.indices.allSatisfy { r in ofTarget[r].count == 1 && members[ofTarget[r][0]].count == validPerTile[r] }
    }

    /// One masked product per group of `rot(S, δ)`, each source's rotations hoisted.
    var direct: RemapCost {
        var rotations = PairTable(capacity: order.count), steps = DistinctSteps()
        for key in order where key.delta != 0 {
            rotations.insert(key.source, key.delta)
            steps.insert(key.delta)
        }
        return RemapCost(rotations: rotations.count, steps: steps.set)
    }

    /// The baby-step giant-step form of the same movement: δ = b + g with one baby b per
    /// (target, source) pair (its smallest δ, read as a signed step), so that
    /// R = Σ_g rot(Σ_(S, b) rot(mask, −g) ⊙ rot(S, b), g): the sources' baby rotations
    /// hoisted, the giant rotations made once per (target, g) on the sum of every source's
    /// masked products. When the sources of a target differ by a shift (channels of several
    /// tiles packed side by side), the babies align them and the giants are the few offsets
    /// inside one source: AlexNet's 6×6×256 pool output from 8×8×16×16 into 64×4×8×8 tiles took
    /// 49,120 rotations by 1,535 steps directly, 1,888 by 30 steps so (into one copy, then
    /// replicated).
    func babyGiantSplit(slots: Int) -> RemapSplit {
        // Per (target, source) pair, an index into `babies`, which keeps the pair's smallest step.
        var pairs = PairTable(capacity: order.count)
        var babies: [Int] = []
        var pairOfGroup = [Int](repeating: 0, count: order.count)
        for (g, key) in order.enumerated() {
            let signed = key.delta > slots / 2 ? key.delta - slots : key.delta
            let (p, inserted) = pairs.value(key.target, key.source, orInsert: babies.count)
            if inserted { babies.append(signed) } else { babies[p] = min(babies[p], signed) }
            pairOfGroup[g] = p
        }
        return split(slots: slots) { g, _ in babies[pairOfGroup[g]] }
    }

    /// The baby-step giant-step form with baby δ mod m and giant δ − (δ mod m): when the moves
    /// combine offsets along two dimensions (a strided pool's compaction: output pixel (y, x)
    /// reads (s·y, s·x), δ = y·stride₂ + x·stride₃ with distinct x and y), m = the outer
    /// dimension's slot stride makes a baby per inner offset and a giant per outer one: AlexNet's
    /// last pool, 36 offsets per tile, 10 rotations where the direct form takes 35.
    func babyGiantSplit(slots: Int, modulus m: Int) -> RemapSplit {
        split(slots: slots) { _, key in key.delta % m }
    }

    /// The cheapest (`RemapCost.score`) of the pairwise split and the splits by each modulus.
    func cheapestSplit(slots: Int, moduli: [Int]) -> RemapSplit {
        var best = babyGiantSplit(slots: slots)
        // In order: a tie keeps the smaller modulus, the same plan on every run.
        for m in Set(moduli).sorted() where m > 1 && m < slots {
            let candidate = babyGiantSplit(slots: slots, modulus: m)
            if candidate.cost.score < best.cost.score { best = candidate }
        }
        return best
    }

    /// The split with group g's baby `baby(g, key)` (any step; its giant makes up δ).
    private func split(slots: Int, baby babyOf: (Int, RemapKey) -> Int) -> RemapSplit {
        var baby: [Int] = [], giant: [Int] = []
        baby.reserveCapacity(order.count)
        giant.reserveCapacity(order.count)
        // Baby rotations are per (source, b), giant ones per (target, g): counted apart.
        var babies = PairTable(capacity: order.count), giants = PairTable(capacity: order.count)
        var steps = DistinctSteps()
        for (k, key) in order.enumerated() {
            let b = ((babyOf(k, key) % slots) + slots) % slots
            let g = ((key.delta - b) % slots + slots) % slots
            baby.append(b)
            giant.append(g)
            if b != 0 { babies.insert(key.source, b); steps.insert(b) }
            if g != 0 { giants.insert(key.target, g); steps.insert(g) }
        }
        return RemapSplit(baby: baby, giant: giant, cost: RemapCost(rotations: babies.count + giants.count, steps: steps.set))
    }
}

/// The distinct rotation steps of a remap, gathered per group without hashing each into a `Set`
/// (a remap has tens of thousands of groups and a few dozen steps).
struct DistinctSteps {
    private var seen = PairTable(capacity: 64)
    private var list: [Int] = []
    mutating func insert(_ step: Int) {
        if seen.insert(0, step) { list.append(step) }
    }
    var set: Set<Int> { Set(list) }
}

/// What a way of making a remap costs in rotations and rotation steps (evaluation keys).
struct RemapCost {
    var rotations: Int
    var steps: Set<Int>

    /// Rotations plus `keyWeight` per step: a key at N = 32768 is about 40 MB that every client
    /// makes and uploads and the server holds or reads again, counted as 16 rotations of
    /// evaluation time; the cheaper way by this score is taken.
    var score: Int { rotations + Self.keyWeight * steps.count }
    static let keyWeight = 16

    /// The cost of doing this, then `other` (steps shared).
    func then(_ other: RemapCost) -> RemapCost {
        RemapCost(rotations: rotations + other.rotations, steps: steps.union(other.steps))
    }
}

/// `RemapGroups.babyGiantSplit`: each group's baby and giant step (b + g ≡ δ) and the cost.
struct RemapSplit {
    var baby: [Int]
    var giant: [Int]
    var cost: RemapCost
}

/// A group of target slots that read one source tile rotated by one step.
struct RemapKey: Hashable {
    let target: Int
    let source: Int
    let delta: Int
}

/// One masked product of a remap: group `group`'s mask times rot(source, delta) summed into
/// `output` (a target tile, or in baby-step giant-step form a (target, g) sum with delta = b).
struct RemapTerm: HoistedTerm {
    let output: Int
    let source: Int
    let delta: Int
    let group: Int
}
