"""The linear layers of a PyTorch chain network as he-tool lowers them (hetrain.tiling.LinearLayer).

Found by running the model once on a zero input with forward hooks, so the shapes are the
ones the exported graph has: a Conv2d with its input image, an nn.Linear after a Flatten as the
convolution whose kernel covers the flattened C x H x W tensor, an nn.Linear on a vector as a
1 x 1 convolution.
"""

from __future__ import annotations

import torch
from torch import nn

from .tiling import LinearLayer


@torch.no_grad()
def linear_layers(model: nn.Module, input_shape: tuple[int, int, int]) -> list[tuple[nn.Module, LinearLayer]]:
    """(module, LinearLayer) for every Conv2d and Linear, in the order the forward pass runs them."""
    names = {m: n for n, m in model.named_modules()}
    found: list[tuple[nn.Module, LinearLayer]] = []
    flattened: list[tuple[int, int, int] | None] = [None]

    def hook(module, inputs, _output):
        x = inputs[0]
        name = names[module]
        if isinstance(module, nn.Flatten):
            flattened[0] = tuple(x.shape[1:]) if x.dim() == 4 else None
        elif isinstance(module, nn.Conv2d):
            if module.groups != 1 or module.dilation != (1, 1) or module.kernel_size[0] != module.kernel_size[1] \
                    or module.stride[0] != module.stride[1] or module.padding[0] != module.padding[1]:
                raise ValueError(f"{name}: only square, ungrouped, undilated convolutions are supported")
            found.append((module, LinearLayer(name, module.out_channels, module.in_channels, module.kernel_size[0],
                                              module.stride[0], module.padding[0], x.shape[2], x.shape[3], False)))
            flattened[0] = None
        elif isinstance(module, nn.Linear):
            c, h, w = flattened[0] if flattened[0] is not None else (module.in_features, 1, 1)
            if h != w or c * h * w != module.in_features:
                raise ValueError(f"{name}: a dense layer on a {c}x{h}x{w} input is not a square full-image convolution")
            found.append((module, LinearLayer(name, module.out_features, c, h, 1, 0, h, w, True)))
            flattened[0] = None

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Flatten))]
    was_training = model.training
    model.eval()
    try:
        model(torch.zeros(1, *input_shape))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return found
