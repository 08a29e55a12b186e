"""Shared by the random-weight "shape" scripts (pooled_cnn_shape.py, alexnet_shape.py): rescaling
layers to RMS 1, the preprocessing, and the export with he-tool's metadata, test images and
onnxruntime's logits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn


@torch.no_grad()
def rescale(model: nn.Sequential, batch: torch.Tensor) -> None:
    """Scales each convolution and dense layer so that its output has RMS 1 on `batch`."""
    x = batch
    for layer in model:
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            y = layer(x)
            factor = 1.0 / float(y.pow(2).mean().sqrt())
            layer.weight.mul_(factor)
            layer.bias.mul_(factor)
        x = layer(x)


def preprocess(pixels: np.ndarray, mean: list[float], std: list[float]) -> np.ndarray:
    """uint8 pixels (C x H x W) to pixel / 255, then (x - mean) / std per channel."""
    x = pixels.astype(np.float32) / 255.0
    return (x - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[:, None, None]


def export(model: nn.Module, example: torch.Tensor, out: Path, mean: list[float], std: list[float],
           images: list[np.ndarray]) -> None:
    """Writes `model` to `out` (opset 17, batch 1, the preprocessing in `he_tool.preprocessing`),
    and next to it image-K.npy for each of `images` (1 x C x H x W, preprocessed) and
    expected-logits.npy (onnxruntime's outputs), checked against torch."""
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, example, str(out), input_names=["input"], output_names=["logits"],
                      opset_version=17, dynamo=False)
    proto = onnx.load(str(out))
    entry = proto.metadata_props.add()
    entry.key, entry.value = "he_tool.preprocessing", json.dumps({"mean": mean, "std": std})
    onnx.save(proto, str(out))
    import onnxruntime as ort

    session = ort.InferenceSession(str(out))
    expected = []
    for k, image in enumerate(images):
        np.save(out.parent / f"image-{k}.npy", image)
        expected.append(session.run(None, {"input": image})[0][0])
        torch_out = model(torch.from_numpy(image)).detach().numpy()[0]
        print(f"image {k}: |onnxruntime - torch| <= {np.abs(expected[-1] - torch_out).max():.2e}")
    if images:
        np.save(out.parent / "expected-logits.npy", np.stack(expected))
    print(f"wrote {out} ({sum(p.numel() for p in model.parameters())} parameters)")
