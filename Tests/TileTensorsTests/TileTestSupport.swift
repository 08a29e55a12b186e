import XCTest
import CKKS
@testable import TileTensors

/// A seeded generator for reproducible test inputs (not for keys).
struct TestRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Small insecure CKKS parameters (N = 1024, 512 slots, four 40-bit levels) and helpers that run
/// one computation on the mock and then on CKKS with exactly the Galois keys the mock used.
enum Fixtures {
    /// Of `n` items made in rounds of `pieces` (`TensorBackend.mapInRounds`), those in rounds of
    /// two or more: the mock counts their work as concurrent (a last round of one is not).
    static func inRounds(_ n: Int, _ pieces: Int) -> Int {
        pieces < 2 ? 0 : n - (n % pieces == 1 ? 1 : 0)
    }

    static let parameters = try! CKKSParameters(
        logDegree: 10, primeBits: [60, 40, 40, 40, 40], specialPrimeBits: [60], logScale: 40,
        security: .insecureTestingOnly)
    static let context = try! CKKSContext(parameters: parameters)

    static func mock(slots: Int = 512) -> MockBackend { MockBackend(slotCount: slots, parameters: parameters) }

    /// A CKKS backend with a fresh secret key and the rotation keys the mock recorded.
    static func ckks(rotations: Set<Int>) throws -> CKKSBackend {
        let keygen = KeyGenerator(context: context)
        let sk = keygen.secretKey()
        let keys = try keygen.evaluationKeys(for: sk, rotations: Array(rotations))
        return CKKSBackend(context: context, keys: keys, encryptor: Encryptor(secretKey: sk),
                           decryptor: Decryptor(secretKey: sk))
    }

    static func random(_ shape: [Int], _ rng: inout TestRNG, range: ClosedRange<Double> = -1...1) -> Tensor {
        try! Tensor(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in Double.random(in: range, using: &rng) })
    }
}

/// −log2 of the largest absolute error (60 when exact).
func precisionBits(_ got: Tensor, _ want: Tensor) -> Double {
    precondition(got.shape == want.shape, "shapes \(got.shape) vs \(want.shape)")
    let worst = zip(got.values, want.values).map { abs($0 - $1) }.max() ?? 0
    return -log2(max(worst, 0x1p-60))
}

extension XCTestCase {
    /// Asserts the mock equals the reference to 1e-9 and CKKS to `bits` bits; prints the CKKS precision.
    func assertAgree(_ name: String, reference: Tensor, mock: Tensor, ckks: Tensor?, bits: Double = 18,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(mock.shape, reference.shape, "\(name): mock shape", file: file, line: line)
        XCTAssertGreaterThan(precisionBits(mock, reference), 30, "\(name): mock differs from the reference", file: file, line: line)
        if let ckks {
            let p = precisionBits(ckks, reference)
            print(String(format: "precision %@: %.1f bits", name, p))
            XCTAssertGreaterThanOrEqual(p, bits, "\(name): CKKS precision", file: file, line: line)
        }
    }
}

/// Naive loops over logical tensors: the oracles.
enum Naive {
    /// Σ over dimension d, keeping it with size 1.
    static func sum(_ x: Tensor, over d: Int) -> Tensor {
        var shape = x.shape
        shape[d] = 1
        var r = try! Tensor(zeros: shape)
        for o in 0..<x.values.count {
            var i = x.index(ofOffset: o)
            i[d] = 0
            r[i] += x.values[o]
        }
        return r
    }

    /// Elementwise op with broadcasting over dimensions of size 1.
    static func broadcast(_ a: Tensor, _ b: Tensor, _ op: (Double, Double) -> Double) -> Tensor {
        let shape = zip(a.shape, b.shape).map { max($0, $1) }
        var r = try! Tensor(zeros: shape)
        for o in 0..<r.values.count {
            let i = r.index(ofOffset: o)
            let ia = zip(i, a.shape).map { $1 == 1 ? 0 : $0 }, ib = zip(i, b.shape).map { $1 == 1 ? 0 : $0 }
            r.values[o] = op(a[ia], b[ib])
        }
        return r
    }
}

extension OperationCounts {
    /// These counts as the layout tests' closed forms state them: the hoisted sets' concurrent
    /// share cleared (how many of a call's sets and key switches the mock counts as running at
    /// once depends on the threads in force: `MockBackend.rotations(ofEach:by:)`, checked in
    /// `ProductWorkersTests`) and the plain additions' share of the additions cleared (a split
    /// for pricing, checked in `MockBackendTests`). The closed forms count what a step makes.
    var closedForm: OperationCounts {
        var c = self
        c.concurrentHoistedRotationSets = 0
        c.concurrentHoistedRotations = 0
        c.plainAdditions = 0
        return c
    }
}
