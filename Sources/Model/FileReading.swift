import Foundation
import RegularFiles

/// Reading whole input files (ONNX models, images, IDX and `.npy` files) with a size limit and
/// errors that name the path: `RegularFile.read` (FIFOs, devices and directories refused before
/// a byte is read), with the Model layer's messages.
enum FileReading {
    static func read(_ url: URL, limit: Int) throws -> Data {
        let path = url.path
        do {
            return Data(try RegularFile.read(path: path, limit: limit))
        } catch let failure as RegularFile.Failure {
            switch failure {
            case .missing:
                throw ModelError.fileSystem("\(path) does not exist")
            case let .notRegular(what):
                throw ModelError.fileSystem("\(path) is \(what), not a regular file: give the path of a model, image or tensor file")
            case let .tooLarge(size):
                throw ModelError.fileSystem("\(path) is \(size) bytes, more than the \(limit) he-tool reads")
            case let .shrank(done, size):
                throw ModelError.fileSystem("\(path) became shorter while it was read (\(done) of \(size) bytes)")
            case let .system(operation, reason):
                throw ModelError.fileSystem("\(operation) \(path): \(reason)")
            }
        }
    }
}
