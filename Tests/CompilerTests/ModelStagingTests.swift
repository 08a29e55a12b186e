import CKKS
import Foundation
import XCTest
@testable import Compiler

/// Issue 17's "the model file is written streaming, not built whole in memory": the file
/// `compile` writes step by step is byte for byte the serialized model, and reads back.
final class ModelStagingTests: XCTestCase {
    func testStagedModelFileEqualsTheSerializedModel() throws {
        let dir = try temporaryDirectory("he-tool-staging")
        for name in ["mnist", "cmnist32"] {
            let (_, c, _) = try FlowFixtures.compile(name)
            let url = dir.appendingPathComponent("\(name).hemodel")
            try c.model.stage(to: url).commit()
            let written = try CKKSFile.read(from: url)
            XCTAssertEqual(written, try c.model.serialized(), name)
            let read = try CompiledModel.read(written)
            XCTAssertEqual(read.planFingerprint, c.model.planFingerprint, name)
            XCTAssertEqual(read.steps.count, c.model.steps.count, name)
        }
    }
}
