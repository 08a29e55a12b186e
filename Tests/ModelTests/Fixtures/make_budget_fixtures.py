#!/usr/bin/env python3
"""Makes Fixtures/budgets/mnist-budgets.json: onnxruntime's logits of each budget's sub-network
of Examples/mnist-budgets/model.onnx on its five bundled PNGs, for `ModelBudgetsTests`. Run once
by whoever changes the example or the fixture (the tests never run Python):

    /tmp/trainvenv/bin/python Tests/ModelTests/Fixtures/make_budget_fixtures.py

The toolkit does not keep the per-budget ONNX files it measured, so each sub-network is rebuilt
here from the file and its `he_tool.budgets` metadata, independently of the engine: the listed
blocks zeroed with the README's block formula (numpy), every dropped activation bypassed in the
ONNX graph (its readers read its input), then run by onnxruntime in float32.

Besides the file's own budgets, a few extra ones (`extra_budgets` in the JSON, appended to the
metadata by the test) drop activations, which none of the bundled budgets does: act2 (a
convolution then a dense layer on either side), act3 (two dense layers, which the engine merges)
and all three (a linear network). Their accuracy_onnxruntime and test_images fields are
placeholders (0.5 of 10 images: they are checked for format, not measured); their depths are the
toolkit's convention (linear layers unmerged).
"""
import copy
import json
import os
import struct
import zlib

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "..", "..", "Examples", "mnist-budgets")
OUT = os.path.join(HERE, "budgets", "mnist-budgets.json")


def read_png_grey8(path):
    """The bundled PNGs: 8-bit greyscale, non-interlaced (all five PNG filters handled)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour == 0 and interlace == 0, header
    raw = zlib.decompress(idat)
    rows, prev = [], np.zeros(width, dtype=np.int64)
    for y in range(height):
        f = raw[y * (width + 1)]
        line = np.frombuffer(raw[y * (width + 1) + 1:(y + 1) * (width + 1)], dtype=np.uint8).astype(np.int64)
        out = np.zeros(width, dtype=np.int64)
        for x in range(width):
            a = out[x - 1] if x > 0 else 0
            b = prev[x]
            c = prev[x - 1] if x > 0 else 0
            if f == 0:
                p = 0
            elif f == 1:
                p = a
            elif f == 2:
                p = b
            elif f == 3:
                p = (a + b) // 2
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            out[x] = (line[x] + p) & 0xFF
        rows.append(out)
        prev = out
    return np.stack(rows)


def block_ids(geo):
    f, c, kh, kw = geo["shape"]
    tf, tc = geo["filters_per_block"], geo["channels_per_block"]
    rg, cg = np.asarray(geo["row_groups"]), np.asarray(geo["column_groups"])
    nc, nr, nx = -(-c // tc), rg.max() + 1, cg.max() + 1
    fi, ci = np.arange(f) // tf, np.arange(c) // tc
    return ((fi[:, None, None, None] * nc + ci[None, :, None, None]) * nr + rg[None, None, :, None]) * nx + cg[None, None, None, :]


def activation_ends(graph, name):
    """(input, output) tensor names of the activation whose nodes are named /NAME/…."""
    nodes = [n for n in graph.node if n.name.startswith(f"/{name}/")]
    produced = {o for n in nodes for o in n.output}
    inits = {i.name for i in graph.initializer}
    inputs = {i for n in nodes for i in n.input if i not in produced and i not in inits}
    assert len(inputs) == 1, (name, inputs)
    return inputs.pop(), nodes[-1].output[0]


def sub_network(model, meta, budget):
    m = copy.deepcopy(model)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    for layer in meta["layers"]:
        init = inits[layer["initializer"]]
        w = numpy_helper.to_array(init).copy()
        ids = block_ids(layer["geometry"]).reshape(w.shape)
        w[np.isin(ids, budget["zeroed"].get(layer["module"], []))] = 0
        init.CopyFrom(numpy_helper.from_array(w, init.name))
    for index, name in enumerate(meta["activations"]):
        if index in budget["kept_activations"]:
            continue
        source, output = activation_ends(g, name)
        for n in g.node:
            for k, i in enumerate(n.input):
                if i == output:
                    n.input[k] = source
        for o in g.output:
            assert o.name != output
    return m


def main():
    model = onnx.load(os.path.join(EXAMPLE, "model.onnx"))
    props = {p.key: p.value for p in model.metadata_props}
    meta = json.loads(props["he_tool.budgets"])
    pre = json.loads(props["he_tool.preprocessing"])
    pngs = sorted(f for f in os.listdir(EXAMPLE) if f.endswith(".png"))
    images = np.stack([(read_png_grey8(os.path.join(EXAMPLE, f)) / 255.0 - pre["mean"][0]) / pre["std"][0] for f in pngs])
    batch = images[:, None, :, :].astype(np.float32)
    b50 = next(b for b in meta["budgets"] if b["name"] == "b50")
    b75 = next(b for b in meta["budgets"] if b["name"] == "b75")
    extra = [
        {"name": "b50-no-act2", "ratio": 0.5, "kept_activations": [0, 2], "kept_activation_names": ["act1", "act3"],
         "depth": 6, "depth_without_folding": 8, "zeroed_blocks": b50["zeroed_blocks"], "pruned_layer_blocks": 64,
         "accuracy_onnxruntime": 0.5, "test_images": 10, "zeroed": b50["zeroed"]},
        {"name": "b75-no-act3", "ratio": 0.75, "kept_activations": [0, 1], "kept_activation_names": ["act1", "act2"],
         "depth": 6, "depth_without_folding": 8, "zeroed_blocks": b75["zeroed_blocks"], "pruned_layer_blocks": 64,
         "accuracy_onnxruntime": 0.5, "test_images": 10, "zeroed": b75["zeroed"]},
        {"name": "linear", "ratio": 0.0, "kept_activations": [], "kept_activation_names": [],
         "depth": 4, "depth_without_folding": 4, "zeroed_blocks": 0, "pruned_layer_blocks": 64,
         "accuracy_onnxruntime": 0.5, "test_images": 10, "zeroed": {"conv2": [], "fc1": []}},
    ]
    logits = {}
    for budget in meta["budgets"] + extra:
        sub = sub_network(model, meta, budget)
        session = ort.InferenceSession(sub.SerializeToString(), providers=["CPUExecutionProvider"])
        rows = [session.run(None, {session.get_inputs()[0].name: batch[i:i + 1]})[0][0] for i in range(len(pngs))]
        logits[budget["name"]] = [[float(v) for v in r] for r in rows]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"model": "Examples/mnist-budgets/model.onnx", "images": pngs,
                   "onnxruntime": ort.__version__, "extra_budgets": extra, "logits": logits}, f, indent=1)
    print(f"wrote {OUT}: {len(logits)} budgets × {len(pngs)} images")


if __name__ == "__main__":
    main()
