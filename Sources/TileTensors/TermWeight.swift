/// What one product of a tap kernel (`hoistedProducts`) multiplies by: an encoded plaintext, or
/// a weight shared by every slot of the tile.
///
/// Why: in layouts with one image per slot group and nothing else in the tile (CryptoNets'
/// one-pixel tiles, a batch filling the slots), every tap's plaintext holds a single value. Its
/// encoding is the constant polynomial round(w·Δ), so the product is each limb times w's
/// residues (`TensorBackend.addScalarProduct`): no encode (an FFT and L NTTs), no plaintext in
/// memory, the same residues.
public enum TermWeight<Plaintext> {
    case plaintext(Plaintext)
    /// The value and the scale it is encoded at.
    case scalar(Double, scale: Double)
}

extension TensorBackend {
    /// acc += a · weight, by its kind.
    func addProduct(_ acc: inout Ciphertext?, _ a: Ciphertext, _ weight: TermWeight<Plaintext>) throws {
        switch weight {
        case .plaintext(let p): try addProduct(&acc, a, p)
        case .scalar(let c, let scale): try addScalarProduct(&acc, a, c, scale: scale)
        }
    }
}
