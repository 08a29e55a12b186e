/// The client-side packing that turns a strided first convolution into a stride-1 one
/// (space-to-depth, or polyphase): the client lays the zero-padded image out as its s² phase
/// images, channel c·s² + r_y·s + r_x holding pixel (s·u + r_y − p, s·v + r_x − p) at (u, v).
/// A stride-s, padding-p, K×K convolution of the image is then exactly the stride-1,
/// unpadded ⌈K/s⌉×⌈K/s⌉ convolution of the packed tensor with
/// W′[f, c·s² + r_y·s + r_x, q_y, q_x] = W[f, c, s·q_y + r_y, s·q_x + r_x] (zero where the tap
/// lies beyond K), since tap (dy, dx) = (s·q_y + r_y, s·q_x + r_x) of output (y, x) reads padded
/// pixel (s·(y + q_y) + r_y, s·(x + q_x) + r_x), which is packed element (y + q_y, x + q_x).
///
/// This is a permutation of the input's pixels plus zeros: no pixel is duplicated and no
/// weight reaches the client (unlike im2col, the convolution itself stays on the server). It
/// matters because the encrypted strided convolution needs input and output tile counts in the
/// ratio s, and for strides like 3 on 28×28 images no tiling has it.
public struct SpaceToDepth: Equatable, Sendable {
    public var stride: Int
    public var padding: Int
    /// [C, H, W] of one sample as the user gives it.
    public var sampleShape: [Int]
    /// U×V: the packed rows and columns the convolution reads (o + ⌈K/s⌉ − 1 each; reads past the
    /// padded image are zeros, rows no output reads are left out).
    public var rows: Int
    public var columns: Int

    public init(stride: Int, padding: Int, sampleShape: [Int], rows: Int, columns: Int) {
        self.stride = stride
        self.padding = padding
        self.sampleShape = sampleShape
        self.rows = rows
        self.columns = columns
    }

    /// [C·s², U, V].
    public var packedShape: [Int] { [sampleShape[0] * stride * stride, rows, columns] }

    /// Whether the fields describe a packing (for validating files).
    public var isValid: Bool {
        sampleShape.count == 3 && sampleShape.allSatisfy { $0 >= 1 } && stride >= 2 && stride <= 16 && padding >= 0
            && padding <= 64 && rows >= 1 && columns >= 1 && rows <= sampleShape[1] + 2 * padding + stride
            && columns <= sampleShape[2] + 2 * padding + stride
    }

    /// The packing of the first convolution (K×K, stride s, padding p) of a [C, H, W] sample.
    init(kernel k: Int, stride s: Int, padding p: Int, sampleShape: [Int]) {
        let kp = (k + s - 1) / s
        let oh = (sampleShape[1] + 2 * p - k) / s + 1, ow = (sampleShape[2] + 2 * p - k) / s + 1
        self.init(stride: s, padding: p, sampleShape: sampleShape, rows: oh + kp - 1, columns: ow + kp - 1)
    }

    /// The packed sample (C·s²·U·V values, row-major) of a sample of C·H·W values.
    public func apply(_ sample: [Double]) -> [Double] {
        let c = sampleShape[0], h = sampleShape[1], w = sampleShape[2], s = stride
        precondition(sample.count == c * h * w, "a sample of \(sample.count) values for \(sampleShape)")
        var out = [Double](repeating: 0, count: c * s * s * rows * columns)
        for ci in 0..<c {
            for ry in 0..<s {
                for rx in 0..<s {
                    let base = ((ci * s + ry) * s + rx) * rows * columns
                    for u in 0..<rows {
                        let iy = s * u + ry - padding
                        guard (0..<h).contains(iy) else { continue }
                        for v in 0..<columns {
                            let ix = s * v + rx - padding
                            guard (0..<w).contains(ix) else { continue }
                            out[base + u * columns + v] = sample[(ci * h + iy) * w + ix]
                        }
                    }
                }
            }
        }
        return out
    }

    /// W′ [F, C·s², K′, K′] (row-major) from W [F, C, K, K].
    func filters(_ weights: [Double], shape: [Int]) -> (values: [Double], shape: [Int]) {
        let f = shape[0], c = shape[1], k = shape[2], s = stride, kp = (k + s - 1) / s
        var out = [Double](repeating: 0, count: f * c * s * s * kp * kp)
        for fi in 0..<f {
            for ci in 0..<c {
                for dy in 0..<k {
                    for dx in 0..<k {
                        let channel = (ci * s + dy % s) * s + dx % s
                        out[((fi * c * s * s + channel) * kp + dy / s) * kp + dx / s] = weights[((fi * c + ci) * k + dy) * k + dx]
                    }
                }
            }
        }
        return (out, [f, c * s * s, kp, kp])
    }
}
