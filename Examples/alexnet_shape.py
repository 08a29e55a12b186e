"""AlexNet as torchvision defines it, made HE-friendly, with random weights, as ONNX, for sizing he-tool.

Not a trained model: its outputs mean nothing. It is issue 17's large network:

    input 3 x 224 x 224
    conv 11x11 stride 4 padding 2, 3 -> 64   -> x^2 -> avgpool 3x3 stride 2
    conv 5x5 padding 2, 64 -> 192            -> x^2 -> avgpool 3x3 stride 2
    conv 3x3 padding 1, 192 -> 384           -> x^2
    conv 3x3 padding 1, 384 -> 256           -> x^2
    conv 3x3 padding 1, 256 -> 256           -> x^2 -> avgpool 3x3 stride 2   (6 x 6 x 256)
    flatten -> dense 9216 -> 4096 -> x^2 -> dense 4096 -> 4096 -> x^2 -> dense 4096 -> 10

torchvision's ReLUs are x^2 and its max pools average pools; its AdaptiveAvgPool2d((6, 6)) is
the identity at 224 x 224 and is left out; dropout is the identity at inference. With
`--head conv-stack` the three dense layers are replaced by a global average pool over the
256 channels and one dense layer 256 -> 10 (the convolution stack alone).

Weights are PyTorch's default initialisation (seeded), then each convolution and dense layer
is rescaled on a batch of random images so that its output has RMS 1 (so every x^2 sees
values near 1 and the activations neither vanish nor explode).

Input: random uint8 pixels, pixel / 255 then (x - mean) / std with ImageNet's channel
statistics, recorded in the `he_tool.preprocessing` metadata.

    python Examples/alexnet_shape.py --out /tmp/alexnet/alexnet-shape.onnx --images 2

writes the model (opset 17, batch 1), and with --images N next to it image-K.npy
(1 x 3 x 224 x 224 float32, preprocessed) and expected-logits.npy (N x 10, onnxruntime's
outputs). Needs torch, onnx, numpy and onnxruntime; shares shape_export.py with pooled_cnn_shape.py.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch import nn

from shape_export import export, preprocess, rescale

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


class Square(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * x


def build(seed: int, head: str) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = [
        nn.Conv2d(3, 64, 11, stride=4, padding=2), Square(), nn.AvgPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), Square(), nn.AvgPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), Square(),
        nn.Conv2d(384, 256, 3, padding=1), Square(),
        nn.Conv2d(256, 256, 3, padding=1), Square(), nn.AvgPool2d(3, 2),
    ]
    if head == "full":
        layers += [nn.Flatten(), nn.Linear(9216, 4096), Square(), nn.Linear(4096, 4096), Square(),
                   nn.Linear(4096, 10)]
    else:
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, 10)]
    return nn.Sequential(*layers)




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--images", type=int, default=0)
    parser.add_argument("--head", choices=["full", "conv-stack"], default="full")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    model = build(args.seed, args.head).eval()
    calibration = torch.from_numpy(np.stack([preprocess(rng.integers(0, 256, (3, 224, 224)), MEAN, STD) for _ in range(8)]))
    rescale(model, calibration)
    images = [preprocess(rng.integers(0, 256, (3, 224, 224)), MEAN, STD)[None] for _ in range(args.images)]
    export(model, calibration[:1], args.out, MEAN, STD, images)

if __name__ == "__main__":
    main()
