"""Reading and amending an exported file: the weight initialiser of each module, extra metadata.

The exporter names each node after its module (`/conv2/Conv`, `/fc1/Gemm`) but its weight
initialiser freely (`conv2.weight`, or `onnx::Conv_84` once BatchNorm is folded in), so the
block metadata is completed after export from the file itself.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def weight_initializers(proto) -> dict[str, tuple[str, str]]:
    """module name (`conv2`, `block1.conv1`) -> (node name, weight initialiser name) for every
    Conv and Gemm node."""
    out = {}
    for node in proto.graph.node:
        if node.op_type in ("Conv", "Gemm"):
            module = ".".join(node.name.strip("/").split("/")[:-1])
            out[module] = (node.name, node.input[1])
    return out


def initializer_arrays(proto) -> dict:
    from onnx import numpy_helper
    return {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}


def replace_props(proto, values: dict) -> None:
    """Sets (or replaces) metadata_props keys of a loaded ONNX model, JSON-encoding each value."""
    keep = [p for p in proto.metadata_props if p.key not in values]
    del proto.metadata_props[:]
    proto.metadata_props.extend(keep)
    for key, value in values.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)


def set_metadata(path: Path, values: dict) -> None:
    """Sets (or replaces) metadata_props keys of an ONNX file, JSON-encoding each value, and
    rewrites it atomically (temporary file, then rename)."""
    import onnx

    path = Path(path)
    proto = onnx.load(str(path))
    replace_props(proto, values)
    onnx.checker.check_model(proto)
    tmp = path.with_name(f".{path.name}.tmp")
    onnx.save(proto, str(tmp))
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
