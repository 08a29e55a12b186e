"""Dropping activations and merging the linear layers around them (for a depth budget).

A chain network is a list of stages: linear layer (with a flatten before it, for a dense
layer on an image), optional BatchNorm, optional activation. Removing a stage's activation
makes it and the next stage one affine map, which is exported as one layer, so the level of
the activation and the level of one linear layer are both saved:

- a run of convolutions becomes one convolution: kernel k1 + (k2 − 1)·s1, stride s1·s2,
  padding p1 + p2·s1 (BatchNorm folded). Exact away from the border; at the border the second
  convolution's zero padding is not the first one applied to padding, so fine-tuning follows;
- a run that contains a dense layer becomes flatten + one dense layer, computed exactly by
  applying the affine map to the basis vectors of its input.

The last BatchNorm of a run (the one before the kept activation) stays as a BatchNorm.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .models import HENet


@dataclass
class Stage:
    linear: nn.Module
    flatten: bool
    norm: nn.Module | None
    activation: str | None  # the activation's module name in the source network


def henet_stages(model: HENet) -> list[Stage]:
    return [Stage(model.conv1, False, model.bn1, "act1"), Stage(model.conv2, False, model.bn2, "act2"),
            Stage(model.fc1, True, model.bn3, "act3"), Stage(model.fc2, False, None, None)]


class MergedNet(nn.Module):
    """linear1 [-> norm1] [-> act] -> linear2 ... registered in forward order (so hetrain.convert
    and hetrain.activations see the layers in the right order). Activations keep their source
    names (`act2`), so the card says which were kept."""

    def __init__(self, parts: list[tuple[nn.Module, bool, nn.Module | None, str | None, nn.Module | None]]):
        super().__init__()
        self.order = []
        for i, (linear, flatten, norm, act_name, act) in enumerate(parts, start=1):
            if flatten:
                setattr(self, f"flatten{i}", nn.Flatten())
                self.order.append(f"flatten{i}")
            setattr(self, f"linear{i}", linear)
            self.order.append(f"linear{i}")
            if norm is not None:
                setattr(self, f"norm{i}", norm)
                self.order.append(f"norm{i}")
            if act is not None:
                setattr(self, act_name, act)
                self.order.append(act_name)
        self.activation_channels = {name: _channels(parts[i][0]) for i, (_, _, _, name, act) in enumerate(parts)
                                    if act is not None}

    def forward(self, x):
        for name in self.order:
            x = getattr(self, name)(x)
        return x


def _channels(linear: nn.Module) -> int:
    return linear.out_channels if isinstance(linear, nn.Conv2d) else linear.out_features


@torch.no_grad()
def _affine(stages: list[Stage]):
    """The run's map as a function (BatchNorms in eval mode; the last stage's norm excluded)."""
    def f(x):
        for i, s in enumerate(stages):
            if s.flatten or (isinstance(s.linear, nn.Linear) and x.dim() > 2):
                x = x.flatten(1)
            x = s.linear(x)
            if i < len(stages) - 1 and s.norm is not None:
                x = s.norm.eval()(x)
        return x
    return f


@torch.no_grad()
def _compose_convs(stages: list[Stage]) -> nn.Conv2d:
    conv = stages[0].linear
    w, b = conv.weight.clone(), (conv.bias.clone() if conv.bias is not None else torch.zeros(conv.out_channels))
    k, s, p = conv.kernel_size[0], conv.stride[0], conv.padding[0]
    for prev, nxt in zip(stages, stages[1:]):
        if prev.norm is not None:
            n = prev.norm
            scale = n.weight / torch.sqrt(n.running_var + n.eps)
            w = w * scale.view(-1, 1, 1, 1)
            b = (b - n.running_mean) * scale + n.bias
        c2 = nxt.linear
        w2, k2, s2, p2 = c2.weight, c2.kernel_size[0], c2.stride[0], c2.padding[0]
        kk = k + (k2 - 1) * s
        merged = torch.zeros(w2.shape[0], w.shape[1], kk, kk)
        for a in range(k2):
            for e in range(k2):
                merged[:, :, a * s:a * s + k, e * s:e * s + k] += torch.einsum("fm,mchw->fchw", w2[:, :, a, e], w)
        b = (c2.bias if c2.bias is not None else 0) + torch.einsum("fmae,m->f", w2, b)
        w, k, p, s = merged, kk, p + p2 * s, s * s2
    out = nn.Conv2d(w.shape[1], w.shape[0], k, stride=s, padding=p)
    out.weight.copy_(w)
    out.bias.copy_(b)
    return out


@torch.no_grad()
def merge_run(stages: list[Stage], input_shape: tuple[int, ...]) -> tuple[nn.Module, bool]:
    """One layer computing the run (before its last norm): (layer, whether a flatten precedes it)."""
    if len(stages) == 1:
        return stages[0].linear, stages[0].flatten
    if all(isinstance(s.linear, nn.Conv2d) for s in stages):
        return _compose_convs(stages), False
    f = _affine(stages)
    n = int(torch.tensor(input_shape).prod())
    zero = f(torch.zeros(1, *input_shape))
    basis = torch.eye(n).view(n, *input_shape)
    weight = torch.cat([f(basis[i:i + 512]) for i in range(0, n, 512)]) - zero
    out = nn.Linear(n, zero.shape[1])
    out.weight.copy_(weight.T)
    out.bias.copy_(zero[0])
    return out, len(input_shape) > 1


@torch.no_grad()
def merged_network(stages: list[Stage], keep: set[str], input_shape: tuple[int, int, int], activation_factory) -> MergedNet:
    """The network with only the activations in `keep`; `activation_factory(name, channels)`
    makes each kept one. Copies weights: the source network is left as it is."""
    import copy
    stages = [Stage(copy.deepcopy(s.linear), s.flatten, copy.deepcopy(s.norm), s.activation) for s in stages]
    parts, run, shape = [], [], input_shape
    x = torch.zeros(1, *input_shape)
    for s in stages:
        run.append(s)
        if s.activation in keep or s is stages[-1]:
            layer, flatten = merge_run(run, tuple(shape))
            norm = s.norm if s.activation in keep else None
            act = activation_factory(s.activation, _channels(layer)) if s.activation in keep else None
            parts.append((layer, flatten, norm, s.activation, act))
            x = layer(x.flatten(1) if flatten else x)
            shape = tuple(x.shape[1:])
            run = []
    return MergedNet(parts)
