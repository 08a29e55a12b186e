// Slow, obvious oracles shared by the arithmetic tests.

/// Schoolbook negacyclic product modulo q: c = a·b mod (X^N + 1, q). The slow, obvious oracle.
func schoolbookNegacyclic(_ a: [UInt64], _ b: [UInt64], modulus q: UInt64) -> [UInt64] {
    let n = a.count
    var c = [UInt64](repeating: 0, count: n)
    for i in 0..<n {
        for j in 0..<n {
            let p = a[i].multipliedFullWidth(by: b[j])
            let prod = q.dividingFullWidth((high: p.high % q, low: p.low)).remainder
            let k = i + j
            if k < n {
                c[k] = (c[k] + prod) % q
            } else {
                c[k - n] = (c[k - n] + q - prod) % q
            }
        }
    }
    return c
}

/// x mod q for a 128-bit x, by hardware division: the oracle for Barrett and Shoup.
func remainder128(high: UInt64, low: UInt64, _ q: UInt64) -> UInt64 {
    q.dividingFullWidth((high: high % q, low: low)).remainder
}
