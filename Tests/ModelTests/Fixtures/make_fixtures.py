#!/usr/bin/env python3
"""Makes the ModelTests fixtures: small torch models exported to ONNX, onnxruntime's outputs on
fixed inputs, small PNG and .npy files with known values. Run once by whoever changes the
fixtures (the tests never run Python):

    python3 -m venv /tmp/fixvenv
    /tmp/fixvenv/bin/pip install torch==2.13.0+cpu onnx onnxruntime onnxscript numpy pillow
    /tmp/fixvenv/bin/python Tests/ModelTests/Fixtures/make_fixtures.py

Writes into this script's directory: onnx/<name>.onnx with onnx/<name>.json (input, output,
opset), png/*.png, npy/*.npy. Everything is deterministic (fixed seeds).
"""
import gzip
import json
import os
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

warnings.simplefilter("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))
ONNX_DIR = os.path.join(HERE, "onnx")
PNG_DIR = os.path.join(HERE, "png")
NPY_DIR = os.path.join(HERE, "npy")
MNIST = os.path.join(HERE, "..", "..", "..", "..", "shared", "data", "mnist")


class Square(nn.Module):
    def forward(self, x):
        return x * x


class PowSquare(nn.Module):
    def forward(self, x):
        return torch.pow(x, 2)


class QuadPerChannel(nn.Module):
    """a*x*x + b*x + c with one (a, b, c) per channel, as trainable parameters."""

    def __init__(self, channels, spatial=True):
        super().__init__()
        shape = (1, channels, 1, 1) if spatial else (channels,)
        g = torch.Generator().manual_seed(channels)
        self.a = nn.Parameter(0.1 + 0.2 * torch.rand(shape, generator=g))
        self.b = nn.Parameter(0.5 + 0.5 * torch.rand(shape, generator=g))
        self.c = nn.Parameter(0.1 * torch.randn(shape, generator=g))

    def forward(self, x):
        return self.a * x * x + self.b * x + self.c


class QuadShared(nn.Module):
    """c + b*x + a*x**2 with Python constants, written in the other order."""

    def forward(self, x):
        return 0.125 + 0.5 * x + 0.25 * x ** 2


class Horner(nn.Module):
    """x*(a*x + b) + c: the Horner form, with a Sub and a Div by a constant."""

    def forward(self, x):
        return x * (0.3 * x + 1.0) - 0.2 / 2.0 + x / 4.0


class Cubic(nn.Module):
    def forward(self, x):
        return 0.05 * torch.pow(x, 3) + x


class ConvSquare(nn.Module):
    """Conv -> x*x -> AvgPool -> Flatten -> Gemm (the CryptoNets shape)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.act = Square()
        self.pool = nn.AvgPool2d(2)
        self.fc = nn.Linear(4 * 4 * 4, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.act(self.conv(x))), 1))


class ConvBNPoly(nn.Module):
    """Conv -> BN -> per-channel quadratic -> strided Conv -> BN -> Pow 2 -> GlobalAveragePool -> Linear."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(6)
        self.act1 = QuadPerChannel(6)
        self.conv2 = nn.Conv2d(6, 8, 3, stride=2, padding=(1, 0))
        self.bn2 = nn.BatchNorm2d(8)
        self.act2 = PowSquare()
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.act2(self.bn2(self.conv2(x)))
        return self.fc(self.gap(x).view(x.size(0), -1))


class MLPSpellings(nn.Module):
    """MatMul + Add, Dropout, BatchNorm1d, shared, Horner and cubic activations, Neg."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(7)
        self.w1 = nn.Parameter(torch.randn(12, 16, generator=g) * 0.3)
        self.b1 = nn.Parameter(torch.randn(16, generator=g) * 0.1)
        self.bn = nn.BatchNorm1d(16)
        self.act1 = QuadShared()
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(16, 16)
        self.act2 = Horner()
        self.fc3 = nn.Linear(16, 8)
        self.act3 = Cubic()
        self.fc4 = nn.Linear(8, 4)

    def forward(self, x):
        x = self.act1(self.bn(torch.matmul(x, self.w1) + self.b1))
        x = self.act2(self.fc2(self.drop(x)))
        x = self.act3(self.fc3(x))
        return -self.fc4(x) * 0.5


class Residual(nn.Module):
    """Skip connection (Add of two tensors), padded AvgPool, ReduceMean over H, W, per-channel poly."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 4, 3, padding=1)
        self.act1 = QuadPerChannel(4)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.act2 = Square()
        self.pool = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        y = self.act1(self.conv1(x))
        y = y + self.conv2(y)
        y = self.pool(self.act2(y))
        return self.fc(y.mean(dim=(2, 3)))


class PadReshape(nn.Module):
    """Input scaling (x - 0.5) / 0.25, BN on the input, explicit zero Pad, Reshape with a static shape."""

    def __init__(self):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(1)
        self.conv = nn.Conv2d(1, 3, (3, 2), stride=(2, 1))
        self.act = Square()
        self.fc = nn.Linear(3 * 4 * 6, 6)

    def forward(self, x):
        x = self.bn0((x - 0.5) / 0.25)
        x = F.pad(x, (1, 0, 2, 1))
        x = self.act(self.conv(x))
        return self.fc(x.reshape(-1, 3 * 4 * 6))


class PoolBNDense(nn.Module):
    """BatchNorm after an average pool: folds forward through Flatten into the Linear layer."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3)
        self.pool = nn.AvgPool2d(2)
        self.bn = nn.BatchNorm2d(3)
        self.fc = nn.Linear(3 * 2 * 2, 4)

    def forward(self, x):
        x = self.pool(torch.pow(self.conv(x), 2))
        return self.fc(torch.flatten(self.bn(x) * 2.0, 1))


class MLPPerFeature(nn.Module):
    """a*x*x + b*x + c with one (a, b, c) per feature of a dense layer."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 5)
        self.act = QuadPerChannel(5, spatial=False)
        self.fc2 = nn.Linear(5, 3)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class FinalSoftmax(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.fc = nn.Linear(2 * 4 * 4, 3)

    def forward(self, x):
        x = self.conv(x)
        return F.softmax(self.fc(torch.flatten(x * x, 1)), dim=1)


class ReluNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.fc = nn.Linear(2 * 4 * 4, 3)

    def forward(self, x):
        return self.fc(torch.flatten(F.relu(self.conv(x)), 1))


class MaxPoolNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.fc = nn.Linear(2 * 2 * 2, 3)

    def forward(self, x):
        x = self.conv(x)
        return self.fc(torch.flatten(F.max_pool2d(x * x, 2), 1))


class SigmoidNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 4)
        self.fc2 = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc2(torch.sigmoid(self.fc1(x)))


class MnistSquare(nn.Module):
    """The smallest useful MNIST network: Conv 5x5/2 -> x*x -> Linear."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 5, stride=2)
        self.fc = nn.Linear(4 * 12 * 12, 10)

    def forward(self, x):
        x = self.conv(x)
        return self.fc(torch.flatten(x * x, 1))


def randomize_bn(model, seed):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            m.running_mean.copy_(0.2 * torch.randn(n, generator=g))
            m.running_var.copy_(0.5 + torch.rand(n, generator=g))
            m.weight.data.copy_(1 + 0.3 * torch.randn(n, generator=g))
            m.bias.data.copy_(0.1 * torch.randn(n, generator=g))


def export(name, model, shape, opset, batch=3, dynamic=True, metadata=None, seed=0, run=True, dynamo=False):
    torch.manual_seed(seed)
    if not isinstance(model, nn.Module):  # a class: built after seeding, so weights are reproducible
        model = model()
    model.eval()
    randomize_bn(model, seed + 1)
    g = torch.Generator().manual_seed(seed + 2)
    x = torch.randn((batch,) + shape, generator=g)
    path = os.path.join(ONNX_DIR, name + ".onnx")
    if dynamo:  # the torch.export-based exporter (onnxscript), default since torch 2.9
        torch.onnx.export(model, (x,), path, opset_version=opset, dynamo=True, verbose=False,
                          input_names=["input"], output_names=["output"],
                          dynamic_shapes=({0: torch.export.Dim("N")},) if dynamic else None)
    else:  # the TorchScript exporter, unfolded so that BatchNormalization and Constants stay
        torch.onnx.export(
            model, (x,), path, opset_version=opset, dynamo=False, do_constant_folding=False,
            input_names=["input"], output_names=["output"],
            dynamic_axes={"input": {0: "N"}, "output": {0: "N"}} if dynamic else None)
    m = onnx.load(path)
    for key, value in (metadata or {}).items():
        entry = m.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(m, path)  # weights inline: the dynamo exporter writes them to <name>.onnx.data
    if os.path.exists(path + ".data"):
        os.remove(path + ".data")
    onnx.checker.check_model(m)
    record = {"model": name + ".onnx", "opset": opset, "nodes": [n.op_type for n in m.graph.node]}
    if run:
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        y = sess.run(None, {"input": x.numpy()})[0]
        with torch.no_grad():
            t = model(x).numpy()
        assert np.allclose(y, t, rtol=1e-4, atol=1e-5), name
        record.update({"input_shape": list(x.shape), "input": [float(v) for v in x.numpy().ravel()],
                       "output_shape": list(y.shape), "output": [float(v) for v in y.ravel()]})
    with open(os.path.join(ONNX_DIR, name + ".json"), "w") as f:
        json.dump(record, f)
    print(f"{name}: opset {opset}, {os.path.getsize(path)} bytes, nodes {record['nodes']}")


def load_idx(name):
    with gzip.open(os.path.join(MNIST, name)) as f:
        data = f.read()
    if data[2] == 8 and data[3] == 3:
        n, rows, cols = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
        return np.frombuffer(data, np.uint8, offset=16).reshape(n, 1, rows, cols)
    return np.frombuffer(data, np.uint8, offset=8)


def train_mnist():
    """A few hundred steps on MNIST so that the end-to-end test can check real accuracy."""
    torch.manual_seed(0)
    images = torch.tensor((load_idx("train-images-idx3-ubyte.gz") / 255.0 - 0.1307) / 0.3081, dtype=torch.float32)
    labels = torch.tensor(load_idx("train-labels-idx1-ubyte.gz"), dtype=torch.long)
    model = MnistSquare()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for step in range(600):
        idx = torch.randint(0, len(images), (128,))
        loss = F.cross_entropy(model(images[idx]), labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def write_pngs():
    os.makedirs(PNG_DIR, exist_ok=True)
    w, h = 5, 3
    gray8 = np.array([[(x * 50 + y * 20) % 256 for x in range(w)] for y in range(h)], np.uint8)
    Image.fromarray(gray8, "L").save(os.path.join(PNG_DIR, "gray8.png"))
    gray16 = np.array([[x * 12000 + y * 1001 + 7 for x in range(w)] for y in range(h)], np.uint16)
    Image.fromarray(gray16.astype(np.uint16)).save(os.path.join(PNG_DIR, "gray16.png"))
    rgb = np.zeros((h, w, 3), np.uint8)
    for y in range(h):
        for x in range(w):
            rgb[y, x] = (x * 60, y * 100, 255 - x * 10 - y)
    Image.fromarray(rgb, "RGB").save(os.path.join(PNG_DIR, "rgb8.png"))
    rgba = np.concatenate([rgb, np.full((h, w, 1), 200, np.uint8)], axis=2)
    Image.fromarray(rgba, "RGBA").save(os.path.join(PNG_DIR, "rgba8.png"))
    palette_image = Image.fromarray(np.array([[(x + y) % 4 for x in range(w)] for y in range(h)], np.uint8), "P")
    palette_image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30])
    palette_image.save(os.path.join(PNG_DIR, "palette.png"))
    checker = np.array([[(x + y) % 2 == 0 for x in range(w)] for y in range(h)], bool)
    Image.fromarray(checker).convert("1").save(os.path.join(PNG_DIR, "gray1.png"))  # 1-bit grey
    # A 28x28 grey image: the first MNIST test digit (a 7), for the CLI and preprocessing tests.
    digit = load_idx("t10k-images-idx3-ubyte.gz")[0, 0]
    Image.fromarray(digit, "L").save(os.path.join(PNG_DIR, "mnist_test0_label7.png"))


def write_npys():
    os.makedirs(NPY_DIR, exist_ok=True)
    a = (np.arange(2 * 1 * 2 * 3, dtype=np.float32) / 4 - 1).reshape(2, 1, 2, 3)
    np.save(os.path.join(NPY_DIR, "f32_2x1x2x3.npy"), a)
    np.save(os.path.join(NPY_DIR, "f64_1x2x3.npy"), a[0].astype(np.float64) * 3)
    np.save(os.path.join(NPY_DIR, "u8_2x1x2x3.npy"), (np.arange(12, dtype=np.uint8) * 20).reshape(2, 1, 2, 3))
    digits = load_idx("t10k-images-idx3-ubyte.gz")[:4].astype(np.float32)
    np.save(os.path.join(NPY_DIR, "mnist_test0to3_normalized.npy"), ((digits / 255.0 - 0.1307) / 0.3081).astype(np.float32))


def main():
    os.makedirs(ONNX_DIR, exist_ok=True)
    export("conv_square_op11", ConvSquare, (1, 8, 8), 11, seed=1)
    export("conv_square_op13", ConvSquare, (1, 8, 8), 13, seed=1)
    export("conv_square_op17_batch2", ConvSquare, (1, 8, 8), 17, batch=2, dynamic=False, seed=1)
    ranges = json.dumps([4.0, 4.0])
    export("conv_bn_poly_op17", ConvBNPoly, (3, 8, 7), 17, seed=2,
           metadata={"he_tool.activation_ranges": ranges,
                     "he_tool.preprocessing": json.dumps({"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]})})
    export("conv_bn_poly_op13_tight", ConvBNPoly, (3, 8, 7), 13, seed=2,
           metadata={"he_tool.activation_ranges": json.dumps(0.5)})
    export("mlp_spellings_op11", MLPSpellings, (12,), 11, seed=3)
    export("mlp_spellings_op20", MLPSpellings, (12,), 20, seed=3)
    export("residual_op18", Residual, (2, 6, 6), 18, seed=4)
    export("residual_op13", Residual, (2, 6, 6), 13, seed=4)
    export("pad_reshape_op11", PadReshape, (1, 6, 6), 11, seed=5)
    export("pad_reshape_op19", PadReshape, (1, 6, 6), 19, seed=5)
    export("residual_op21", Residual, (2, 6, 6), 21, seed=4)
    export("conv_bn_poly_dynamo_op20", ConvBNPoly, (3, 8, 7), 20, seed=2, dynamo=True)
    export("mlp_spellings_dynamo_op20", MLPSpellings, (12,), 20, seed=3, dynamo=True)
    export("pad_reshape_dynamo_op20", PadReshape, (1, 6, 6), 20, seed=5, dynamo=True)
    export("pool_bn_dense_op15", PoolBNDense, (1, 6, 6), 15, seed=11)
    export("mlp_per_feature_op12", MLPPerFeature, (6,), 12, seed=12)
    export("final_softmax_op13", FinalSoftmax, (1, 6, 6), 13, seed=6)
    export("relu_op13", ReluNet, (1, 6, 6), 13, seed=7, run=False)
    export("maxpool_op11", MaxPoolNet, (1, 6, 6), 11, seed=8, run=False)
    export("sigmoid_op17", SigmoidNet, (4,), 17, seed=9, run=False)
    mnist = train_mnist()
    export("mnist_square_op13", mnist, (1, 28, 28), 13, seed=10,
           metadata={"he_tool.preprocessing": json.dumps({"mean": [0.1307], "std": [0.3081]}),
                     "he_tool.activation_ranges": json.dumps([60.0])})
    write_pngs()
    write_npys()


if __name__ == "__main__":
    main()
