/// Straightforward `Double` loops for each layer of the IR, batch first. Clarity over speed:
/// these are the reference the encrypted kernels are checked against.
enum LayerKernels {
    /// Convolution of N×I×H×W into N×O×OH×OW with zero padding.
    static func conv2d(_ c: Conv2d, _ x: Tensor, batch: Int, outShape: [Int]) -> [Double] {
        let (inC, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        let (outC, oh, ow) = (outShape[0], outShape[1], outShape[2])
        let (kh, kw) = (c.kernelH, c.kernelW)
        var y = [Double](repeating: 0, count: batch * outC * oh * ow)
        x.values.withUnsafeBufferPointer { xv in
            c.weights.values.withUnsafeBufferPointer { wv in
                y.withUnsafeMutableBufferPointer { yv in
                    for n in 0..<batch {
                        for o in 0..<outC {
                            let outBase = (n * outC + o) * oh * ow
                            for p in 0..<(oh * ow) { yv[outBase + p] = c.bias[o] }
                            for i in 0..<inC {
                                let inBase = (n * inC + i) * h * w
                                let wBase = (o * inC + i) * kh * kw
                                for r in 0..<kh {
                                    for s in 0..<kw {
                                        let weight = wv[wBase + r * kw + s]
                                        if weight == 0 { continue }
                                        for oy in 0..<oh {
                                            let iy = oy * c.strideH + r - c.padding.top
                                            if iy < 0 || iy >= h { continue }
                                            for ox in 0..<ow {
                                                let ix = ox * c.strideW + s - c.padding.left
                                                if ix < 0 || ix >= w { continue }
                                                yv[outBase + oy * ow + ox] += weight * xv[inBase + iy * w + ix]
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return y
    }

    /// y = W·x + b per sample.
    static func dense(_ d: Dense, _ x: Tensor, batch: Int) -> [Double] {
        let (outF, inF) = (d.outFeatures, d.inFeatures)
        var y = [Double](repeating: 0, count: batch * outF)
        for n in 0..<batch {
            for o in 0..<outF {
                var sum = d.bias[o]
                for i in 0..<inF { sum += d.weights.values[o * inF + i] * x.values[n * inF + i] }
                y[n * outF + o] = sum
            }
        }
        return y
    }

    /// Index of the channel (first sample axis) of each element of one sample, via the block
    /// size of a channel.
    static func channelBlock(_ x: Tensor) -> (channels: Int, block: Int) {
        let channels = x.shape.count > 1 ? x.shape[1] : 1
        let block = x.shape.count > 2 ? x.shape[2...].reduce(1, *) : 1
        return (channels, block)
    }

    static func affine(_ a: ChannelAffine, _ x: Tensor) -> [Double] {
        let (channels, block) = channelBlock(x)
        var y = x.values
        for j in y.indices {
            let c = (j / block) % channels
            y[j] = a.scale(c) * y[j] + a.shift(c)
        }
        return y
    }

    static func polynomial(_ p: PolynomialActivation, _ x: Tensor) -> [Double] {
        let (channels, block) = channelBlock(x)
        var y = x.values
        for j in y.indices { y[j] = p.evaluate(y[j], channel: (j / block) % channels) }
        return y
    }

    static func averagePool(_ p: Pool2d, _ x: Tensor, batch: Int, outShape: [Int]) -> [Double] {
        let (c, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = (outShape[1], outShape[2])
        var y = [Double](repeating: 0, count: batch * c * oh * ow)
        for plane in 0..<(batch * c) {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var sum = 0.0
                    var inside = 0
                    for r in 0..<p.kernelH {
                        let iy = oy * p.strideH + r - p.padding.top
                        if iy < 0 || iy >= h { continue }
                        for s in 0..<p.kernelW {
                            let ix = ox * p.strideW + s - p.padding.left
                            if ix < 0 || ix >= w { continue }
                            sum += x.values[plane * h * w + iy * w + ix]
                            inside += 1
                        }
                    }
                    let divisor = p.countIncludePad ? p.kernelH * p.kernelW : max(inside, 1)
                    y[plane * oh * ow + oy * ow + ox] = sum / Double(divisor)
                }
            }
        }
        return y
    }

    /// Per sample, the operands' values one after the other (channel-major layouts make a
    /// concatenation along the first sample axis a concatenation of each sample's block).
    static func concatChannels(_ parts: [Tensor], batch: Int) -> [Double] {
        var y: [Double] = []
        y.reserveCapacity(parts.reduce(0) { $0 + $1.values.count })
        for n in 0..<batch {
            for part in parts {
                let size = part.values.count / batch
                y.append(contentsOf: part.values[(n * size)..<((n + 1) * size)])
            }
        }
        return y
    }

    static func globalAveragePool(_ x: Tensor, batch: Int) -> [Double] {
        let c = x.shape[1]
        let area = x.shape[2...].reduce(1, *)
        var y = [Double](repeating: 0, count: batch * c)
        for plane in 0..<(batch * c) {
            var sum = 0.0
            for j in 0..<area { sum += x.values[plane * area + j] }
            y[plane] = sum / Double(area)
        }
        return y
    }

    static func zeroPad(_ p: Padding2d, _ x: Tensor, batch: Int, outShape: [Int]) -> [Double] {
        let (c, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = (outShape[1], outShape[2])
        var y = [Double](repeating: 0, count: batch * c * oh * ow)
        for plane in 0..<(batch * c) {
            for iy in 0..<h {
                for ix in 0..<w {
                    y[plane * oh * ow + (iy + p.top) * ow + ix + p.left] = x.values[plane * h * w + iy * w + ix]
                }
            }
        }
        return y
    }
}
