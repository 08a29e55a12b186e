import XCTest
@testable import HEMath

final class HEMathErrorTests: XCTestCase {
    func testErrorsNameTheValue() {
        let e = HEMathError.invalidModulus(modulus: 12, reason: "not prime")
        XCTAssertTrue(e.description.contains("12"))
        XCTAssertTrue(e.description.contains("not prime"))
    }
}
