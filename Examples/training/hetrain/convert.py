"""Network surgery for HE: MaxPool to AvgPool, ReLU to polynomial, and the depth report."""

from __future__ import annotations

from typing import Callable

from torch import nn

from .activations import PolyActivation, ReLUToPoly, Square


def maxpool_to_avgpool(model: nn.Module) -> nn.Module:
    """Replaces every MaxPool2d by an AvgPool2d of the same window, stride and padding (in place).

    Average pooling is linear, so it costs no multiplicative depth under CKKS; max is not
    evaluable at all. Fine-tune afterwards: the network's statistics change.
    """
    for name, child in list(model.named_children()):
        if isinstance(child, nn.MaxPool2d):
            if child.dilation not in (1, (1, 1)) or child.ceil_mode:
                raise ValueError(f"{name}: MaxPool2d with dilation or ceil_mode has no AvgPool2d equivalent")
            setattr(model, name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding,
                                              count_include_pad=True))
        else:
            maxpool_to_avgpool(child)
    return model


def replace_relu(model: nn.Module, factory: Callable[[str, int], nn.Module], channels: dict[str, int]) -> nn.Module:
    """Replaces each nn.ReLU named in `channels` by factory(name, channel count) (in place)."""
    def walk(module: nn.Module, prefix: str):
        for name, child in list(module.named_children()):
            full = f"{prefix}{name}"
            if isinstance(child, nn.ReLU):
                if full not in channels:
                    raise ValueError(f"{full}: no channel count given for this ReLU")
                setattr(module, name, factory(full, channels[full]))
            else:
                walk(child, full + ".")
    walk(model, "")
    return model


def multiplicative_depth(model: nn.Module) -> dict:
    """The levels a CKKS evaluation of the model consumes, layer by layer.

    Convention (he-tool's): a convolution or dense layer is one plaintext product (1 level);
    pooling, flatten and batch norm fold into neighbours (0); a polynomial of degree d costs
    ceil(log2 d) levels for its powers plus one for its coefficients (folded into the next
    linear layer where possible, so reported separately); ReLU and MaxPool are not evaluable.

    Residual blocks (modules with a `shortcut` child, HEResNet's BasicBlock): the shortcut
    runs in parallel with the branch registered before it, and the addition costs nothing, so
    the depth is the longest path: the shortcut's layers are listed as "(shortcut, parallel)"
    and count only by what they exceed that branch.
    """
    shortcuts = {f"{name}.shortcut": name for name, m in model.named_modules()
                 if isinstance(getattr(m, "shortcut", None), nn.Module) and name}
    branch = {block: 0 for block in shortcuts.values()}
    parallel = {block: 0 for block in shortcuts.values()}
    layers, depth, foldable = [], 0, 0
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            kind, levels, folds = type(module).__name__, 1, 0
        elif isinstance(module, (PolyActivation, ReLUToPoly)):
            poly = module.poly if isinstance(module, ReLUToPoly) else module
            kind, levels, folds = f"poly{poly.degree}", (poly.degree - 1).bit_length(), 1
        elif isinstance(module, Square):
            kind, levels, folds = "square", 1, 0  # no coefficients to fold
        elif isinstance(module, (nn.ReLU, nn.MaxPool2d)):
            layers.append((name, type(module).__name__ + " (not HE-evaluable)", None))
            continue
        else:
            continue
        inside = next((s for s in shortcuts if name.startswith(s + ".") or name == s), None)
        if inside is not None:
            parallel[shortcuts[inside]] += levels
            layers.append((name, kind + " (shortcut, parallel)", levels))
            continue
        block = next((b for b in shortcuts.values() if name.startswith(b + ".")), None)
        if block is not None and parallel[block] == 0:  # still before the shortcut: the branch
            branch[block] += levels
        layers.append((name, kind, levels))
        depth += levels
        foldable += folds
    depth += sum(max(0, parallel[b] - branch[b]) for b in branch)
    return {"layers": layers, "depth": depth, "coefficient_levels": foldable,
            "depth_without_folding": depth + foldable}


def inspect_depth(depth: dict) -> int:
    """The depth `he-tool inspect` prints for a chain, from a `multiplicative_depth` report: each
    linear layer 1, a degree-d polynomial ceil(log2(d + 1)) (a quadratic 2, a cubic 2: it shows
    the graph before the coefficients fold), a plain square 1. Pooling, which inspect counts as
    1 and the toolkit as 0, is not in the report: for chains without pooling only."""
    total = 0
    for _, kind, levels in depth["layers"]:
        if levels is None or "parallel" in kind:
            continue
        total += int(kind[4:]).bit_length() if kind.startswith("poly") else levels  # = ceil(log2(d + 1))
    return total
