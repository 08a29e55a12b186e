"""ONNX export (opset 17, batch 1) with the metadata he-tool reads, checked by onnxruntime.

metadata_props written (every value is JSON):
  he_tool.preprocessing            {"scale": 1/255, "mean": [...], "std": [...], "layout": "NCHW",
                                    "input_shape": [C, H, W]}: x = (pixel * scale - mean) / std
  he_tool.class_names              ["0", "1", ...], one per output
  he_tool.activation_ranges        [B1, B2, ...]: each polynomial activation (network order) was
                                   trained for inputs in [-B, B]; he-tool's range audit reads it
  he_tool.activation_observed_max  [m1, m2, ...]: the largest |x| each saw on the training set
  he_tool.toolkit                  the toolkit version that wrote the file
  he_tool.block_pruning            (hetrain.prune) the plaintext blocks zeroed in each layer
  he_tool.budgets                  (hetrain.budgets) nested budgets: per budget the blocks to
                                   zero, the activations kept, depth and accuracy
  he_tool.shrink                   (hetrain.shrink, hetrain.prune --shrink) the dead dense neurons
                                   removed: per run of layers, the neurons kept
(the last three are described in Examples/training/README.md)
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from . import __version__

OPSET = 17


class ExportError(RuntimeError):
    """The exported file does not reproduce the PyTorch model."""


def export_onnx(model: torch.nn.Module, input_shape: tuple[int, int, int], path: Path, *,
                preprocess: dict, class_names: list[str], activation_ranges: list[dict],
                check_inputs: np.ndarray, tolerance: float = 1e-4, extra_metadata: dict | None = None) -> float:
    """Exports `model` (eval mode, batch 1) to `path` with he-tool's metadata.

    The file is written to a temporary name, loaded back with onnxruntime and run on each of
    `check_inputs` (N x C x H x W float32, already preprocessed); only if every output matches
    PyTorch's within `tolerance` (relative to the largest logit) is it renamed into place.
    Returns the largest relative difference seen. `extra_metadata` adds keys (JSON-encoded
    like the others), e.g. `he_tool.block_pruning` or `he_tool.budgets` (hetrain.prune, hetrain.budgets).
    """
    import onnx
    import onnxruntime as ort

    path = Path(path)
    model = model.eval()
    dummy = torch.zeros(1, *input_shape)
    fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=".onnx", dir=path.parent)
    os.close(fd)
    try:
        torch.onnx.export(model, (dummy,), tmp, opset_version=OPSET, input_names=["input"],
                          output_names=["logits"], do_constant_folding=True, dynamo=False)
        proto = onnx.load(tmp)
        drop_identities(proto.graph)
        metadata = {
            "he_tool.preprocessing": preprocess,
            "he_tool.class_names": class_names,
            "he_tool.activation_ranges": [r["range"][1] for r in activation_ranges],
            "he_tool.activation_observed_max": [r["observed_max_abs"] for r in activation_ranges],
            "he_tool.toolkit": __version__,
            **(extra_metadata or {}),
        }
        for key, value in metadata.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, json.dumps(value)
        proto.producer_name = "he-tool training toolkit"
        onnx.checker.check_model(proto)
        onnx.save(proto, tmp)

        session = ort.InferenceSession(tmp, providers=["CPUExecutionProvider"])
        worst = 0.0
        with torch.no_grad():
            for x in check_inputs:
                x = np.asarray(x, dtype=np.float32)[None]
                expected = model(torch.from_numpy(x)).numpy()
                got = session.run(None, {"input": x})[0]
                scale = max(float(np.abs(expected).max()), 1e-6)
                worst = max(worst, float(np.abs(got - expected).max()) / scale)
        if worst > tolerance:
            raise ExportError(f"onnxruntime differs from PyTorch by {worst:.2e} (relative), above {tolerance:.0e}")
        os.chmod(tmp, 0o644)  # a model is not a secret; mkstemp made it owner-only
        os.replace(tmp, path)
        return worst
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def drop_identities(graph) -> int:
    """Bypasses Identity nodes (the exporter writes one for each initialiser it deduplicated,
    e.g. two activations with equal coefficients): their readers read the source instead.
    An Identity that produces a graph output is kept. Returns how many were removed."""
    outputs = {o.name for o in graph.output}
    source: dict[str, str] = {}
    kept = []
    for node in graph.node:
        if node.op_type == "Identity" and node.output[0] not in outputs:
            source[node.output[0]] = source.get(node.input[0], node.input[0])
        else:
            kept.append(node)
    for node in kept:
        for i, name in enumerate(node.input):
            if name in source:
                node.input[i] = source[name]
    removed = len(graph.node) - len(kept)
    del graph.node[:]
    graph.node.extend(kept)
    return removed


def onnx_accuracy(path: Path, images: np.ndarray, labels: np.ndarray, batch: int = 1) -> float:
    """Top-1 accuracy of an exported model under onnxruntime on preprocessed float32 images."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    correct = 0
    for i in range(0, len(images), batch):
        x = np.asarray(images[i:i + batch], dtype=np.float32)
        logits = session.run(None, {"input": x})[0]
        correct += int((logits.argmax(axis=1) == labels[i:i + batch]).sum())
    return correct / len(images)
