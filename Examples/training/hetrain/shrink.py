"""Removes dead neurons of dense → per-channel activation → dense runs, exactly ("shrink").

    python -m hetrain.shrink ../mnist-pruned-all --out ../mnist-pruned-shrunk

A dense layer (Gemm) whose output neuron j has an all-zero weight row outputs the constant
bias_j whatever the input; the per-channel activation after it (the exporter's Mul/Add chain,
a BatchNormalization too) turns that into the constant act_j(bias_j), which the next dense
layer multiplies by its column j. So the neuron can go: its contribution W2[:, j] · act_j(bias_j)
is added to the next layer's bias, and row j of the first layer, channel j of every per-channel
constant of the activation and column j of the next layer are deleted. A neuron whose column in
the next layer is all zero is deleted too (it contributes nothing). The result computes the
same logits (up to float rounding) with fewer neurons: after `hetrain.prune --groups
fc1=filters` the wholly zero output tiles of fc1 disappear, and with them the activation's and
fc2's work on those tiles, which the engine's zero-skipping cannot remove (a zero row still
has a non-zero bias, hence a non-zero activation output).

Only dense → elementwise → dense runs are shrunk: the first layer a Gemm x·Wᵀ + b (`transB` 1),
every node between a Mul, Add, Sub, Div or BatchNormalization whose other inputs are constants
per channel (last axis of length C) or scalars, whose outputs are read only inside the run, and
the run ending in exactly one Gemm of the same kind reading it as its input. Convolutions are
left alone (a dead filter's output is constant per channel but the padding of the next
convolution sees zeros at the border, so its contribution is not a bias).

Works on the ONNX file (numpy and onnx only; onnxruntime for the checks), so any toolkit file
can be shrunk: the file written is checked against the source on random inputs (and the test
images when given) within `tolerance`, relative to the largest logit. Metadata: the
`he_tool.*` keys the exporter wrote are kept (the activations keep their order and ranges);
`he_tool.block_pruning` layers that name a shrunk weight get its new shape in their geometry and
their `zeroed` read back from the new weight; `he_tool.shrink` records what was removed (format
in the README). A file with `he_tool.budgets` is refused (each budget has other dead neurons).

As a command on a model folder (the output folder gets model.onnx, training-summary.json,
model-card.md and the source's test PNGs): the source's and the result's onnxruntime accuracy
on the full test split of the summary's dataset are measured and must agree.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from .onnxmeta import replace_props

#: Elementwise nodes a run may hold between the two dense layers.
ELEMENTWISE = {"Mul", "Add", "Sub", "Div", "BatchNormalization"}


class ShrinkError(ValueError):
    """A file this step cannot shrink, or a result that differs from its source."""


def _attrs(node) -> dict:
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _plain_gemm(node, inits) -> bool:
    """x·Wᵀ + b with W (and b, when present) initialisers."""
    if node.op_type != "Gemm" or len(node.input) < 2 or node.input[1] not in inits:
        return False
    a = _attrs(node)
    if a.get("transA", 0) != 0 or a.get("transB", 0) != 1 or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
        return False
    if inits[node.input[1]].ndim != 2:
        return False
    return len(node.input) < 3 or node.input[2] == "" or node.input[2] in inits


def _per_channel(array: np.ndarray, channels: int) -> bool:
    """A constant that broadcasts per channel against a [1, C] tensor: a scalar, or [..., C] with
    every other extent 1."""
    return array.size == 1 or (array.ndim >= 1 and array.shape[-1] == channels and array.size == channels)


def find_runs(graph) -> list[dict]:
    """Every dense → elementwise → dense run of the graph: dicts with the two Gemm nodes, the
    elementwise nodes between them (graph order) and the tensor the second Gemm reads."""
    from onnx import numpy_helper

    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    consumers = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)
    outputs = {o.name for o in graph.output}
    runs = []
    for first in graph.node:
        if not _plain_gemm(first, inits):
            continue
        channels = inits[first.input[1]].shape[0]
        if len(first.input) > 2 and first.input[2] and inits[first.input[2]].size != channels:
            continue
        tensors, region, queue, last, ok = {first.output[0]}, [], [first.output[0]], None, True
        while queue and ok:
            t = queue.pop()
            if t in outputs or not consumers[t]:
                ok = False
                break
            for node in consumers[t]:
                if node.op_type == "Gemm":
                    if last is not None and last is not node or list(node.input).count(t) != 1 or node.input[0] != t \
                            or not _plain_gemm(node, inits) or inits[node.input[1]].shape[1] != channels:
                        ok = False
                        break
                    last = node
                elif node.op_type in ELEMENTWISE:
                    if node not in region:
                        region.append(node)
                        tensors.add(node.output[0])
                        queue.append(node.output[0])
                else:
                    ok = False
                    break
        if not ok or last is None:
            continue
        for node in region:
            if len(node.output) != 1:
                ok = False
            elif node.op_type == "BatchNormalization":
                ok = ok and node.input[0] in tensors and all(
                    n in inits and inits[n].shape == (channels,) for n in node.input[1:5])
            else:
                ok = ok and len(node.input) == 2 and any(n in tensors for n in node.input) and all(
                    n in tensors or (n in inits and _per_channel(inits[n], channels)) for n in node.input)
        if not ok:
            continue
        order = {id(n): i for i, n in enumerate(graph.node)}
        region.sort(key=lambda n: order[id(n)])
        runs.append({"first": first, "nodes": region, "last": last, "channels": channels})
    return runs


def _evaluate(run: dict, inits: dict, value: np.ndarray) -> np.ndarray:
    """The elementwise nodes of `run` on the [1, C] tensor `value` (the first layer's output), in
    float64; returns the tensor the second Gemm reads."""
    values = {run["first"].output[0]: value.astype(np.float64)}

    def get(name):
        return values[name] if name in values else inits[name].astype(np.float64)
    for node in run["nodes"]:
        if node.op_type == "BatchNormalization":
            x, scale, bias, mean, var = (get(n) for n in node.input[:5])
            eps = _attrs(node).get("epsilon", 1e-5)
            out = (x - mean) / np.sqrt(var + eps) * scale + bias
        else:
            a, b = get(node.input[0]), get(node.input[1])
            out = {"Mul": np.multiply, "Add": np.add, "Sub": np.subtract, "Div": np.divide}[node.op_type](a, b)
        values[node.output[0]] = out
    return values[run["last"].input[0]]


def shrink_proto(proto) -> list[dict]:
    """Shrinks every dense → elementwise → dense run of `proto` in place (repeating until no neuron
    is dead); returns one record per run shrunk (see `he_tool.shrink` in the README)."""
    from onnx import numpy_helper

    graph = proto.graph
    if any(p.key == "he_tool.budgets" for p in proto.metadata_props):
        raise ShrinkError("the file has he_tool.budgets: each budget zeroes other blocks, so no neuron is dead in all "
                          "of them; shrink a file exported for one budget instead")
    records: dict[str, dict] = {}
    while True:
        inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        changed = False
        for run in find_runs(graph):
            first, last, channels = run["first"], run["last"], run["channels"]
            w1, w2 = inits[first.input[1]], inits[last.input[1]]
            has_b1 = len(first.input) > 2 and first.input[2] != ""
            b1 = inits[first.input[2]].reshape(-1) if has_b1 else np.zeros(channels, w1.dtype)
            zero_rows = ~np.any(w1 != 0, axis=1)
            zero_columns = ~np.any(w2 != 0, axis=0)
            dead = zero_rows | zero_columns
            if not dead.any():
                continue
            if dead.all():  # keep one neuron so that the graph keeps its shape
                dead[int(np.flatnonzero(zero_rows)[0]) if zero_rows.any() else 0] = False
                if not dead.any():
                    continue
            live = np.flatnonzero(~dead)
            constant = _evaluate(run, inits, b1[None, :])[0]          # act_j(bias_j) for every j
            folded = zero_rows & dead & ~zero_columns                   # the rest contribute 0
            has_b2 = len(last.input) > 2 and last.input[2] != ""
            b2 = inits[last.input[2]] if has_b2 else np.zeros(w2.shape[0], w2.dtype)
            extra = w2[:, folded].astype(np.float64) @ constant[folded]
            new_b2 = (b2.astype(np.float64) + extra.reshape(b2.shape)).astype(b2.dtype)

            uses = defaultdict(int)
            for node in graph.node:
                for name in node.input:
                    uses[name] += 1
            inside_uses = defaultdict(int)
            for node in (first, last, *run["nodes"]):
                for name in node.input:
                    inside_uses[name] += 1

            def put(node, index, array, base_name):
                """Writes `array` as `node`'s input `index`: in place when nothing outside the run
                reads that initialiser, else as a new one."""
                name = node.input[index] if index < len(node.input) and node.input[index] else base_name
                if name in inits and uses[name] != inside_uses[name]:
                    k, fresh = 1, f"{name}.shrunk"
                    while fresh in inits:
                        k, fresh = k + 1, f"{name}.shrunk{k}"
                    name = fresh
                tensor = numpy_helper.from_array(np.ascontiguousarray(array), name)
                kept = [i for i in graph.initializer if i.name != name]
                del graph.initializer[:]
                graph.initializer.extend(kept + [tensor])
                while len(node.input) <= index:
                    node.input.append("")
                for n in (first, last, *run["nodes"]):   # every reader inside the run reads the new one
                    for i, old in enumerate(n.input):
                        if old == node.input[index] and n is not node:
                            n.input[i] = name
                node.input[index] = name
                inits[name] = array

            put(first, 1, w1[live], first.name.strip("/").replace("/", ".") + ".weight")
            if has_b1:
                put(first, 2, inits[first.input[2]].reshape(-1)[live].reshape(-1), first.input[2])
            done = set()
            for node in run["nodes"]:
                indices = range(1, 5) if node.op_type == "BatchNormalization" else range(len(node.input))
                for i in indices:
                    name = node.input[i]
                    if name in inits and name not in done and inits[name].size == channels and channels > 1:
                        array = inits[name]
                        put(node, i, array.reshape(-1)[live].reshape(*array.shape[:-1], len(live)), name)
                        done.add(node.input[i])
            put(last, 1, w2[:, live], last.name.strip("/").replace("/", ".") + ".weight")
            put(last, 2, new_b2, last.name.strip("/").replace("/", ".") + ".bias")
            touched = {first.output[0], *(n.output[0] for n in run["nodes"])}
            kept_info = [v for v in graph.value_info if v.name not in touched]
            del graph.value_info[:]
            graph.value_info.extend(kept_info)

            key = first.name
            previous = records.get(key)
            original = previous["kept"] if previous else list(range(channels))
            records[key] = {
                "layer": first.name, "next": last.name, "activation_nodes": [n.name for n in run["nodes"]],
                "channels": previous["channels"] if previous else channels,
                "kept": [original[i] for i in live],
                "zero_rows": (previous["zero_rows"] if previous else 0) + int(zero_rows.sum()),
                "zero_columns_only": (previous["zero_columns_only"] if previous else 0) + int((zero_columns & ~zero_rows).sum()),
                "weight": first.input[1], "next_weight": last.input[1], "next_bias": last.input[2],
            }
            changed = True
            break   # the graph changed: find the runs again
        if not changed:
            break
    # drop initialisers nothing reads any more (the originals of copies)
    read = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    kept = [i for i in graph.initializer if i.name in read]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return list(records.values())


def update_block_pruning(record: dict, proto, runs: list[dict]) -> dict:
    """`he_tool.block_pruning` after shrinking: each layer whose weight is a shrunk run's first
    (or next) layer gets the new first (or second) extent in its geometry's shape, its block count,
    its initialiser's new name and `zeroed` read back from the new weight."""
    from .blocks import BlockGeometry, zero_blocks
    from onnx import numpy_helper

    arrays = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    nodes = {n.name: n for n in proto.graph.node}
    out = json.loads(json.dumps(record))
    for layer in out.get("layers", []):
        node = nodes.get(layer["layer"])
        if node is None or node.op_type != "Gemm":
            continue
        shrunk = any(layer["layer"] in (r["layer"], r["next"]) for r in runs)
        if not shrunk:
            continue
        weight = arrays[node.input[1]]
        geo = dict(layer["geometry"])
        shape = list(geo["shape"])
        if weight.shape[0] != shape[0] or weight.size != int(np.prod(shape)):
            shape[0] = int(weight.shape[0])
            if weight.shape[1] != int(np.prod(shape[1:])):
                if shape[2:] != [1, 1]:
                    raise ShrinkError(f"{layer['layer']}: its input shrank but its geometry {geo['shape']} is a "
                                      "flattened image (only a dense layer on a vector can lose input channels)")
                shape[1] = int(weight.shape[1])
        geo["shape"] = shape
        g = BlockGeometry.from_json(geo)
        layer["geometry"] = g.to_json()
        layer["initializer"] = node.input[1]
        layer["blocks"] = g.count
        layer["zeroed"] = zero_blocks(weight, g)
    return out


def _metadata(proto) -> dict:
    return {p.key: json.loads(p.value) for p in proto.metadata_props}


def largest_difference(a_path: Path, b_path: Path, inputs: np.ndarray) -> float:
    """Largest |logit difference| of two files over `inputs` (N x C x H x W), relative to the
    largest |logit| of the first."""
    import onnxruntime as ort
    a = ort.InferenceSession(str(a_path), providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(str(b_path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for x in inputs:
        x = np.asarray(x, dtype=np.float32)[None]
        ya, yb = a.run(None, {"input": x})[0], b.run(None, {"input": x})[0]
        worst = max(worst, float(np.abs(ya - yb).max()) / max(float(np.abs(ya).max()), 1e-6))
    return worst


def shrink_file(source: Path, target: Path, check_inputs: np.ndarray | None = None,
                tolerance: float = 1e-5) -> list[dict]:
    """Writes the shrunk `source` to `target` (may be the same path; temporary file, then
    rename) after checking it against `source` on 8 random inputs and `check_inputs`; returns the
    runs shrunk (empty: the file is copied unchanged)."""
    import onnx

    source, target = Path(source), Path(target)
    proto = onnx.load(str(source))
    runs = shrink_proto(proto)
    meta = _metadata(proto)
    values = {}
    if runs:
        values["he_tool.shrink"] = {"format": 1, "runs": [
            {k: r[k] for k in ("layer", "next", "activation_nodes", "channels", "kept", "zero_rows", "zero_columns_only")}
            for r in runs]}
    if runs and "he_tool.block_pruning" in meta:
        values["he_tool.block_pruning"] = update_block_pruning(meta["he_tool.block_pruning"], proto, runs)
    replace_props(proto, values)
    onnx.checker.check_model(proto)
    shape = meta["he_tool.preprocessing"]["input_shape"]
    inputs = np.random.default_rng(0).normal(size=(8, *shape)).astype(np.float32)
    if check_inputs is not None:
        inputs = np.concatenate([inputs, np.asarray(check_inputs, dtype=np.float32)])
    fd, tmp = tempfile.mkstemp(prefix=".shrink-", suffix=".onnx", dir=target.parent)
    os.close(fd)
    try:
        onnx.save(proto, tmp)
        worst = largest_difference(source, Path(tmp), inputs)
        if worst > tolerance:
            raise ShrinkError(f"the shrunk file differs from {source} by {worst:.2e} (relative), above {tolerance:.0e}")
        for r in runs:
            r["checked_relative_difference"] = worst
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return runs


def weight_count(path: Path) -> int:
    """Elements of every initialiser of a file."""
    import onnx
    from onnx import numpy_helper
    return int(sum(numpy_helper.to_array(i).size for i in onnx.load(str(path)).graph.initializer))


def _test_set(dataset: str, data: Path, preprocessing: dict, limit: int = 0):
    from . import data as datasets
    images, labels = datasets.load_split(dataset, "test", data)
    if limit:
        images, labels = images[:limit], labels[:limit]
    mean = np.asarray(preprocessing["mean"], np.float32).reshape(1, -1, 1, 1)
    std = np.asarray(preprocessing["std"], np.float32).reshape(1, -1, 1, 1)
    x = (images.astype(np.float32) / 255.0 - mean) / std
    return images, x.astype(np.float32), labels


def _predictions(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.concatenate([session.run(None, {"input": x[i:i + 1]})[0].argmax(axis=1) for i in range(len(x))])


def render_card(summary: dict, source_card: str, command: list[str]) -> str:
    import shlex
    pct = lambda v: f"{100 * v:.2f}%"  # noqa: E731
    s = summary["shrink"]
    lines = [f"# {summary['dataset']}: {summary.get('variant_of', 'the source model')} with its dead neurons removed", "",
             f"`{s['source']}/model.onnx` shrunk by `hetrain.shrink`: every output neuron of a dense layer whose weight "
             "row is all zero outputs the constant bias, the per-channel activation after it a constant too, which "
             "the next dense layer's bias now holds; the neuron, its activation channel and the next layer's input "
             "column are gone. Exact: the same function, a smaller network (onnxruntime agrees with the source within "
             f"{s['checked_relative_difference']:.1e} of the largest logit on {s['checked_inputs']} inputs; the top-1 "
             f"predictions on the {summary['test_images']:,} test images differ in {s['predictions_changed']}).", "",
             "## Accuracy", "", "| model | test images | top-1 (onnxruntime) |", "|---|---|---|"]
    if "base_onnxruntime_accuracy" in summary:
        lines.append(f"| unpruned base `{summary.get('base', '')}` | {summary['test_images']:,} | "
                     f"{pct(summary['base_onnxruntime_accuracy'])} |")
    lines += [f"| source `{s['source']}` | {summary['test_images']:,} | {pct(s['source_onnxruntime_accuracy'])} |",
              f"| **`model.onnx` (shrunk)** | {summary['test_images']:,} | **{pct(summary['onnxruntime_accuracy'])}** |", "",
              "## What was removed", "",
              "| layer → next layer | activation between | neurons | kept | zero weight rows (folded) | "
              "zero columns in the next layer only |", "|---|---|---|---|---|---|"]
    for r in s["runs"]:
        act = sorted({n.strip('/').split('/')[0] for n in r["activation_nodes"]})
        lines.append(f"| `{r['layer']}` → `{r['next']}` | {', '.join(act) or 'none'} | {r['channels']} | "
                     f"{len(r['kept'])} ({', '.join(map(str, r['kept']))}) | {r['zero_rows']} | {r['zero_columns_only']} |")
    lines += ["", f"Initialiser elements: {s['parameters_before']:,} → {s['parameters_after']:,}. The metadata keeps the "
              "source's keys; `he_tool.block_pruning` gives each shrunk layer its new shape and the blocks zero in it, "
              "`he_tool.shrink` lists the neurons kept (indices of the source's). The activation observed maxima "
              "(`he_tool.activation_observed_max`) are the source's: measured with the removed channels, an upper "
              "bound for the kept ones.", "",
              "## How it was made", "", "```sh", "cd Examples/training",
              " ".join(shlex.quote(c) for c in command), "```", "",
              f"{s['seconds']:.0f} s (the shrink and both accuracy runs). The source was made as its card, below, "
              "says.", "", "## The source model's card", ""]
    for line in source_card.splitlines():
        lines.append("#" + line if line.startswith("#") else line)
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", type=Path, help="a model folder (model.onnx, training-summary.json, model-card.md)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--data", type=Path, default=None, help="the shared data folder (default: hetrain.data's)")
    p.add_argument("--test-limit", type=int, default=0, help="measure on this many test images only (tests)")
    p.add_argument("--images", type=int, default=5, help="test PNGs to copy from the source folder")
    args = p.parse_args(argv)
    started = time.time()
    from . import data as datasets
    folder = args.model.parent if args.model.suffix == ".onnx" else args.model
    summary = json.loads((folder / "training-summary.json").read_text())
    import onnx
    meta = _metadata(onnx.load(str(folder / "model.onnx"), load_external_data=False))
    images, x, labels = _test_set(summary["dataset"], args.data or datasets.DEFAULT_DATA, meta["he_tool.preprocessing"],
                                  args.test_limit)
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "model.onnx"
    runs = shrink_file(folder / "model.onnx", target, check_inputs=x[:16])
    if not runs:
        raise SystemExit(f"{folder / 'model.onnx'}: no dense layer has a dead neuron; nothing to shrink")
    before, after = _predictions(folder / "model.onnx", x), _predictions(target, x)
    source_accuracy, accuracy = float((before == labels).mean()), float((after == labels).mean())
    changed = int((before != after).sum())
    for r in runs:
        print(f"{r['layer']} -> {r['next']}: {r['channels']} neurons, {len(r['kept'])} kept "
              f"({r['zero_rows']} zero rows folded into {r['next']}'s bias, {r['zero_columns_only']} unread)")
    print(f"onnxruntime top-1 on {len(x)} test images: source {source_accuracy:.4f}, shrunk {accuracy:.4f} "
          f"({changed} predictions differ); largest logit difference {runs[0]['checked_relative_difference']:.1e} (relative)")
    copied = []
    for png in sorted(folder.glob("test-*.png"))[:args.images]:
        shutil.copyfile(png, args.out / png.name)
        copied.append(png.name)
    out = dict(summary)
    out.update({
        "variant": f"{summary.get('variant', 'trained')}+shrunk", "variant_of": f"{summary.get('variant', 'trained')} model",
        "test_images": len(x), "onnxruntime_accuracy": accuracy, "parameters": weight_count(target),
        "shrink": {"source": str(folder), "source_onnxruntime_accuracy": source_accuracy, "predictions_changed": changed,
                   "checked_relative_difference": runs[0]["checked_relative_difference"], "checked_inputs": 8 + min(16, len(x)),
                   "parameters_before": weight_count(folder / "model.onnx"), "parameters_after": weight_count(target),
                   "runs": [{k: v for k, v in r.items() if k != "checked_relative_difference"} for r in runs],
                   "images": copied, "seconds": round(time.time() - started, 1),
                   "args": {k: str(v) for k, v in vars(args).items()}},
    })
    (args.out / "training-summary.json").write_text(json.dumps(out, indent=2) + "\n")
    command = ["python", "-m", "hetrain.shrink", *(argv if argv is not None else sys.argv[1:])]
    card = (folder / "model-card.md").read_text() if (folder / "model-card.md").exists() else ""
    (args.out / "model-card.md").write_text(render_card(out, card, command))
    if changed:
        raise ShrinkError(f"{changed} predictions changed: the shrunk file is not equivalent")
    return out


if __name__ == "__main__":
    main()
