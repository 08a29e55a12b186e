import CGMP

// Text in and out. GMP's own parser skips white space and accepts other prefixes, so the
// text is validated here first and GMP only ever sees a plain run of digits.

extension BigInteger: CustomStringConvertible {
    /// Parses an integer written in `radix` (2…36, letters in either case): an optional `-`
    /// or `+`, then, in radix 16 only, an optional `0x`/`0X`, then at least one digit.
    /// Returns nil for anything else, including empty text, white space and a bad radix.
    public init?(_ text: String, radix: Int = 10) {
        guard (2...36).contains(radix) else { return nil }
        var utf8 = text.utf8[...]
        var negative = false
        if let first = utf8.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            utf8 = utf8.dropFirst()
        }
        if radix == 16, utf8.count >= 2, utf8.first == UInt8(ascii: "0"),
           let x = utf8.dropFirst().first, x == UInt8(ascii: "x") || x == UInt8(ascii: "X") {
            utf8 = utf8.dropFirst(2)
        }
        guard !utf8.isEmpty,
              utf8.allSatisfy({ BigInteger.digitValue(ofASCII: $0).map { $0 < radix } ?? false })
        else { return nil }

        var digits = Array(utf8)
        digits.append(0)  // NUL terminator for GMP
        self.init()
        let status = digits.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) {
                __gmpz_set_str(storage.pointer, $0.baseAddress, Int32(radix))
            }
        }
        guard status == 0 else { return nil }  // unreachable after validation; kept as a guard
        if negative { __gmpz_neg(storage.pointer, storage.pointer) }
    }

    /// Like `init?(_:radix:)`, but throws `HEMathError.invalidIntegerString` naming the text,
    /// for callers that report parse failures to a user.
    public static func parse(_ text: String, radix: Int = 10) throws -> BigInteger {
        guard let value = BigInteger(text, radix: radix) else {
            throw HEMathError.invalidIntegerString(text: text, radix: radix)
        }
        return value
    }

    /// The value of an ASCII digit or letter as a digit (0–35), or nil for any other byte.
    static func digitValue(ofASCII byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return Int(byte - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return Int(byte - UInt8(ascii: "A")) + 10
        default: return nil
        }
    }

    /// The value in decimal, with a leading `-` when negative ("0" for zero).
    public var description: String { toString(radix: 10) }

    /// The value in `radix` (2…36) with lowercase letters, a leading `-` when negative and
    /// no prefix. The radix is a programmer's choice, not data, so like
    /// `String(_:radix:)` a radix outside 2…36 is a precondition failure.
    public func toString(radix: Int) -> String {
        precondition((2...36).contains(radix), "radix \(radix) is outside 2...36")
        return withMPZ { mpz in
            // sizeinbase may overstate by one; add room for the sign and the terminator.
            let capacity = Int(__gmpz_sizeinbase(mpz, Int32(radix))) + 2
            var buffer = [CChar](repeating: 0, count: capacity)
            buffer.withUnsafeMutableBufferPointer {
                _ = __gmpz_get_str($0.baseAddress, Int32(radix), mpz)
            }
            let length = buffer.firstIndex(of: 0) ?? capacity
            return String(decoding: buffer[..<length].lazy.map { UInt8(bitPattern: $0) },
                          as: UTF8.self)
        }
    }
}
