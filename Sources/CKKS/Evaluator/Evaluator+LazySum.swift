import HEMath

/// What one term of a sum of products multiplies its ciphertext by.
public enum ProductWeight: Sendable {
    /// A plaintext at a level ≥ the ciphertexts' (read in place).
    case plaintext(Plaintext)
    /// A real weight shared by every slot, encoded at `scale` (its residues; nothing encoded).
    case constant(Double, scale: Double)
}

extension Evaluator {
    /// Σ_t a_t · w_t into a fresh ciphertext, accumulated lazily (`RNSPolynomial.lazySums`:
    /// a 128-bit sum per residue, reduced once, one limb at a time in cache): the same residues
    /// as `multiply` then `addProductInPlace` / `addConstantProductInPlace` term by term, with
    /// each operand read once and the sum written once. Every a_t at one level with as many
    /// components, every product at one scale.
    /// - Throws: for no terms, or terms that differ in level, components or scale.
    public func sumOfProducts(_ terms: [(Ciphertext, ProductWeight)]) throws -> Ciphertext {
        try sumsOfProducts(inputs: terms.map(\.0), sums: [terms.indices.map { (input: $0, weight: terms[$0].1) }])[0]
    }
}

extension Evaluator {
    /// Several sums of products over shared ciphertexts (`RNSPolynomial.lazySums`): sums[b] =
    /// Σ_t inputs[t.input] · t.weight, each the same residues as `sumOfProducts` of its terms,
    /// every input limb read once for all the sums that use it. Every input a sum reads at one
    /// level with as many components, every product at one scale, every sum non-empty.
    public func sumsOfProducts(inputs: [Ciphertext], sums: [[(input: Int, weight: ProductWeight)]]) throws -> [Ciphertext] {
        guard let firstTerm = sums.first?.first else { throw CKKSError.outOfRange("a sum of products needs at least one term") }
        guard sums.allSatisfy({ !$0.isEmpty }) else { throw CKKSError.outOfRange("a sum of products needs at least one term") }
        guard sums.allSatisfy({ $0.allSatisfy { inputs.indices.contains($0.input) } }) else {
            throw CKKSError.outOfRange("a term reads an input past the \(inputs.count) given")
        }
        let lead = inputs[firstTerm.input]
        let level = lead.level, components = lead.componentCount
        let basis = try context.basis(atLevel: level)
        func scale(_ w: ProductWeight) -> Double {
            switch w { case .plaintext(let p): return p.scale; case .constant(_, let s): return s }
        }
        let productScale = lead.scale * scale(firstTerm.weight)
        var read = [Bool](repeating: false, count: inputs.count)
        var factors: [[(input: Int, factor: LazyFactor<Evaluation>)]] = []
        for terms in sums {
            var list: [(input: Int, factor: LazyFactor<Evaluation>)] = []
            list.reserveCapacity(terms.count)
            for (s, w) in terms {
                let a = inputs[s]
                if !read[s] {
                    try check(a)
                    guard a.level == level else {
                        throw CKKSError.levelMismatch("a sum of products has terms at levels \(level) and \(a.level); bring them to one level first")
                    }
                    guard a.componentCount == components else { throw CKKSError.componentCount(expected: components, actual: a.componentCount) }
                    read[s] = true
                }
                try requireSameScale(productScale, a.scale * scale(w))
                switch w {
                case .plaintext(let p):
                    try checkPlaintext(p, atLevel: level)
                    list.append((s, .polynomial(p.polynomial)))
                case .constant(let c, let sc):
                    list.append((s, .constant(try ConstantEncoding.residues(of: c, scale: sc, basis: basis))))
                }
            }
            factors.append(list)
        }
        let n = context.degree
        // An input no sum reads stands in as the first term's (never read by the kernel; no copy).
        var parts = [[RNSPolynomial<Evaluation>]](repeating: [], count: sums.count)
        try context.scratch.with(2 * n * sums.count * basis.count) { scratch in
            for k in 0..<components {
                let limbs = inputs.indices.map { read[$0] ? inputs[$0].components[k] : lead.components[k] }
                let made = try RNSPolynomial<Evaluation>.lazySums(inputs: limbs, sums: factors, basis: basis, scratch: scratch)
                for b in made.indices { parts[b].append(made[b]) }
            }
        }
        return parts.map { Ciphertext(context: context, components: $0, level: level, scale: productScale) }
    }
}
