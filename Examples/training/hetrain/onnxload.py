"""Rebuilds a bundled model's PyTorch network from its folder (model.onnx + training-summary.json).

The architecture comes from the summary (`arch`) and its widths from the file's weights (else
`width1`, `width2`, `hidden` of the summary's `args`), built with hetrain.models exactly as
hetrain.train builds it, with polynomial activations; the weights come from the ONNX initialisers, matched by node name (the exporter
names nodes after modules: `/conv1/Conv`, `/act1/Mul_2`, `/bn3/BatchNormalization`). BatchNorm
is folded into the layer before it (the exporter already folded it into the convolutions) and
replaced by the identity, so the rebuilt network computes exactly what the file computes and
stays that way in training mode (no batch statistics). Only the chain networks (henet,
tenseal-tutorial, cryptonets) with quadratic activations are supported.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .activations import PolyActivation
from .convert import replace_relu
from .models import CryptoNetsNet, HENet, TenSEALTutorialNet


class LoadError(ValueError):
    """A model folder this loader cannot rebuild."""


def build(summary: dict, channels: int, side: int, widths: dict[str, int] | None = None) -> nn.Module:
    """The summary's network with polynomial activations and BatchNorm as identity. `widths`
    (module -> output width, read from the file by `file_widths`) overrides the summary's
    `width1`, `width2`, `hidden`: a derived file (hetrain.prune's summary has none of them) or a
    shrunk one (hetrain.shrink: fewer fc1 neurons than the summary's `hidden`)."""
    arch, args = summary.get("arch", "henet"), summary["args"]
    widths = widths or {}
    if arch == "tenseal-tutorial":
        return TenSEALTutorialNet(channels, side, widths.get("conv1", 4), widths.get("fc1", 64))
    if arch == "cryptonets":
        return CryptoNetsNet(channels, side, widths.get("conv1", 5), widths.get("fc1", 100))
    if arch != "henet":
        raise LoadError(f"arch {arch!r}: only the chain networks (henet, tenseal-tutorial, cryptonets) can be rebuilt")
    try:
        w1, w2, hidden = (int(widths[m]) if m in widths else int(args[k])
                          for m, k in (("conv1", "width1"), ("conv2", "width2"), ("fc1", "hidden")))
    except (KeyError, TypeError, ValueError):
        raise LoadError("the widths of conv1, conv2 and fc1 are neither in the file nor in the summary's args") from None
    model = HENet(channels, side, w1, w2, hidden)
    replace_relu(model, lambda _n, c: PolyActivation(c), model.activation_channels)
    for name in ("bn1", "bn2", "bn3"):
        setattr(model, name, nn.Identity())
    return model


def metadata(path: Path) -> dict:
    """The he_tool.* metadata_props of an ONNX file, JSON-decoded."""
    import onnx
    proto = onnx.load(str(path), load_external_data=False)
    return {p.key: json.loads(p.value) for p in proto.metadata_props}


def load_folder(folder: Path) -> tuple[nn.Module, dict, dict]:
    """(network, training summary, metadata) of a bundled model folder; the network reproduces
    model.onnx (checked against onnxruntime on random inputs)."""
    folder = Path(folder)
    summary = json.loads((folder / "training-summary.json").read_text())
    meta = metadata(folder / "model.onnx")
    channels, side, _ = meta["he_tool.preprocessing"]["input_shape"]
    model = build(summary, channels, side, file_widths(folder / "model.onnx"))
    load_weights(model, folder / "model.onnx")
    check_against_onnx(model, folder / "model.onnx", (channels, side, side))
    return model, summary, meta


def file_widths(path: Path) -> dict[str, int]:
    """module -> output width (first extent of the weight) of every Conv and Gemm node of a file."""
    import onnx

    proto = onnx.load(str(path))
    shapes = {i.name: list(i.dims) for i in proto.graph.initializer}
    out = {}
    for node in proto.graph.node:
        if node.op_type in ("Conv", "Gemm") and node.input[1] in shapes:
            out[".".join(node.name.strip("/").split("/")[:-1])] = int(shapes[node.input[1]][0])
    return out


@torch.no_grad()
def load_weights(model: nn.Module, path: Path) -> None:
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    inits = {i.name: numpy_helper.to_array(i).astype(np.float32) for i in graph.initializer}
    last_linear = None
    for node in graph.node:
        parts = node.name.strip("/").split("/")
        module = model.get_submodule(".".join(parts[:-1])) if len(parts) > 1 else None
        op = parts[-1]
        if node.op_type in ("Conv", "Gemm"):
            if node.op_type == "Gemm":
                attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
                if attrs.get("transB", 0) != 1 or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
                    raise LoadError(f"{node.name}: a Gemm other than x·Wᵀ + b")
            module.weight.copy_(torch.from_numpy(inits[node.input[1]]))
            if len(node.input) > 2:
                module.bias.copy_(torch.from_numpy(inits[node.input[2]]).reshape(module.bias.shape))
            else:
                module.bias.zero_()
            last_linear = module
        elif node.op_type == "BatchNormalization":
            eps = next((a.f for a in node.attribute if a.name == "epsilon"), 1e-5)
            g, b, mean, var = (inits[n] for n in node.input[1:5])
            scale = torch.from_numpy(g / np.sqrt(var + eps))
            last_linear.weight.mul_(scale.view(-1, *([1] * (last_linear.weight.dim() - 1))))
            last_linear.bias.copy_((last_linear.bias - torch.from_numpy(mean)) * scale + torch.from_numpy(b))
        elif isinstance(module, PolyActivation):
            if module.degree != 2:
                raise LoadError(f"{node.name}: only quadratic activations can be loaded")
            column = {"Mul": 2, "Mul_2": 1, "Add_1": 0}.get(op)
            if column is not None:
                value = next(inits[n] for n in node.input if n in inits)
                module.coefficients[:, column] = torch.from_numpy(value.reshape(-1))


@torch.no_grad()
def check_against_onnx(model: nn.Module, path: Path, input_shape: tuple[int, int, int], tolerance: float = 1e-4) -> float:
    """Largest difference, relative to the largest logit, between PyTorch and onnxruntime on
    four random inputs; raises LoadError above `tolerance`."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    model.eval()
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(4):
        x = rng.normal(size=(1, *input_shape)).astype(np.float32)
        expected = session.run(None, {"input": x})[0]
        got = model(torch.from_numpy(x)).numpy()
        worst = max(worst, float(np.abs(got - expected).max()) / max(float(np.abs(expected).max()), 1e-6))
    if worst > tolerance:
        raise LoadError(f"{path}: the rebuilt network differs from the file by {worst:.1e} (relative)")
    return worst
