/// Errors of the tile-tensor layer: bad user input (a malformed shape, operands whose layouts
/// do not match, a tensor of the wrong size). Each message says what was wrong.
public enum TileTensorError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A tile-shape string that does not parse, or a dimension that is not well formed.
    case invalidNotation(String)
    /// Tile sizes whose product is not the backend's slot count.
    case slotMismatch(tileSlots: Int, backendSlots: Int)
    /// Operands whose logical or tile shapes cannot be combined by the operation.
    case shapeMismatch(String)
    /// A value array whose length is not the product of its shape.
    case sizeMismatch(expected: Int, actual: Int)
    /// An argument out of range for the operation (a dimension index, a step, a stride …).
    case invalidArgument(String)
    /// A mock simulation stopped by its budget (`MockBackend.budget`).
    case budgetExceeded

    public var description: String {
        switch self {
        case let .invalidNotation(why): return "invalid tile shape: \(why)"
        case let .slotMismatch(tile, backend):
            return "the tile holds \(tile) slots but the backend has \(backend); the tile sizes must multiply to the slot count"
        case let .shapeMismatch(why): return "shape mismatch: \(why)"
        case let .sizeMismatch(expected, actual): return "expected \(expected) values for the shape, got \(actual)"
        case let .invalidArgument(why): return "invalid argument: \(why)"
        case .budgetExceeded: return "the simulation exceeded its budget"
        }
    }
}
