"""A ResNet-20-shaped network with random weights, as ONNX, for sizing he-tool on a deep residual graph.

Not a trained model: its outputs mean nothing. It has the shape of He et al.'s CIFAR-10
ResNet-20 so that he-tool's compiler, planner and benchmarks can be run on a realistic deep
residual network without training one:

    input 3 x 32 x 32
    stem: conv 3x3, 3 -> 16, stride 1, padding 1 -> x^2
    3 stages x 3 basic blocks, 16 / 32 / 64 channels (32 x 32, 16 x 16, 8 x 8):
        conv 3x3 (stride 2 in the first block of stages 2 and 3) -> x^2 -> conv 3x3,
        plus the shortcut (identity, or conv 1x1 stride 2 where the shape changes), Add -> x^2
    global average pooling -> flatten -> dense 64 -> 10

The activations are plain squares (Mul(x, x): no coefficients, no BatchNorm; a folded
BatchNorm is just the convolutions' weights and biases). 19 squares, 21 convolutions (2 of
them projection shortcuts), one dense layer, 271,690 parameters. Multiplicative depth along
the longest path (conv, dense and x^2 one level each, additions free, the pooling's 1/64
folded into the dense layer as he-tool's compiler does): 2 + 9 * 4 + 1 = 39; `he-tool
inspect`, which shows the graph before folding, counts the pooling as a level of its own: 40.

Weights are random (PyTorch's default initialisation, seeded), then rescaled layer by
layer (one factor per layer, in forward order) on a batch of random images, so that no
activation grows or vanishes with depth:
  - the square inside each block's branch gets inputs of RMS `--branch-rms` (1 by default);
  - the squares on the residual stream (the stem's, and the one after each Add) get inputs of
    RMS `--stream-rms` (0.1 by default): the second convolution of each block is scaled so
    that branch + shortcut has that RMS, a projection shortcut so that it carries half of it;
  - the dense layer so that the logits have RMS 1.
The stream must stay small because an identity shortcut carries the previous square's output
into the next square unscaled: if z has RMS t, z^2 has RMS sqrt(kurtosis) * t^2, which must
stay below t, and the squares make the tails (the kurtosis) heavier block after block. On
random images a stream RMS of 0.1 holds through all nine blocks (largest |x| about 5 RMS);
0.15 already needs more than the shortcut alone in block 6, and the script then stops with
an error instead of writing a network whose values explode. It prints every square's input
RMS and largest |x| on the calibration batch.

Input: random uint8 pixels, pixel / 255 then (x - mean) / std with CIFAR-10's channel
statistics, recorded in the `he_tool.preprocessing` metadata as the toolkit's models do.

    python Examples/resnet20_shape.py --out /tmp/resnet20/resnet20-shape.onnx --images 3

writes resnet20-shape.onnx (opset 17, batch 1), and with --images N, next to it:
image-K.png (the pixels), image-K.npy (1 x 3 x 32 x 32 float32, preprocessed: he-tool reads
it as it is) and expected-logits.npy (N x 10, PyTorch's outputs). The file is checked
against onnxruntime on the calibration images and the written ones; the largest absolute
difference is printed. Needs torch, onnx, numpy (and onnxruntime for the check).
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

MEAN = [0.4914, 0.4822, 0.4465]  # CIFAR-10's channel statistics (pixel / 255)
STD = [0.2470, 0.2435, 0.2616]
ALLOWED_OPS = {"Conv", "Mul", "Add", "GlobalAveragePool", "Flatten", "Gemm"}


class Square(nn.Module):
    """x * x, exported as Mul(x, x)."""

    def forward(self, x):
        return x * x


class BasicBlock(nn.Module):
    """conv3x3(stride) -> x^2 -> conv3x3, plus the shortcut, Add -> x^2."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1)
        self.act1 = Square()
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.shortcut = nn.Identity() if stride == 1 and cin == cout else nn.Conv2d(cin, cout, 1, stride=stride)
        self.act2 = Square()

    def forward(self, x):
        return self.act2(self.conv2(self.act1(self.conv1(x))) + self.shortcut(x))


class ResNet20Shape(nn.Module):
    def __init__(self, widths=(16, 32, 64), blocks: int = 3, classes: int = 10):
        super().__init__()
        self.conv = nn.Conv2d(3, widths[0], 3, padding=1)
        self.act = Square()
        layers, cin = [], widths[0]
        for stage, width in enumerate(widths):
            for b in range(blocks):
                layers.append(BasicBlock(cin, width, 2 if stage > 0 and b == 0 else 1))
                cin = width
        self.blocks = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)  # exported as GlobalAveragePool
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        return self.fc(self.flatten(self.pool(self.blocks(self.act(self.conv(x))))))


def rms(t: torch.Tensor) -> float:
    return float(t.pow(2).mean().sqrt())


def scale_(layer: nn.Module, factor: float) -> None:
    layer.weight.mul_(factor)
    layer.bias.mul_(factor)


@torch.no_grad()
def calibrate(model: ResNet20Shape, x: torch.Tensor, stream: float, branch: float) -> list[tuple[str, float, float]]:
    """Rescales every layer in forward order (one factor per layer) so that, on x, the squares
    inside the blocks' branches get inputs of RMS `branch`, the stem's square and those after
    each Add inputs of RMS `stream`, and the logits RMS 1. Returns (name, RMS, max |x|) of
    every square's input and of the logits."""
    report = []

    def square(name, act, z):
        report.append((name, rms(z), float(z.abs().max())))
        return act(z)

    scale_(model.conv, stream / rms(model.conv(x)))
    h = square("stem", model.act, model.conv(x))
    for i, block in enumerate(model.blocks, start=1):
        scale_(block.conv1, branch / rms(block.conv1(h)))
        if isinstance(block.shortcut, nn.Conv2d):  # half the sum's energy, the branch the rest
            scale_(block.shortcut, stream / 2 ** 0.5 / rms(block.shortcut(h)))
        inner = square(f"block{i}.act1", block.act1, block.conv1(h))
        out, skip = block.conv2(inner), block.shortcut(h)
        # Solve rms(skip + a * out) = stream for a > 0: |o|^2 a^2 + 2<s,o> a + |s|^2 - n t^2 = 0,
        # which has one positive root while the shortcut alone stays below the target.
        n = skip.numel()
        oo, so, ss = float((out * out).sum()), float((skip * out).sum()), float((skip * skip).sum())
        room = n * stream * stream - ss
        if room <= 0:
            raise SystemExit(f"block {i}: the shortcut alone exceeds RMS {stream}; lower --stream-rms")
        scale_(block.conv2, (-so + (so * so + oo * room) ** 0.5) / oo)
        h = square(f"block{i}.act2", block.act2, block.conv2(inner) + skip)
    features = model.flatten(model.pool(h))
    scale_(model.fc, 1.0 / rms(model.fc(features)))
    logits = model.fc(features)
    report.append(("logits", rms(logits), float(logits.abs().max())))
    return report


def preprocess(pixels: np.ndarray) -> np.ndarray:
    x = pixels.astype(np.float32) / 255.0
    return (x - np.array(MEAN, np.float32).reshape(1, 3, 1, 1)) / np.array(STD, np.float32).reshape(1, 3, 1, 1)


def write_png(path: Path, image: np.ndarray) -> None:
    """A 3 x H x W uint8 image as an 8-bit RGB PNG (zlib from the standard library)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    _, h, w = image.shape
    rows = np.ascontiguousarray(image.transpose(1, 2, 0)).reshape(h, w * 3)
    raw = b"".join(b"\x00" + rows[y].tobytes() for y in range(h))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def depth(graph: onnx.GraphProto) -> int:
    """he-tool's count on the ONNX graph: Conv, Gemm and Mul one level each, the longest path."""
    levels = {i.name: 0 for i in graph.input}
    for node in graph.node:
        before = max((levels.get(name, 0) for name in node.input), default=0)
        cost = 1 if node.op_type in ("Conv", "Gemm", "MatMul", "Mul") else 0
        for out in node.output:
            levels[out] = before + cost
    return levels[graph.output[0].name]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="the ONNX file to write (e.g. .../resnet20-shape.onnx)")
    p.add_argument("--images", type=int, default=0, help="also write N random input images beside it")
    p.add_argument("--branch-rms", type=float, default=1.0, help="RMS of the input of the square inside each branch")
    p.add_argument("--stream-rms", type=float, default=0.1,
                   help="RMS of the input of the stem's square and of the squares after the additions")
    p.add_argument("--calibration", type=int, default=64, help="random images used to scale the layers")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)

    model = ResNet20Shape().eval()
    calibration = torch.from_numpy(preprocess(rng.integers(0, 256, (args.calibration, 3, 32, 32), dtype=np.uint8)))
    for name, r, m in calibrate(model, calibration, args.stream_rms, args.branch_rms):
        print(f"{name:>14}: RMS {r:.3f}, max |x| {m:.3f}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(f".{args.out.name}.tmp")
    torch.onnx.export(model, (torch.zeros(1, 3, 32, 32),), str(tmp), opset_version=17, input_names=["input"],
                      output_names=["logits"], do_constant_folding=True, dynamo=False)
    proto = onnx.load(str(tmp))
    for key, value in {"he_tool.preprocessing": {"scale": 1 / 255, "mean": MEAN, "std": STD, "layout": "NCHW",
                                                 "input_shape": [3, 32, 32]},
                       "he_tool.class_names": [str(i) for i in range(10)]}.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    proto.producer_name = "he-tool Examples/resnet20_shape.py (random weights)"
    onnx.checker.check_model(proto)
    ops = [n.op_type for n in proto.graph.node]
    if set(ops) - ALLOWED_OPS:
        raise SystemExit(f"unexpected operators {sorted(set(ops) - ALLOWED_OPS)}")
    onnx.save(proto, str(tmp))

    pixels = rng.integers(0, 256, (args.images, 3, 32, 32), dtype=np.uint8)
    inputs = np.concatenate([calibration[:8].numpy(), preprocess(pixels)])
    worst = 0.0
    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
        print("onnxruntime is not installed: the export is not checked")
    with torch.no_grad():
        expected = model(torch.from_numpy(inputs)).numpy()
    if ort is not None:
        session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        got = np.concatenate([session.run(None, {"input": x[None]})[0] for x in inputs])
        worst = float(np.abs(got - expected).max())
        print(f"onnxruntime vs PyTorch on {len(inputs)} images: max abs diff {worst:.2e} "
              f"(logits max |x| {float(np.abs(expected).max()):.3f})")
        if worst > 1e-3:
            raise SystemExit("onnxruntime does not reproduce PyTorch")
    os.replace(tmp, args.out)

    counts = {op: ops.count(op) for op in sorted(set(ops))}
    print(f"wrote {args.out}: {counts}; depth {depth(proto.graph)} "
          f"({sum(p.numel() for p in model.parameters()):,} parameters)")
    for k in range(args.images):
        write_png(args.out.parent / f"image-{k}.png", pixels[k])
        np.save(args.out.parent / f"image-{k}.npy", inputs[8 + k][None].astype(np.float32))
    if args.images:
        np.save(args.out.parent / "expected-logits.npy", expected[8:].astype(np.float32))
        print(f"wrote image-0 ... image-{args.images - 1} (.png, .npy) and expected-logits.npy")


if __name__ == "__main__":
    main()
