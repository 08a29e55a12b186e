import Foundation

/// A polynomial activation y = c0 + c1·x + … + cd·x^d applied elementwise, with coefficients
/// shared by all channels or one set per channel (channel = first axis of a sample, i.e. C of
/// C×H×W or the feature of a vector). What replaces ReLU in a network that runs under CKKS.
public struct PolynomialActivation: Equatable, Sendable {
    /// `coefficients[k][c]` multiplies x^k in channel c; each row has one entry (shared) or one
    /// per channel. Row count is degree + 1 (the top row is not all zero).
    public var coefficients: [[Double]]

    /// Coefficients by power (rows) and channel (columns, 1 = shared). Trailing all-zero
    /// powers are removed so that `degree` is the true degree, and a row equal in every channel
    /// is stored once.
    public init(coefficients: [[Double]]) {
        var rows = coefficients.map { row in row.allSatisfy({ $0 == row.first }) && !row.isEmpty ? [row[0] == 0 ? 0 : row[0]] : row }
        while rows.count > 1, rows[rows.count - 1].allSatisfy({ $0 == 0 }) { rows.removeLast() }
        self.coefficients = rows.isEmpty ? [[0]] : rows
    }

    /// The highest power with a non-zero coefficient in some channel.
    public var degree: Int { coefficients.count - 1 }

    /// Number of coefficient sets: 1 when shared, else the channel count.
    public var channelCount: Int { coefficients.map(\.count).max() ?? 1 }

    /// True when every channel uses the same coefficients.
    public var isShared: Bool {
        coefficients.allSatisfy { row in row.allSatisfy { $0 == row[0] } }
    }

    /// The coefficient of x^power in `channel` (shared rows broadcast).
    @inlinable
    public func coefficient(_ power: Int, channel: Int) -> Double {
        let row = coefficients[power]
        return row.count == 1 ? row[0] : row[channel]
    }

    /// Evaluates the polynomial of `channel` at `x` (Horner).
    @inlinable
    public func evaluate(_ x: Double, channel: Int) -> Double {
        var y = coefficient(degree, channel: channel)
        var power = degree - 1
        while power >= 0 {
            y = y * x + coefficient(power, channel: channel)
            power -= 1
        }
        return y
    }

    /// Multiplicative depth under CKKS, where every product (ciphertext or constant) uses a
    /// level: ⌈log2 d⌉ for a bare power x^d with d a power of two and coefficient 1 (x², x⁴),
    /// ⌈log2(d + 1)⌉ otherwise (the constants need one more level, as in a·x² + b·x + c = 2).
    public var multiplicativeDepth: Int {
        let d = degree
        if d == 0 { return 0 }
        let bareMonomial = (0..<d).allSatisfy { k in coefficients[k].allSatisfy { $0 == 0 } }
            && coefficients[d].allSatisfy { $0 == 1 }
        if bareMonomial && d & (d - 1) == 0 { return d.trailingZeroBitCount }
        return ceilLog2(d + 1)
    }

    /// Readable form, e.g. `0.25·x² + 0.5·x + 0.1` or `per-channel (8): …` with the first set.
    public var formula: String {
        /// |c|·x^k without its sign.
        func term(_ c: Double, _ k: Int) -> String {
            let magnitude = abs(c)
            let factor = magnitude == 1 && k > 0 ? "" : formatNumber(magnitude) + (k > 0 ? "·" : "")
            switch k {
            case 0: return factor
            case 1: return "\(factor)x"
            default: return "\(factor)x\(superscript(k))"
            }
        }
        func text(channel: Int) -> String {
            var out = ""
            for k in stride(from: degree, through: 0, by: -1) {
                let c = coefficient(k, channel: channel)
                if c == 0 { continue }
                if out.isEmpty { out = (c < 0 ? "-" : "") + term(c, k) } else { out += (c < 0 ? " - " : " + ") + term(c, k) }
            }
            return out.isEmpty ? "0" : out
        }
        if isShared { return text(channel: 0) }
        return "per-channel (\(channelCount) sets), channel 0: \(text(channel: 0))"
    }
}

/// ⌈log2 n⌉ for n ≥ 1.
func ceilLog2(_ n: Int) -> Int {
    n <= 1 ? 0 : Int.bitWidth - (n - 1).leadingZeroBitCount
}

/// Compact number for display: up to 6 significant digits.
func formatNumber(_ x: Double) -> String {
    if x == x.rounded(), abs(x) < 1e6 { return String(Int(x)) }
    var s = String(format: "%.6g", x)
    if s.hasPrefix("-0.") == false, s.hasPrefix("0.") == false, s.contains("e") == false,
       s.contains(".") { while s.hasSuffix("0") { s.removeLast() } }
    return s
}

private func superscript(_ k: Int) -> String {
    let digits: [Character] = ["⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"]
    return String(String(k).compactMap { $0.wholeNumberValue.map { digits[$0] } })
}
