"""A depth budget: keep only the activations that fit `--max-depth`, merge the linear layers around
the others, and train the result with the toolkit's recipe.

    python -m hetrain.depth ../mnist --max-depth 4 --out ../mnist-depth3

The base folder's training summary gives the architecture (a henet chain) and the recipe. A
ReLU teacher of that architecture is trained (as hetrain.train does). Every subset of the
activations is a candidate: the dropped ones become the identity and the linear layers around
them one layer (hetrain.merge), so its depth in the toolkit's convention
(hetrain.convert.multiplicative_depth: each linear layer 1, each quadratic 1, coefficients
folded) is (linear layers) + (kept activations). Each candidate is trained briefly: ReLU at the
kept positions, distilled from the base model (`--search-relu-epochs`), then each kept ReLU is
replaced by its distribution-aware fit (hetrain.fitting, on that network's own
pre-activations) and fine-tuned with the ReLU-to-polynomial transition, distillation and the
range loss (`--search-epochs`). The best candidate within the budget is trained again from the
teacher with the longer schedule (`--relu-epochs`, `--epochs-student`), exported and carded
with the table of every candidate's depth and accuracy.

The engine spends one more level per filters-first layer after the first (it clears and
duplicates a channels-first output; hetrain.tiling.engine_extra_levels): the card gives that
estimate beside the toolkit's count; `he-tool inspect` prints the depth before folding (each
quadratic 2).
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import torch

from .activations import PolyActivation, ReLUToPoly, activation_modules, finalize
from .convert import inspect_depth, multiplicative_depth
from .export import export_onnx, onnx_accuracy
from .finetune import add_common_arguments, finetune, measure_ranges, open_base, start, write_test_pngs, write_outputs
from .fitting import collect_preactivations, fitted_activation
from .merge import henet_stages, merged_network
from .models import HENet
from .ranges import RangeMonitor
from .tiling import engine_extra_levels
from .train import accuracy, fine_tune_student, train_teacher
from .variantcard import render_depth


def depth_of(model) -> dict:
    d = multiplicative_depth(model)
    linear = sum(1 for _, kind, _ in d["layers"] if kind in ("Conv2d", "Linear"))
    return {**d, "linear_layers": linear, "engine_estimate": d["depth"] + engine_extra_levels(linear),
            "inspect": inspect_depth(d)}


def train_candidate(teacher_relu, base, keep, input_shape, x, y, relu_epochs, student_epochs, generator, args, log):
    """The merged network for `keep`, trained: ReLU phase, DaPa fit, transition + distillation."""
    stages = henet_stages(teacher_relu)
    net = merged_network(stages, set(keep), input_shape, lambda _n, _c: torch.nn.ReLU())
    if relu_epochs > 0:
        finetune(net, base, x, y, relu_epochs, args.lr, generator, temperature=args.temperature,
                 distill_weight=args.distill_weight, log=log)
    if keep:
        relus = [m for _, m in activation_modules(net)]
        sample = x[:5000]
        samples = collect_preactivations(net, relus, (sample[i:i + 500] for i in range(0, len(sample), 500)))
        for (name, _), s in zip(activation_modules(net), samples):
            setattr(net, name, ReLUToPoly(fitted_activation(s, args.degree)))
    monitor = RangeMonitor([m for _, m in activation_modules(net)], args.range_margin * args.range_bound)
    recipe = argparse.Namespace(transition_epochs=args.transition_epochs * student_epochs / max(args.epochs_student, 1),
                                temperature=args.temperature, distill_weight=args.distill_weight,
                                range_weight=args.range_weight)
    if student_epochs > 0:
        fine_tune_student(net, base, x, y, student_epochs, args.lr, generator, monitor, recipe, log)
    monitor.close()
    finalize(net)
    return net.eval()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", type=Path, help="a bundled henet folder (model.onnx + training-summary.json)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--max-depth", type=int, required=True, help="toolkit-convention depth the result must not exceed")
    p.add_argument("--epochs-teacher", type=int, default=0, help="ReLU teacher epochs (0: the base summary's)")
    p.add_argument("--width1", type=int, default=0, help="teacher widths (0: the base summary's); the merged layers "
                   "inherit them, so a wider teacher buys capacity for a shallow budget")
    p.add_argument("--width2", type=int, default=0)
    p.add_argument("--hidden", type=int, default=0)
    p.add_argument("--keep", default=None,
                   help="only this candidate (comma-separated activations, '' for none) instead of every subset")
    p.add_argument("--search-relu-epochs", type=float, default=1.0)
    p.add_argument("--search-epochs", type=int, default=2)
    p.add_argument("--relu-epochs", type=float, default=3.0)
    p.add_argument("--epochs-student", type=int, default=15)
    p.add_argument("--transition-epochs", type=float, default=3.0)
    p.add_argument("--lr-teacher", type=float, default=3e-3)
    p.add_argument("--degree", type=int, default=2)
    add_common_arguments(p, lr=2e-3)
    args = p.parse_args(argv)
    started = time.time()
    generator, log = start(args)

    folder, base, base_summary, meta, data = open_base(args)
    base.eval()
    if base_summary.get("arch", "henet") != "henet":
        raise SystemExit("hetrain.depth handles the henet chain (conv, conv, dense, dense)")
    dataset, bargs = base_summary["dataset"], base_summary["args"]
    x, y, xt, yt, test_images, test_labels, _, _ = data
    input_shape = tuple(meta["he_tool.preprocessing"]["input_shape"])
    base_accuracy = onnx_accuracy(folder / "model.onnx", xt.numpy(), test_labels)
    log(f"base {folder / 'model.onnx'}: onnxruntime test accuracy {base_accuracy:.4f}")

    widths = [getattr(args, k) or int(bargs[k]) for k in ("width1", "width2", "hidden")]
    teacher = HENet(input_shape[0], input_shape[1], *widths)
    epochs_teacher = args.epochs_teacher or int(bargs["epochs_teacher"])
    train_teacher(teacher, x, y, epochs_teacher, args.lr_teacher, generator, log)
    teacher.eval()
    teacher_accuracy = accuracy(teacher, xt, yt)
    log(f"ReLU teacher test accuracy {teacher_accuracy:.4f}")

    names = [n for n, _ in activation_modules(teacher)]
    candidates = []
    for r in range(len(names), -1, -1):
        for keep in itertools.combinations(names, r):
            if args.keep is not None and set(keep) != {a for a in args.keep.split(",") if a}:
                continue
            probe = merged_network(henet_stages(teacher), set(keep), input_shape, lambda _n, c: PolyActivation(c, args.degree))
            d = depth_of(probe)
            net = train_candidate(teacher, base, keep, input_shape, x, y, args.search_relu_epochs, args.search_epochs,
                                  generator, args, lambda _m: None)
            acc = accuracy(net, xt, yt)
            candidates.append({"keep": list(keep), "depth": d["depth"], "linear_layers": d["linear_layers"],
                               "engine_estimate": d["engine_estimate"], "search_accuracy": acc})
            log(f"candidate keep {list(keep)}: depth {d['depth']} (engine est. {d['engine_estimate']}), "
                f"{d['linear_layers']} linear layers, short-run accuracy {acc:.4f}")
    fitting = [c for c in candidates if c["depth"] <= args.max_depth]
    if not fitting:
        raise SystemExit(f"no candidate has depth <= {args.max_depth}")
    best = max(fitting, key=lambda c: (c["search_accuracy"], -c["depth"]))
    log(f"chosen: keep {best['keep']} (depth {best['depth']}); full training")

    final = torch.Generator().manual_seed(args.seed + 1)  # independent of how many candidates were searched
    model = train_candidate(teacher, base, best["keep"], input_shape, x, y, args.relu_epochs, args.epochs_student,
                            final, args, log)
    torch_accuracy = accuracy(model, xt, yt)
    ranges, test_max = measure_ranges(model, activation_modules(model), x, xt, args.range_bound)
    escaping = [r["layer"] for r in ranges if r["observed_max_abs"] > args.range_bound]
    if escaping:
        log(f"warning: activations escape [-{args.range_bound}, {args.range_bound}] in {escaping}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "model.onnx"
    worst = export_onnx(model, input_shape, path, preprocess=meta["he_tool.preprocessing"],
                        class_names=meta["he_tool.class_names"], activation_ranges=ranges, check_inputs=xt[:16].numpy())
    ort_accuracy = onnx_accuracy(path, xt.numpy(), test_labels)
    log(f"exported {path} (onnxruntime matches PyTorch within {worst:.1e}); onnxruntime test accuracy {ort_accuracy:.4f}")
    write_test_pngs(args.out, test_images, test_labels, args.images)

    elapsed = time.time() - started
    summary = {
        "dataset": dataset, "arch": "henet-merged", "variant": "depth", "base": str(folder),
        "base_onnxruntime_accuracy": base_accuracy, "max_depth": args.max_depth, "widths": widths,
        "base_widths": [int(bargs[k]) for k in ("width1", "width2", "hidden")], "kept_activations": best["keep"],
        "train_images": len(x), "test_images": len(xt), "teacher_accuracy": teacher_accuracy,
        "student_accuracy_torch": torch_accuracy, "onnxruntime_accuracy": ort_accuracy, "candidates": candidates,
        "activation_ranges": ranges, "test_max_abs": test_max, "depth": depth_of(model),
        "seconds": round(elapsed, 1), "parameters": sum(p.numel() for p in model.parameters()),
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    write_outputs(args.out, summary, "depth", argv, render_depth, str(model))
    log(f"done in {elapsed:.0f}s; depth {summary['depth']['depth']} (engine estimate {summary['depth']['engine_estimate']})")
    return summary


if __name__ == "__main__":
    main()
