"""Several budgets in one model (after AdaPI): one set of weights, nested block masks.

    python -m hetrain.budgets ../mnist --tile 8x16x8x8x1 --out ../mnist-budgets \
        --budgets full:0,b50:0.5,b75:0.75 [--layers conv2,fc1]

A budget is NAME:RATIO[:ACTS]: in each layer of `--layers` the fraction RATIO of its plaintext
blocks (hetrain.blocks, in the tiling or compile report given) is zeroed, and only the
activations ACTS (`+`-separated module names, default all) are kept, the others being the
identity. The masks are nested: one ranking of the blocks by RMS weight per layer, each budget
zeroing a prefix of it, so a budget's zeroed blocks contain those of every smaller ratio.
Training distils every budget's sub-network from the unpruned model at every step (the sum of
their losses, plus the range loss); the ratios ramp up from 0 over the first half of the
epochs, the ranking being recomputed from the shared weights at each epoch of the ramp.

The ONNX file holds the full weights and the metadata key `he_tool.budgets` (format in the
toolkit README): per budget its zeroed blocks, kept activations, depth and the accuracy its
sub-network reaches under onnxruntime on the test set, so `he-tool compile --budget NAME` can
zero those blocks and bypass those activations without retraining.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .activations import activation_modules
from .blocks import block_norms, element_mask, geometry
from .convert import multiplicative_depth
from .distill import distillation_loss
from .export import export_onnx, onnx_accuracy
from .finetune import add_common_arguments, finetune, measure_ranges, open_base, start, write_test_pngs, write_outputs
from .onnxmeta import set_metadata, weight_initializers
from .prune import step_layouts
from .ranges import RangeMonitor
from .train import accuracy
from .variantcard import render_budgets


def parse_budgets(text: str, activations: list[str]) -> list[dict]:
    """`full:0,b50:0.5,lite:0.75:act1+act3` -> [{"name", "ratio", "kept"}], checked."""
    out = []
    for item in text.split(","):
        parts = item.split(":")
        if len(parts) not in (2, 3) or not parts[0]:
            raise ValueError(f"budget '{item}': NAME:RATIO[:ACT+ACT...]")
        kept = activations if len(parts) == 2 else [a for a in parts[2].split("+") if a]
        unknown = [a for a in kept if a not in activations]
        ratio = float(parts[1])
        if unknown or not 0 <= ratio < 1:
            raise ValueError(f"budget '{item}': ratio in [0, 1), activations among {activations}")
        out.append({"name": parts[0], "ratio": ratio, "kept": [a for a in activations if a in kept]})
    if len({b["name"] for b in out}) != len(out):
        raise ValueError("budget names must differ")
    return out


class Bypass(nn.Module):
    """An activation that can be switched to the identity (a budget that drops it)."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner, self.on = inner, True

    def forward(self, x):
        return self.inner(x) if self.on else x


def ranking(modules: dict[str, nn.Module], geometries: dict) -> dict[str, list[int]]:
    """Per layer, block indices from smallest RMS weight to largest (the nesting order)."""
    return {n: [int(i) for i in np.argsort(block_norms(modules[n].weight.detach().numpy(), g), kind="stable")]
            for n, g in geometries.items()}


def zeroed_for(order: dict[str, list[int]], geometries: dict, ratio: float) -> dict[str, list[int]]:
    return {n: sorted(order[n][:int(round(ratio * g.count))]) for n, g in geometries.items()}


def sub_network(model: nn.Module, budget: dict, zeroed: dict, geometries: dict) -> nn.Module:
    """A copy of the plain network (Bypass unwrapped) with the budget's blocks zeroed and its
    dropped activations replaced by the identity: what the engine computes for that budget."""
    net = copy.deepcopy(model)
    for name, module in list(net.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, Bypass):
                full = f"{name}.{child_name}" if name else child_name
                setattr(module, child_name, child.inner if full in budget["kept"] else nn.Identity())
    modules = dict(net.named_modules())
    with torch.no_grad():
        for n, geo in geometries.items():
            keep = torch.from_numpy(element_mask(zeroed[n], geo).astype(np.float32)).reshape(modules[n].weight.shape)
            modules[n].weight.copy_(torch.where(keep.bool(), modules[n].weight, torch.zeros_like(modules[n].weight)))
    return net.eval()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", type=Path)
    p.add_argument("--out", type=Path, required=True)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--tile")
    where.add_argument("--plan", type=Path)
    p.add_argument("--no-space-to-depth", action="store_true")
    p.add_argument("--budgets", default="full:0,b50:0.5,b75:0.75")
    p.add_argument("--layers", default="conv2,fc1")
    p.add_argument("--epochs", type=int, default=6)
    add_common_arguments(p, lr=1e-3)
    args = p.parse_args(argv)
    started = time.time()
    generator, log = start(args)

    folder, model, base_summary, meta, data = open_base(args)
    teacher = copy.deepcopy(model).eval()
    x, y, xt, yt, test_images, test_labels, _, _ = data
    input_shape = tuple(meta["he_tool.preprocessing"]["input_shape"])
    act_names = [n for n, _ in activation_modules(model)]
    budgets = parse_budgets(args.budgets, act_names)
    layouts, source = step_layouts(model, input_shape, args)
    wanted = [n for n in args.layers.split(",") if n]
    geometries = {s.layer.name: geometry(s) for s in layouts if s.layer.name in wanted}
    if set(wanted) - set(geometries):
        raise SystemExit(f"--layers: {sorted(set(wanted) - set(geometries))} are not linear layers of the model")
    modules = dict(model.named_modules())
    for name in act_names:  # switchable activations, in place
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, child, Bypass(modules[name]))
    bypasses = {n: m for n, m in model.named_modules() if isinstance(m, Bypass)}
    modules = dict(model.named_modules())
    linear = {n: modules[n] for n in geometries}

    state = {"order": ranking(linear, geometries), "progress": 0.0}
    monitor = RangeMonitor([m.inner for m in bypasses.values()], args.range_margin * args.range_bound)

    def keeps(b):
        """The budget's element masks at the current ramp point (cached until the next epoch)."""
        if b["name"] not in state["keeps"]:
            zeroed = zeroed_for(state["order"], geometries, b["ratio"] * min(1.0, state["progress"]))
            state["keeps"][b["name"]] = {
                n: torch.from_numpy(element_mask(zeroed[n], g).astype(np.float32)).reshape(linear[n].weight.shape)
                for n, g in geometries.items()}
        return state["keeps"][b["name"]]

    def budget_loss(xb, yb, soft):
        loss = 0.0
        for b in budgets:
            params = dict(model.named_parameters())
            for n, keep in keeps(b).items():
                params[f"{n}.weight"] = linear[n].weight * keep
            for n, m in bypasses.items():
                m.on = n in b["kept"]
            logits = torch.func.functional_call(model, params, (xb,))
            loss = loss + distillation_loss(logits, soft, yb, args.temperature, args.distill_weight)
        for m in bypasses.values():
            m.on = True
        return loss / len(budgets)

    ramp = max(1, args.epochs // 2)
    for epoch in range(args.epochs):
        state["progress"], state["keeps"] = (epoch + 1) / ramp, {}
        if epoch < ramp:
            state["order"] = ranking(linear, geometries)
        finetune(model, teacher, x, y, 1, args.lr * (0.5 if epoch >= ramp else 1.0), generator, monitor=monitor,
                 range_weight=args.range_weight, log=lambda _m: None, step_hook=budget_loss)
        log(f"epoch {epoch + 1}/{args.epochs}: " + ", ".join(
            f"{b['name']} {accuracy(sub_network(model, b, zeroed_for(state['order'], geometries, b['ratio'] * min(1.0, state['progress'])), geometries), xt, yt):.4f}"
            for b in budgets))
    monitor.close()

    full = sub_network(model, {"kept": act_names}, {n: [] for n in geometries}, geometries)
    ranges, test_max = measure_ranges(full, activation_modules(full), x, xt, args.range_bound)
    check = xt[:16].numpy()
    preprocessing, classes = meta["he_tool.preprocessing"], meta["he_tool.class_names"]
    entries = []
    for b in budgets:
        zeroed = zeroed_for(state["order"], geometries, b["ratio"])
        net = sub_network(model, b, zeroed, geometries)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "budget.onnx"
            export_onnx(net, input_shape, path, preprocess=preprocessing, class_names=classes,
                        activation_ranges=[r for r in ranges if r["layer"] in b["kept"]], check_inputs=check)
            ort = onnx_accuracy(path, xt.numpy(), test_labels)
        depth = multiplicative_depth(net)
        total = sum(g.count for g in geometries.values())
        entries.append({"name": b["name"], "ratio": b["ratio"],
                        "kept_activations": [act_names.index(a) for a in b["kept"]], "kept_activation_names": b["kept"],
                        "depth": depth["depth"], "depth_without_folding": depth["depth_without_folding"],
                        "zeroed_blocks": sum(len(v) for v in zeroed.values()), "pruned_layer_blocks": total,
                        "accuracy_onnxruntime": ort, "test_images": len(xt), "zeroed": zeroed})
        log(f"budget {b['name']}: ratio {b['ratio']}, kept {b['kept']}, depth {depth['depth']}, onnxruntime {ort:.4f}")

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "model.onnx"
    worst = export_onnx(full, input_shape, path, preprocess=preprocessing, class_names=classes, activation_ranges=ranges,
                        check_inputs=check)
    import onnx
    names = weight_initializers(onnx.load(str(path)))
    record = {"format": 1, "source": source, "default": entries[0]["name"], "activations": act_names,
              "layers": [{"layer": names[n][0], "module": n, "initializer": names[n][1], "blocks": g.count,
                          "geometry": g.to_json()} for n, g in geometries.items()],
              "budgets": entries}
    set_metadata(path, {"he_tool.budgets": record})
    ort_accuracy = onnx_accuracy(path, xt.numpy(), test_labels)
    log(f"exported {path} (full weights; onnxruntime matches PyTorch within {worst:.1e}); full model {ort_accuracy:.4f}")
    write_test_pngs(args.out, test_images, test_labels, args.images)

    elapsed = time.time() - started
    summary = {"dataset": base_summary["dataset"], "arch": base_summary.get("arch", "henet"), "variant": "budgets",
               "base": str(folder), "base_onnxruntime_accuracy": onnx_accuracy(folder / "model.onnx", xt.numpy(), test_labels),
               "blocks_source": source, "train_images": len(x), "test_images": len(xt),
               "student_accuracy_torch": accuracy(full, xt, yt), "onnxruntime_accuracy": ort_accuracy,
               "budgets": [{k: v for k, v in e.items() if k != "zeroed"} for e in entries],
               "activation_ranges": ranges, "test_max_abs": test_max, "depth": multiplicative_depth(full),
               "seconds": round(elapsed, 1), "parameters": sum(p.numel() for p in full.parameters()),
               "args": {k: str(v) for k, v in vars(args).items()}}
    write_outputs(args.out, summary, "budgets", argv, render_budgets, str(full))
    log(f"done in {elapsed:.0f}s")
    return summary


if __name__ == "__main__":
    main()
