import Foundation
import Glibc
import HEMath

/// Residues packed as the file format stores them: little-endian UInt64, limb-major, no
/// framing. Unpacking checks the byte length and that every residue is reduced modulo its
/// limb's prime, so a polynomial read from a file is always a valid ring element.
enum PackedResidues {
    /// The bytes of `residues`, little-endian.
    static func pack(_ residues: UnsafeBufferPointer<UInt64>) -> Data {
        var data = Data(count: residues.count * 8)
        guard !residues.isEmpty else { return data }
        data.withUnsafeMutableBytes { raw in
            #if _endian(little)
            _ = memcpy(raw.baseAddress!, residues.baseAddress!, residues.count * 8)
            #else
            for (i, x) in residues.enumerated() {
                raw.storeBytes(of: x.littleEndian, toByteOffset: 8 * i, as: UInt64.self)
            }
            #endif
        }
        return data
    }

    /// The bytes of a polynomial's residues.
    static func pack<F>(_ polynomial: RNSPolynomial<F>) -> Data {
        polynomial.withUnsafeLimbs { pack($0) }
    }

    /// The bytes of a flat residue array.
    static func pack(_ residues: [UInt64]) -> Data {
        residues.withUnsafeBufferPointer { pack($0) }
    }

    /// Unpacks `blocks` consecutive polynomials of `moduli.count` limbs of `degree` residues each
    /// (one polynomial for `blocks` = 1; a key-switching key's digits otherwise).
    /// - Throws: `invalidFormat` naming `field` when the length is not blocks·limbs·N·8 bytes
    ///   or a residue is not reduced modulo its prime.
    static func unpack(_ data: Data, moduli: [Modulus], degree: Int, blocks: Int = 1,
                       field: String) throws -> [UInt64] {
        let count = blocks * moduli.count * degree
        guard data.count == count * 8 else {
            throw CKKSError.invalidFormat("\(field) has \(data.count) bytes; \(blocks > 1 ? "\(blocks) × " : "")\(moduli.count) limbs × N = \(degree) residues need \(count * 8)")
        }
        let residues = [UInt64](unsafeUninitializedCapacity: count) { buffer, initialized in
            data.withUnsafeBytes { raw in
                guard count > 0 else { return }
                #if _endian(little)
                _ = memcpy(buffer.baseAddress!, raw.baseAddress!, count * 8)
                #else
                for i in 0..<count {
                    buffer[i] = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
                }
                #endif
            }
            initialized = count
        }
        try residues.withUnsafeBufferPointer { buffer in
            for block in 0..<blocks {
                for (i, modulus) in moduli.enumerated() {
                    let start = (block * moduli.count + i) * degree
                    let q = modulus.value
                    var worst: UInt64 = 0
                    for j in start..<(start + degree) { worst = max(worst, buffer[j]) }
                    guard worst < q else {
                        let j = (start..<(start + degree)).first { buffer[$0] >= q }! - start
                        let place = blocks > 1 ? "digit \(block), limb \(i)" : "limb \(i)"
                        throw CKKSError.invalidFormat("\(field): residue \(j) of \(place) is \(buffer[start + j]), not reduced modulo its prime \(q)")
                    }
                }
            }
        }
        return residues
    }

    /// A polynomial over `basis` from packed residues, with its limb count checked first.
    static func polynomial<F>(_ message: Hetool_V1_Polynomial, basis: RNSBasis, field: String) throws -> RNSPolynomial<F> {
        try CKKSFile.rejectUnknownFields(message, field)
        guard message.limbCount == basis.count else {
            throw CKKSError.invalidFormat("\(field) has \(message.limbCount) limbs, expected \(basis.count)")
        }
        let residues = try unpack(message.residues, moduli: basis.moduli, degree: basis.degree, field: field)
        do {
            return try RNSPolynomial(basis: basis, residues: residues)
        } catch {
            throw CKKSError.invalidFormat("\(field): \(error)")
        }
    }

    /// The message of a polynomial.
    static func message<F>(_ polynomial: RNSPolynomial<F>) -> Hetool_V1_Polynomial {
        var message = Hetool_V1_Polynomial()
        message.limbCount = UInt32(polynomial.limbCount)
        message.residues = pack(polynomial)
        return message
    }

    /// Overwrites `data` with zeros in place (best effort for secret material: `data` must be
    /// the only reference to its storage, or a copy is zeroed instead).
    static func wipe(_ data: inout Data) {
        data.withUnsafeMutableBytes { raw in
            if let base = raw.baseAddress { explicit_bzero(base, raw.count) }
        }
    }

    /// Overwrites residues with zeros (temporary copies of secret material).
    static func wipe(_ buffer: UnsafeMutableBufferPointer<UInt64>) {
        if let base = buffer.baseAddress { explicit_bzero(base, buffer.count * MemoryLayout<UInt64>.stride) }
    }
}
