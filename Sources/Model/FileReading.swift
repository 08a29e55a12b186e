import Foundation

/// Reading whole input files with a size limit and errors that name the path.
enum FileReading {
    static func read(_ url: URL, limit: Int) throws -> Data {
        let path = url.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelError.fileSystem("\(path) does not exist")
        }
        guard !isDirectory.boolValue else { throw ModelError.fileSystem("\(path) is a directory, not a file") }
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > limit {
            throw ModelError.fileSystem("\(path) is \(size) bytes, more than the \(limit) he-tool reads")
        }
        do {
            return try Data(contentsOf: url)
        } catch {
            throw ModelError.fileSystem("cannot read \(path): \(error.localizedDescription)")
        }
    }
}
