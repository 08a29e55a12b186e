"""A small CIFAR-shaped CNN with average pooling and random weights, as ONNX, for sizing he-tool.

Not a trained model: its outputs mean nothing. It is issue 17's first example network, the
class where pooling and strided steps used to blow up (105 s per image, 13.5 GB):

    input 3 x 32 x 32
    conv 3x3, 3 -> 16, padding 1 -> a*x^2 + b*x + c per channel -> avgpool 2x2
    conv 3x3, 16 -> 32, padding 1 -> quadratic per channel -> avgpool 2x2
    conv 3x3, 32 -> 64, padding 1 -> quadratic per channel -> global average pool
    flatten -> dense 64 -> 10

The quadratics are the training toolkit's `PolyActivation` (spelled a*x*x + b*x + c, which
he-tool fuses into one polynomial layer) with random coefficients a in [0.05, 0.2], b in
[0.5, 1], c in [0.1, 0.3]. Weights are PyTorch's default initialisation (seeded), then each
convolution is rescaled on a batch of random images so that its output has RMS 1, and the
dense layer so that the logits have RMS 1.

Input: random uint8 pixels, pixel / 255 then (x - mean) / std with CIFAR-10's channel
statistics, recorded in the `he_tool.preprocessing` metadata.

    python Examples/pooled_cnn_shape.py --out /tmp/pooled/pooled-cnn.onnx --images 2

writes pooled-cnn.onnx (opset 17, batch 1), and with --images N next to it image-K.npy
(1 x 3 x 32 x 32 float32, preprocessed) and expected-logits.npy (N x 10, onnxruntime's
outputs). Needs torch, onnx, numpy, onnxruntime and the toolkit (Examples/training).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from shape_export import export, preprocess, rescale

sys.path.insert(0, str(Path(__file__).resolve().parent / "training"))
from hetrain.activations import PolyActivation  # noqa: E402

MEAN = [0.4914, 0.4822, 0.4465]
STD = [0.2470, 0.2435, 0.2616]


def quadratic(channels: int, rng: torch.Generator) -> PolyActivation:
    c = torch.empty(channels, 3)
    c[:, 2] = torch.empty(channels).uniform_(0.05, 0.2, generator=rng)
    c[:, 1] = torch.empty(channels).uniform_(0.5, 1.0, generator=rng)
    c[:, 0] = torch.empty(channels).uniform_(0.1, 0.3, generator=rng)
    return PolyActivation(channels, 2, c)


def build(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed + 1)
    layers: list[nn.Module] = []
    channels = [3, 16, 32, 64]
    for i in range(3):
        layers += [nn.Conv2d(channels[i], channels[i + 1], 3, padding=1), quadratic(channels[i + 1], rng)]
        layers.append(nn.AvgPool2d(2) if i < 2 else nn.AdaptiveAvgPool2d(1))
    layers += [nn.Flatten(), nn.Linear(64, 10)]
    return nn.Sequential(*layers)




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--images", type=int, default=0)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    model = build(args.seed).eval()
    calibration = torch.from_numpy(np.stack([preprocess(rng.integers(0, 256, (3, 32, 32)), MEAN, STD) for _ in range(32)]))
    rescale(model, calibration)
    images = [preprocess(rng.integers(0, 256, (3, 32, 32)), MEAN, STD)[None] for _ in range(args.images)]
    export(model, calibration[:1], args.out, MEAN, STD, images)

if __name__ == "__main__":
    main()
