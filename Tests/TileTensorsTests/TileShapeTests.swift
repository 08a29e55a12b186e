import XCTest
import CKKS
@testable import TileTensors

final class TileShapeTests: XCTestCase {
    func testParseAndPrintRoundTrip() throws {
        for text in ["[5/2, 6/4]", "[*/8, 3?/4]", "[7~/2, 9~?/4, */1]", "[1/1]"] {
            XCTAssertEqual(try TileShape(parsing: text).description, text)
        }
        XCTAssertEqual(try TileShape(parsing: " 5 / 2 ,6~/4 ").description, "[5/2, 6~/4]")
        for bad in ["", "[]", "[5]", "[5/0]", "[0/4]", "[*~/4]", "[*?/4]", "[x/4]", "[5/2,]", "[5/2/3]"] {
            XCTAssertThrowsError(try TileShape(parsing: bad), bad) { error in
                guard case TileTensorError.invalidNotation = error else { return XCTFail("\(bad): \(error)") }
            }
        }
    }

    func testCountsAndWaste() throws {
        let s = try TileShape(parsing: "[5/2, 6/4]")
        XCTAssertEqual(s.tileCounts, [3, 2])
        XCTAssertEqual(s.tileCount, 6)
        XCTAssertEqual(s.slotsPerTile, 8)
        XCTAssertEqual(s.wastedSlots, 48 - 30)
        let r = try TileShape(parsing: "[*/4, 6/2]")
        XCTAssertEqual(r.tileCount, 3)
        XCTAssertEqual(r.wastedSlots, 0)   // 6 elements × 4 replicas fill 3 tiles of 8
        XCTAssertEqual(try TileShape(parsing: "[3/4, */2]").wastedSlots, 2)
    }

    /// Element (i, j) of a plain shape: tile (⌊i/t0⌋, ⌊j/t1⌋), slot (i mod t0)·t1 + j mod t1;
    /// interleaved: tile j mod e, position ⌊j/e⌋.
    func testLocations() throws {
        let s = try TileShape(parsing: "[5/2, 6/4]")
        XCTAssertEqual(try s.location(of: [3, 5]).tile, 1 * 2 + 1)
        XCTAssertEqual(try s.location(of: [3, 5]).slot, 1 * 4 + 1)
        let i = try TileShape(parsing: "[7~/4, 2/2]")   // e = 2
        XCTAssertEqual(i.tileCounts, [2, 1])
        XCTAssertEqual(try i.location(of: [5, 1]).tile, 1)
        XCTAssertEqual(try i.location(of: [5, 1]).slot, 2 * 2 + 1)
        XCTAssertEqual(try i.location(of: [6, 0]).tile, 0)
        XCTAssertEqual(try i.location(of: [6, 0]).slot, 3 * 2)
        XCTAssertThrowsError(try s.location(of: [5, 0]))
        XCTAssertThrowsError(try s.location(of: [1]))
    }

    /// Every element gets a distinct slot, and the slots of all elements plus replicas plus waste
    /// cover all tiles exactly.
    func testLocationsAreInjectiveOnRandomShapes() throws {
        var rng = TestRNG(seed: 1)
        for _ in 0..<200 {
            let rank = Int.random(in: 1...3, using: &rng)
            var dims: [TileDimension] = []
            for _ in 0..<rank {
                let t = 1 << Int.random(in: 0...3, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: dims.append(try .replicated(tile: t))
                case 1: dims.append(try .interleaved(Int.random(in: 1...20, using: &rng), tile: t))
                default: dims.append(try .plain(Int.random(in: 1...20, using: &rng), tile: t))
                }
            }
            let s = try TileShape(dims)
            var seen = Set<[Int]>()
            var count = 0
            s.forEachSlot { tile, slot, index in
                guard let index else { return }
                count += 1
                if let loc = try? s.location(of: index), !dims.contains(where: \.isReplicated) {
                    XCTAssertEqual(loc.tile, tile)
                    XCTAssertEqual(loc.slot, slot)
                }
                seen.insert(index)
            }
            XCTAssertEqual(seen.count, s.logicalShape.reduce(1, *), "\(s)")
            XCTAssertEqual(count + s.wastedSlots, s.tileCount * s.slotsPerTile, "\(s)")
        }
    }
}
