// Fuzz target: the client-profile reader (ClientProfile.read: parameters, layouts, rotations).
// The input is the payload of a .heprofile file, sealed again by the target.
import CKKS
import Compiler
import Foundation
import FuzzCommon

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let file = IntegrityFrame.seal(inputBytes(data, size), tag: .clientProfile)
    guard let profile = try? ClientProfile.read(file, source: "fuzz") else { return 0 }
    _ = try? profile.serialized()
    return 0
}

@main enum Main {
    static func main() {
        runFuzzer(fuzzOne, seeds: {
            var seeds: [(name: String, bytes: [UInt8])] = []
            for onnx in FuzzCompiled.seedModels {
                guard let c = try? FuzzCompiled.compile("Tests/ModelTests/Fixtures/onnx/\(onnx).onnx") else { continue }
                seeds.append((name: "\(onnx).heprofile.payload", bytes: FuzzCKKS.payload(try c.profile.serialized())))
            }
            // One plan with circuit privacy (its sanitization sizes, the profile's flag).
            if let c = try? FuzzCompiled.compile(circuitPrivacy: true) {
                seeds.append((name: "conv_square_op13-cp.heprofile.payload", bytes: FuzzCKKS.payload(try c.profile.serialized())))
            }
            return seeds
        })
    }
}
