import Foundation

/// The budgets of a model trained with several of them in one set of weights (the training
/// toolkit's `hetrain.budgets`, after AdaPI): the ONNX metadata entry `he_tool.budgets`, parsed
/// and checked. Each budget is a sub-network of the file: some plaintext blocks of the pruned
/// layers' weights zeroed (nested masks) and some polynomial activations replaced by the
/// identity. `ONNXImporter` applies one (`ImportOptions.budget`); the format is specified in
/// `Examples/training/README.md`, "Metadata of pruned and budgeted files":
///
///     {"format": 1, "source": "…", "default": "full", "activations": ["act1", "act2", "act3"],
///      "layers": [{"layer": "/conv2/Conv", "module": "conv2", "initializer": "conv2.weight",
///                  "blocks": 36, "geometry": {…}}, …],
///      "budgets": [{"name": "b50", "ratio": 0.5, "kept_activations": [0, 1, 2], "depth": 7,
///                   "depth_without_folding": 10, "zeroed_blocks": 32, "pruned_layer_blocks": 64,
///                   "accuracy_onnxruntime": 0.9922, "test_images": 10000,
///                   "zeroed": {"conv2": [0, 3, …], "fc1": [0, 2, …]}}, …]}
///
/// Every field is checked here (types, ranges, indices, the block counts against the
/// geometries, the totals against the lists); the geometries against the initializers' shapes
/// are checked when the budget is applied (`checkWeights`).
public struct ModelBudgets: Equatable, Sendable {
    /// The metadata_props key the training toolkit writes.
    public static let metadataKey = "he_tool.budgets"
    /// The format version this engine reads.
    public static let format = 1

    /// One pruned layer: its weight initializer and how the weight is cut into blocks.
    public struct PrunedLayer: Equatable, Sendable {
        /// The ONNX node that reads the weight (e.g. `/conv2/Conv`), when the file names it.
        public var node: String?
        /// The training module's name (the key of `Budget.zeroed`), e.g. `conv2`.
        public var module: String
        /// The initializer the masks apply to, e.g. `conv2.weight`.
        public var initializer: String
        public var geometry: BlockGeometry
    }

    /// One budget: which blocks are zeroed and which activations are kept, and what the
    /// toolkit measured for that sub-network.
    public struct Budget: Equatable, Sendable {
        public var name: String
        /// The fraction of each pruned layer's blocks zeroed (informative; the lists decide).
        public var ratio: Double?
        /// Indices into `ModelBudgets.activations`, increasing; every other activation is the identity.
        public var keptActivations: [Int]
        /// Per module (`PrunedLayer.module`), the zeroed block indices, increasing (every module listed).
        public var zeroed: [String: [Int]]
        /// The toolkit's depth of the sub-network (a quadratic as 1 level, the linear layers unmerged).
        public var depth: Int?
        /// The same with a quadratic as 2 levels: what `he-tool inspect` counts.
        public var depthWithoutFolding: Int?
        /// Top-1 of the sub-network under onnxruntime on `testImages` images of the test split.
        public var accuracy: Double?
        public var testImages: Int?

        /// Blocks zeroed in all pruned layers together.
        public var zeroedBlocks: Int { zeroed.values.reduce(0) { $0 + $1.count } }
    }

    /// Where the block geometries come from (the toolkit's tiling), for display.
    public var source: String?
    /// The budget used when none is named.
    public var defaultBudget: String
    /// The polynomial activations' names in network order: the order of the polynomial layers
    /// `he-tool inspect` lists.
    public var activations: [String]
    public var layers: [PrunedLayer]
    public var budgets: [Budget]

    /// The budgets' names in file order.
    public var names: [String] { budgets.map(\.name) }

    /// The blocks of all pruned layers together.
    public var prunedLayerBlocks: Int { layers.reduce(0) { $0 + $1.geometry.blockCount } }

    /// The budgets of a model's metadata, or nil when it has no `he_tool.budgets` entry.
    /// - Throws: `ModelError.invalidArgument` naming the field that is wrong.
    public static func fromMetadata(_ metadata: [String: String]) throws -> ModelBudgets? {
        guard let text = metadata[metadataKey] else { return nil }
        return try ModelBudgets(json: text)
    }

    /// The budget named `name`, or the default one when `name` is nil.
    /// - Throws: `ModelError.invalidArgument` listing the available names when there is no such budget.
    public func budget(named name: String?) throws -> Budget {
        let wanted = name ?? defaultBudget
        guard let b = budgets.first(where: { $0.name == wanted }) else {
            throw ModelError.invalidArgument("the model has no budget '\(wanted)'; its budgets are \(names.joined(separator: ", ")) (default \(defaultBudget))")
        }
        return b
    }

    /// The pruned layer whose weight is initializer `name`.
    public func layer(initializer name: String) -> PrunedLayer? {
        layers.first { $0.initializer == name }
    }

    /// Parses and checks the JSON text of `he_tool.budgets`.
    /// - Throws: `ModelError.invalidArgument` naming the field that is wrong and what it should be.
    public init(json text: String) throws {
        let root = MetadataField(value: try MetadataJSON.parse(text, key: Self.metadataKey), path: "", key: Self.metadataKey)
        _ = try root.object()
        let format = try root.field("format")
        guard case let .number(v) = format.value, v == Double(Self.format) else {
            let found: String
            if case let .number(v) = format.value { found = formatNumber(v) } else { found = format.value.typeName }
            throw ModelError.invalidArgument("metadata \(Self.metadataKey) has format \(found); this he-tool reads format \(Self.format): update he-tool, or export the model with a toolkit that writes format \(Self.format)")
        }
        let source = try root.optionalField("source")?.string()

        let activationFields = try root.field("activations").array()
        let activations = try activationFields.map { f -> String in
            let s = try f.string()
            guard !s.isEmpty else { throw f.error("is empty; activations are named by their module") }
            return s
        }
        if let dup = Self.firstDuplicate(activations) {
            throw try root.field("activations").error("names '\(dup)' twice; each activation appears once, in network order")
        }

        var layers: [PrunedLayer] = []
        for f in try root.field("layers").array() {
            let module = try f.field("module").string()
            let initializer = try f.field("initializer").string()
            guard !module.isEmpty, !initializer.isEmpty else { throw f.error("has an empty module or initializer name") }
            let g = try f.field("geometry")
            let geometry = try BlockGeometry(
                shape: try g.field("shape").ints(in: 1...ONNXLimits.maximumDimension),
                filtersPerBlock: try g.field("filters_per_block").int(in: 1...ONNXLimits.maximumDimension),
                channelsPerBlock: try g.field("channels_per_block").int(in: 1...ONNXLimits.maximumDimension),
                rowGroups: try g.field("row_groups").ints(in: 0...ONNXLimits.maximumDimension),
                columnGroups: try g.field("column_groups").ints(in: 0...ONNXLimits.maximumDimension),
                what: "metadata \(Self.metadataKey): \(g.path)")
            let blocks = try f.field("blocks")
            guard try blocks.int(in: 0...Int(Int32.max)) == geometry.blockCount else {
                throw blocks.error("is \(formatNumber(try blocks.number())) but the geometry has \(geometry.filterTiles) filter tiles × \(geometry.channelTiles) channel tiles × \(geometry.rowGroupCount) row groups × \(geometry.columnGroupCount) column groups = \(geometry.blockCount) blocks")
            }
            layers.append(PrunedLayer(node: try f.optionalField("layer")?.string(), module: module, initializer: initializer, geometry: geometry))
        }
        if let dup = Self.firstDuplicate(layers.map(\.module)) {
            throw try root.field("layers").error("lists module '\(dup)' twice")
        }
        if let dup = Self.firstDuplicate(layers.map(\.initializer)) {
            throw try root.field("layers").error("lists initializer '\(dup)' twice")
        }
        let blockCounts = Dictionary(uniqueKeysWithValues: layers.map { ($0.module, $0.geometry.blockCount) })
        let prunedBlocks = layers.reduce(0) { $0 + $1.geometry.blockCount }

        var budgets: [Budget] = []
        let budgetFields = try root.field("budgets").array()
        guard !budgetFields.isEmpty else { throw try root.field("budgets").error("is empty; a budgeted file lists at least one budget") }
        for f in budgetFields {
            let name = try f.field("name").string()
            guard !name.isEmpty, name.allSatisfy({ !$0.isWhitespace && !$0.isNewline && $0 != "," }) else {
                throw try f.field("name").error("is '\(name)'; a budget name is non-empty, without spaces or commas")
            }
            let ratio = try f.optionalField("ratio").map { r -> Double in
                let v = try r.number()
                guard (0...1).contains(v) else { throw r.error("is \(formatNumber(v)), not a fraction in 0 … 1") }
                return v
            }
            let keptField = try f.field("kept_activations")
            let kept = try keptField.ints(in: 0...Int(Int32.max))
            for k in kept where k >= activations.count {
                throw keptField.error("holds \(k), but there are \(activations.count) activations (indices 0 … \(activations.count - 1) into 'activations')")
            }
            guard zip(kept, kept.dropFirst()).allSatisfy({ $0 < $1 }) else {
                throw keptField.error("is \(kept); indices must be increasing, each at most once")
            }
            if let namesField = try f.optionalField("kept_activation_names") {
                let given = try namesField.array().map { try $0.string() }
                let expected = kept.map { activations[$0] }
                guard given == expected else {
                    throw namesField.error("is \(given) but kept_activations \(kept) name \(expected)")
                }
            }
            let zeroedField = try f.field("zeroed")
            var zeroed: [String: [Int]] = [:]
            for (module, list) in try zeroedField.members() {
                guard let count = blockCounts[module] else {
                    throw list.error("names module '\(module)', which is not in 'layers' (\(layers.map(\.module).joined(separator: ", ")))")
                }
                let ids = try list.array().map { item -> Int in
                    let v = try item.int(in: 0...Int(Int32.max))
                    guard v < count else { throw item.error("is block \(v), but layer '\(module)' has \(count) blocks (0 … \(count - 1))") }
                    return v
                }
                guard zip(ids, ids.dropFirst()).allSatisfy({ $0 < $1 }) else {
                    throw list.error("is not increasing; each block index appears once, in increasing order")
                }
                zeroed[module] = ids
            }
            for layer in layers where zeroed[layer.module] == nil { zeroed[layer.module] = [] }
            let budget = Budget(name: name, ratio: ratio, keptActivations: kept, zeroed: zeroed,
                                depth: try f.optionalField("depth")?.int(in: 0...100_000),
                                depthWithoutFolding: try f.optionalField("depth_without_folding")?.int(in: 0...100_000),
                                accuracy: try f.optionalField("accuracy_onnxruntime").map { a -> Double in
                                    let v = try a.number()
                                    guard (0...1).contains(v) else { throw a.error("is \(formatNumber(v)), not a fraction in 0 … 1") }
                                    return v
                                },
                                testImages: try f.optionalField("test_images")?.int(in: 0...Int(Int32.max)))
            if let total = try f.optionalField("zeroed_blocks"), try total.int(in: 0...Int(Int32.max)) != budget.zeroedBlocks {
                throw total.error("is \(formatNumber(try total.number())) but the lists in 'zeroed' hold \(budget.zeroedBlocks) blocks")
            }
            if let total = try f.optionalField("pruned_layer_blocks"), try total.int(in: 0...Int(Int32.max)) != prunedBlocks {
                throw total.error("is \(formatNumber(try total.number())) but the layers have \(prunedBlocks) blocks in all")
            }
            budgets.append(budget)
        }
        if let dup = Self.firstDuplicate(budgets.map(\.name)) {
            throw try root.field("budgets").error("names budget '\(dup)' twice")
        }
        let defaultField = try root.field("default")
        let defaultBudget = try defaultField.string()
        guard budgets.contains(where: { $0.name == defaultBudget }) else {
            throw defaultField.error("is '\(defaultBudget)', which is not one of the budgets (\(budgets.map(\.name).joined(separator: ", ")))")
        }
        self.source = source
        self.activations = activations
        self.layers = layers
        self.budgets = budgets
        self.defaultBudget = defaultBudget
    }

    private static func firstDuplicate(_ names: [String]) -> String? {
        var seen = Set<String>()
        for n in names where !seen.insert(n).inserted { return n }
        return nil
    }
}
