"""HE-aware structured pruning: zero whole plaintext blocks of a trained model, iteratively.

    python -m hetrain.prune ../mnist --tile 8x16x8x8x1 --out ../mnist-pruned
    python -m hetrain.prune ../mnist/model.onnx --plan compile-report.txt --out ../mnist-pruned

The model folder (model.onnx + training-summary.json) is rebuilt in PyTorch (hetrain.onnxload).
The blocks are those he-tool packs into whole plaintexts in the given tiling (`--tile`, the
layouts following the engine's alternation) or in the plan of a compile report (`--plan`, the
text `he-tool compile` prints; each convolution step's layout is read from it), see
hetrain.blocks. For each cumulative ratio of `--ratios`, in each layer of `--layers`, the blocks
of smallest RMS weight among those still alive are zeroed (so each step's set contains the
previous one), then the network is fine-tuned for `--epochs-per-step` with distillation from the
unpruned model and the range loss, the zeroed blocks held at exactly zero. Every step is
exported and measured by onnxruntime on the test set; the kept result is the largest ratio
whose accuracy loss against the unpruned file is at most `--max-loss` (chosen on the test set:
the base model was trained on the whole training split, so no unseen validation split exists).

With `--shrink`, the kept model's dead dense neurons are then removed exactly (hetrain.shrink:
a wholly zero row of fc1 outputs its bias, so its activation's output is a constant that fc2's
bias absorbs; the neuron, its activation channel and fc2's column go), so that a wholly zero
output tile (`--groups fc1=filters`) also spares the activation and the next layer.

Written to --out: model.onnx (metadata as hetrain.train writes, plus `he_tool.block_pruning`:
the tiling and, per layer, the block geometry and zeroed blocks; format in the README; with
--shrink also `he_tool.shrink`), model-card.md with the accuracy / non-zero-block curve,
training-summary.json, test PNGs.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path


from .activations import activation_modules
from .blocks import GROUP_AXES, BlockGeometry, block_norms, geometry, pruning_order, whole_groups, zero_blocks
from .convert import multiplicative_depth
from .export import export_onnx, onnx_accuracy
from .finetune import BlockMasks, add_common_arguments, finetune, measure_ranges, open_base, start, write_test_pngs, write_outputs
from .layers import linear_layers
from .onnxmeta import initializer_arrays, set_metadata, weight_initializers
from .ranges import RangeMonitor
from .shrink import shrink_file, weight_count
from .tiling import PlanError, layouts_from_report, layouts_from_tiling, parse_tiling
from .train import accuracy
from .variantcard import render_pruned


def step_layouts(model, input_shape, args):
    """(layouts of every linear layer, description of where they came from)."""
    layers = [layer for _, layer in linear_layers(model, input_shape)]
    if args.plan:
        layouts, tiling = layouts_from_report(layers, Path(args.plan).read_text())
        return layouts, f"compile report {Path(args.plan).name}: {tiling}"
    tiling = parse_tiling(args.tile)
    return (layouts_from_tiling(layers, tiling, not args.no_space_to_depth),
            "tiling " + "×".join(map(str, tiling)) + " (t0×t1×tX×tY×tB, --tile)")


def block_metadata(proto, masks: BlockMasks, source: str) -> dict:
    """`he_tool.block_pruning`: per layer, the geometry and the blocks that are zero in the file
    (read back from the initialisers, so the record is what the file holds)."""
    names, arrays = weight_initializers(proto), initializer_arrays(proto)
    layers = []
    for name, geo in masks.geometries.items():
        node, init = names[name]
        zeroed = zero_blocks(arrays[init], geo)
        layers.append({"layer": node, "module": name, "initializer": init, "blocks": geo.count,
                       "geometry": geo.to_json(), "zeroed": zeroed})
    return {"format": 1, "source": source, "layers": layers}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", type=Path, help="a bundled model folder (or its model.onnx) with training-summary.json")
    p.add_argument("--out", type=Path, required=True)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--tile", help="t0xt1xtXxtYxtB, e.g. 8x16x8x8x1 (the tiling of he-tool compile's plan)")
    where.add_argument("--plan", type=Path, help="the text `he-tool compile` printed for this model")
    p.add_argument("--no-space-to-depth", action="store_true",
                   help="with --tile: the plan keeps the strided first convolution (compile --no-space-to-depth)")
    p.add_argument("--layers", default="conv2,fc1", help="modules to prune, comma-separated")
    p.add_argument("--groups", default="", help="LAYER=AXIS,...: zero that layer's blocks whole groups at a time, "
                   "weakest group first (filters: output tiles; channels; taps), e.g. conv2=taps,fc1=filters")
    p.add_argument("--ratios", default="0.25,0.375,0.5,0.625,0.75",
                   help="cumulative fraction of each layer's blocks zeroed at each step")
    p.add_argument("--max-ratio", default="", help="LAYER=R,...: never zero more than the fraction R of that layer's "
                   "blocks (prune a sensitive layer lightly while the others follow --ratios), e.g. conv1=0.34")
    p.add_argument("--epochs-per-step", type=float, default=2.0)
    p.add_argument("--max-loss", type=float, default=0.005, help="accuracy loss allowed (0.005 = 0.5 pp)")
    p.add_argument("--shrink", action="store_true", help="remove the kept model's dead dense neurons exactly "
                   "(hetrain.shrink: dense -> activation -> dense runs; fc1's wholly zero rows)")
    add_common_arguments(p, lr=1e-3)
    args = p.parse_args(argv)
    started = time.time()
    generator, log = start(args)

    folder, model, base_summary, meta, data = open_base(args)
    dataset = base_summary["dataset"]
    x, y, xt, yt, test_images, test_labels, _, _ = data
    input_shape = tuple(meta["he_tool.preprocessing"]["input_shape"])
    teacher = copy.deepcopy(model).eval()
    base_accuracy = onnx_accuracy(folder / "model.onnx", xt.numpy(), test_labels)
    log(f"base {folder / 'model.onnx'}: onnxruntime test accuracy {base_accuracy:.4f}")

    layouts, source = step_layouts(model, input_shape, args)
    modules = dict(model.named_modules())
    wanted = [n for n in args.layers.split(",") if n]
    unknown = [n for n in wanted if n not in {s.layer.name for s in layouts}]
    if unknown:
        raise SystemExit(f"--layers: {unknown} are not linear layers of the model ({[s.layer.name for s in layouts]})")
    geometries = {s.layer.name: geometry(s) for s in layouts if s.layer.name in wanted}
    groups = dict(item.split("=", 1) for item in args.groups.split(",") if item)
    if any(n not in geometries or g not in GROUP_AXES for n, g in groups.items()):
        raise SystemExit(f"--groups: LAYER=AXIS with LAYER among {sorted(geometries)} and AXIS among {sorted(GROUP_AXES)}")
    all_blocks, products = {}, {}
    for s in layouts:
        try:
            all_blocks[s.layer.name] = geometry(s).count
            products[s.layer.name] = s.output_tiles
        except PlanError:
            all_blocks[s.layer.name] = None

    def product_estimate(zeroed: dict[str, int]) -> int:
        """Plaintext products of the linear layers: each non-zero block once per output tile it
        reaches (layout conversions such as fc1's duplication not included)."""
        return sum((all_blocks[n] - zeroed.get(n, 0)) * products[n] for n in products)
    caps = {n: float(r) for n, r in (item.split("=", 1) for item in args.max_ratio.split(",") if item)}
    if any(n not in geometries or not 0 <= r <= 1 for n, r in caps.items()):
        raise SystemExit(f"--max-ratio: LAYER=R with LAYER among {sorted(geometries)} and R in [0, 1]")
    masks = BlockMasks({n: modules[n] for n in geometries}, geometries)
    for name, geo in geometries.items():
        log(f"{name}: {geo.count} blocks of {geo.filters_per_block} filters x {geo.channels_per_block} channels, "
            f"grid {geo.grid} ({source})")

    curve = [{"ratio": 0.0, "zeroed": {n: 0 for n in geometries}, "nonzero_blocks": sum(v or 0 for v in all_blocks.values()),
              "plaintext_products": product_estimate({}),
              "accuracy_torch": accuracy(model, xt, yt), "accuracy_onnxruntime": base_accuracy}]
    states = {0.0: copy.deepcopy(model.state_dict())}
    check = xt[:16].numpy()
    preprocessing = meta["he_tool.preprocessing"]
    for ratio in [float(r) for r in args.ratios.split(",")]:
        for name, geo in geometries.items():
            target = int(round(min(ratio, caps.get(name, 1.0)) * geo.count))
            norms = block_norms(masks.modules[name].weight.detach().numpy(), geo)
            alive = [i for i in pruning_order(norms, geo, groups.get(name)) if i not in masks.zeroed[name]]
            masks.zeroed[name] |= {int(i) for i in alive[:max(0, target - len(masks.zeroed[name]))]}
        masks.apply()
        log(f"ratio {ratio:.3f}: zeroed {masks.counts()}; accuracy before fine-tuning {accuracy(model, xt, yt):.4f}")
        monitor = RangeMonitor([m for _, m in activation_modules(model)], args.range_margin * args.range_bound)
        finetune(model, teacher, x, y, args.epochs_per_step, args.lr, generator, masks=masks, monitor=monitor,
                 range_weight=args.range_weight, temperature=args.temperature, distill_weight=args.distill_weight, log=log)
        monitor.close()
        model.eval()
        torch_accuracy = accuracy(model, xt, yt)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "step.onnx"
            export_onnx(model, input_shape, path, preprocess=preprocessing, class_names=meta["he_tool.class_names"],
                        activation_ranges=[{"range": [0, 0], "observed_max_abs": 0}] * len(activation_modules(model)),
                        check_inputs=check)
            ort_accuracy = onnx_accuracy(path, xt.numpy(), test_labels)
        zeroed = {n: len(masks.zeroed[n]) for n in geometries}
        curve.append({"ratio": ratio, "zeroed": zeroed,
                      "nonzero_blocks": curve[0]["nonzero_blocks"] - sum(zeroed.values()),
                      "plaintext_products": product_estimate(zeroed),
                      "accuracy_torch": torch_accuracy, "accuracy_onnxruntime": ort_accuracy})
        states[ratio] = copy.deepcopy(model.state_dict())
        log(f"ratio {ratio:.3f}: test accuracy {torch_accuracy:.4f} (onnxruntime {ort_accuracy:.4f}, "
            f"loss {100 * (base_accuracy - ort_accuracy):.2f} pp)")

    chosen = max((row for row in curve if base_accuracy - row["accuracy_onnxruntime"] <= args.max_loss + 1e-12),
                 key=lambda row: row["ratio"])
    model.load_state_dict(states[chosen["ratio"]])
    model.eval()
    log(f"kept ratio {chosen['ratio']}: onnxruntime {chosen['accuracy_onnxruntime']:.4f} "
        f"(base {base_accuracy:.4f}, allowed loss {100 * args.max_loss:.2f} pp)")

    ranges, test_max = measure_ranges(model, activation_modules(model), x, xt, args.range_bound)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "model.onnx"
    worst = export_onnx(model, input_shape, path, preprocess=preprocessing, class_names=meta["he_tool.class_names"],
                        activation_ranges=ranges, check_inputs=check)
    import onnx
    pruning = block_metadata(onnx.load(str(path)), masks, source)
    set_metadata(path, {"he_tool.block_pruning": pruning})
    shrunk = None
    if args.shrink:
        before = weight_count(path)
        runs = shrink_file(path, path, check_inputs=check)
        from .onnxload import metadata
        shrunk = {"runs": runs, "parameters_before": before, "parameters_after": weight_count(path),
                  "blocks": {l["module"]: {"blocks": l["blocks"], "zeroed": len(l["zeroed"]), "geometry": l["geometry"]}
                             for l in metadata(path)["he_tool.block_pruning"]["layers"]
                             if any(l["layer"] in (r["layer"], r["next"]) for r in runs)}}
        for r in runs:
            log(f"shrunk {r['layer']} -> {r['next']}: {len(r['kept'])} of {r['channels']} neurons kept "
                f"({r['zero_rows']} zero rows folded into the next bias; differs by {r['checked_relative_difference']:.1e})")
    ort_accuracy = onnx_accuracy(path, xt.numpy(), test_labels)
    log(f"exported {path} (onnxruntime matches PyTorch within {worst:.1e}); onnxruntime test accuracy {ort_accuracy:.4f}")
    write_test_pngs(args.out, test_images, test_labels, args.images)

    elapsed = time.time() - started
    summary = {
        "dataset": dataset, "arch": base_summary.get("arch", "henet"), "variant": "pruned",
        "base": str(folder), "base_onnxruntime_accuracy": base_accuracy, "blocks_source": source,
        "train_images": len(x), "test_images": len(xt),
        "student_accuracy_torch": accuracy(model, xt, yt), "onnxruntime_accuracy": ort_accuracy,
        "kept_ratio": chosen["ratio"], "curve": curve,
        "blocks": {l["module"]: {"blocks": l["blocks"], "zeroed": len(l["zeroed"]), "geometry": l["geometry"],
                                 "whole": whole_groups(l["zeroed"], BlockGeometry.from_json(l["geometry"]))}
                   for l in pruning["layers"]},
        "all_layer_blocks": all_blocks,
        "activation_ranges": ranges, "test_max_abs": test_max, "depth": multiplicative_depth(model),
        "seconds": round(elapsed, 1), "parameters": sum(p.numel() for p in model.parameters()),
        "nonzero_parameters": int(sum(int((m.weight != 0).sum()) for m in masks.modules.values())),
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    if shrunk is not None:
        summary["shrink"] = shrunk
    write_outputs(args.out, summary, "prune", argv, render_pruned, str(model))
    log(f"done in {elapsed:.0f}s")
    return summary


if __name__ == "__main__":
    main()
