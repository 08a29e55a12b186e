import ArgumentParser
import CKKS
import Compiler
import Foundation
import Model

/// `he-tool encrypt`: preprocess inputs as the profile says, pack them in the plan's input
/// layout and encrypt them with the secret key (seeded symmetric ciphertexts).
struct EncryptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encrypt",
        abstract: "Encrypt PNG, IDX or .npy inputs for a compiled plan (several images per ciphertext when the plan batches; more images than its batch as several groups in one file)."
    )

    @Argument(help: "Input files: .png, IDX (.gz or not), .npy.")
    var inputs: [String]

    @Option(help: "The client profile.")
    var profile: String

    @Option(name: .customLong("secret-key"), help: "The secret key (.hesk).")
    var secretKey: String

    @Option(help: "Where to write the encrypted input (.hect).")
    var out: String

    @Option(help: "Read at most this many images from each IDX file or rows from each .npy file.")
    var limit: Int?

    func run() throws {
        try OutputGuard.check(outputs: [("--out", out)],
                              inputs: [("--profile", self.profile), ("--secret-key", secretKey)] + inputs.map { ("input", $0) })
        let session = try ClientSession.open(profile: self.profile, secretKey: secretKey)
        let profile = session.profile
        let preprocessing = try Preprocessing(mean: profile.preprocessingMean, std: profile.preprocessingStd).validated()
        let samples = try inputs.flatMap {
            try InputLoader.load(URL(fileURLWithPath: $0), sampleShape: profile.inputShape, preprocessing: preprocessing, limit: limit)
        }
        // Any number of images: groups of the plan's batch, one frame each, in input order,
        // each encrypted and written before the next is made (one group in memory at a time).
        let start = Date()
        var groups = 0, tiles = 0, size = 0
        let staged = try StagedFile(to: URL(fileURLWithPath: out), ownerOnly: false) { writer in
            try session.encryptGroups(samples.map { $0.tensor.values }) { group in
                try writer.append(try group.serialized())
                groups = group.groups
                tiles += group.tiles.count
            }
            size = writer.count
        }
        try staged.commit()
        let grouping = groups > 1 ? String(format: " in %d groups of %d", groups, profile.imagesPerEvaluation) : ""
        print(String(format: "encrypt: %d image(s)%@ → %@ (%d ciphertexts, %@) in %.2f s", samples.count, grouping, out, tiles,
                     FlowFiles.megabytes(size), Date().timeIntervalSince(start)))
    }
}
