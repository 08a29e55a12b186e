"""Model cards of the derived variants: pruned (hetrain.prune), depth-budgeted (hetrain.depth)
and nested budgets (hetrain.budgets). Same sections as hetrain.card, plus the trade-off curve."""

from __future__ import annotations

import platform
import shlex

import torch

from .card import PROVENANCE
from .convert import inspect_depth


def _common_tail(summary: dict, architecture: str, command: list[str]) -> list[str]:
    lines = ["## Architecture", "", "```", architecture, "```", "",
             f"Parameters: {summary['parameters']:,}.", "",
             "## Activation ranges", "",
             "The interval each polynomial was trained for (`he_tool.activation_ranges`) and the largest |x| that "
             "reached it (`he_tool.activation_observed_max` holds the training-set column):", "",
             "| layer | trained range | max abs, training set | max abs, test set |", "|---|---|---|---|"]
    for r, t in zip(summary["activation_ranges"], summary["test_max_abs"]):
        lines.append(f"| {r['layer']} | [{r['range'][0]:g}, {r['range'][1]:g}] | {r['observed_max_abs']:.3f} | {t:.3f} |")
    lines += ["", "## Data and input", "", PROVENANCE[summary["dataset"]], "",
              "pixel / 255, then (x − mean) / std per channel (`he_tool.preprocessing`), NCHW, batch 1. The PNG files "
              "here are the first images of the test split, named with their labels.", "",
              "## How it was made", "", "```sh", "cd Examples/training", " ".join(shlex.quote(c) for c in command), "```", "",
              f"Seed {summary['args']['seed']}; {summary['seconds']:.0f} s on this project's 2-core machine "
              f"(PyTorch {torch.__version__}, Python {platform.python_version()}, {summary['args']['threads']} thread(s)).", ""]
    return lines


def render_pruned(summary: dict, architecture: str, command: list[str]) -> str:
    depth = summary["depth"]
    pct = lambda v: f"{100 * v:.2f}%"  # noqa: E731
    lines = [f"# {summary['dataset']}: HE-aware pruned CNN", "",
             f"`{summary['base']}/model.onnx` with whole plaintext blocks zeroed (`hetrain.prune`): the blocks are the "
             f"weights he-tool packs into one plaintext in {summary['blocks_source']}. At each step the blocks of smallest "
             "RMS weight are zeroed in each pruned layer" + (
                 f" (whole groups first, weakest group first: {summary['args']['groups']})" if summary["args"].get("groups")
                 else "") + ", then the network is fine-tuned with distillation from the "
             "unpruned model and the range loss, the zeroed blocks held at exactly zero. The kept step is the largest "
             f"ratio whose accuracy loss (onnxruntime, full test set) is at most {100 * float(summary['args']['max_loss']):.2f} "
             "percentage points; the selection uses the test set (the base model was trained on the whole training "
             "split). The zeroed blocks are listed in the metadata key `he_tool.block_pruning`.", "",
             "## Accuracy", "", "| model | test images | top-1 (onnxruntime) |", "|---|---|---|",
             f"| unpruned base | {summary['test_images']:,} | {pct(summary['base_onnxruntime_accuracy'])} |",
             f"| **`model.onnx` (pruned)** | {summary['test_images']:,} | **{pct(summary['onnxruntime_accuracy'])}** |", "",
             f"Multiplicative depth (toolkit's convention): {depth['depth']}, as the base. Non-zero weights in the pruned "
             f"layers: {summary['nonzero_parameters']:,}.", "",
             "## Blocks", "", "| layer | block (filters × channels × rows × columns groups) | blocks | zeroed |",
             "|---|---|---|---|"]
    for name, b in summary["blocks"].items():
        g = b["geometry"]
        lines.append(f"| {name} | {g['filters_per_block']} × {g['channels_per_block']} × grid {max(g['row_groups']) + 1}"
                     f" × {max(g['column_groups']) + 1} of weight {g['shape']} | {b['blocks']} | {b['zeroed']} "
                     f"({100 * b['zeroed'] / b['blocks']:.0f}%) |")
    lines += ["", "Wholly zero groups (where rotations, not only products, can go): " + "; ".join(
        f"{name}: {b['whole']['filter_tiles'][0]} of {b['whole']['filter_tiles'][1]} filter (output) tiles, "
        f"{b['whole']['channel_tiles'][0]} of {b['whole']['channel_tiles'][1]} channel tiles, "
        f"{b['whole']['tap_groups'][0]} of {b['whole']['tap_groups'][1]} tap groups"
        for name, b in summary["blocks"].items()) + "."]
    others = {k: v for k, v in summary["all_layer_blocks"].items() if k not in summary["blocks"]}
    if others:
        lines += ["", "Layers left whole: " + ", ".join(f"{k} ({v} blocks)" for k, v in others.items()) + "."]
    if summary.get("shrink") and not summary["shrink"]["runs"]:
        lines += ["", "Shrunk (`--shrink`): no dense neuron was dead; the file is as exported."]
    elif summary.get("shrink"):
        shrunk = summary["shrink"]
        lines += ["", "Shrunk (`--shrink`, `hetrain.shrink`): " + "; ".join(
            f"`{r['layer']}` → `{r['next']}`: {len(r['kept'])} of {r['channels']} neurons kept ({r['zero_rows']} with an "
            "all-zero weight row removed, their constant activation output folded into the next layer's bias)"
            for r in shrunk["runs"]) + f". Exact (onnxruntime within "
            f"{max(r['checked_relative_difference'] for r in shrunk['runs']):.1e} of the largest logit); initialiser "
            f"elements {shrunk['parameters_before']:,} → {shrunk['parameters_after']:,}. The table above and the curve "
            "count the blocks before shrinking; in the file: " + ", ".join(
                f"{k} {b['zeroed']} of {b['blocks']} blocks zeroed, weight {b['geometry']['shape']}"
                for k, b in shrunk["blocks"].items()) + "."]
    lines += ["", "## Trade-off curve", "",
              "Each row is one pruning step (cumulative: a step's zeroed blocks contain the previous step's), after its "
              "fine-tuning. Non-zero blocks count every linear layer's plaintext blocks; plaintext products count each "
              "non-zero block once per output tile it reaches (the engine's convolution; layout conversions such as "
              "a duplication not included): what a zero-skipping engine multiplies. Latency and key sizes are "
              "measured by the engine side (`he-tool compile` with zero-skipping).", "",
              "| ratio | zeroed blocks per layer | non-zero blocks (all layers) | plaintext products | top-1 PyTorch | "
              "top-1 onnxruntime | loss |",
              "|---|---|---|---|---|---|---|"]
    for row in summary["curve"]:
        kept = " **(kept)**" if row["ratio"] == summary["kept_ratio"] else ""
        zeroed = ", ".join(f"{k} {v}" for k, v in row["zeroed"].items())
        lines.append(f"| {row['ratio']:.3f}{kept} | {zeroed} | {row['nonzero_blocks']} | {row.get('plaintext_products', '–')} | "
                     f"{pct(row['accuracy_torch'])} | "
                     f"{pct(row['accuracy_onnxruntime'])} | "
                     f"{100 * (summary['base_onnxruntime_accuracy'] - row['accuracy_onnxruntime']):+.2f} pp |")
    lines += [""]
    return "\n".join(lines + _common_tail(summary, architecture, command))


def render_depth(summary: dict, architecture: str, command: list[str]) -> str:
    depth = summary["depth"]
    pct = lambda v: f"{100 * v:.2f}%"  # noqa: E731
    kept = ", ".join(summary["kept_activations"]) or "none"
    lines = [f"# {summary['dataset']}: depth-budgeted CNN (depth {depth['depth']})", "",
             f"`{summary['base']}` under a depth budget of {summary['max_depth']} (`hetrain.depth --max-depth "
             f"{summary['max_depth']}`): only the activations {kept} are kept; the others became the identity and the "
             "linear layers around them were merged into one layer (`hetrain.merge`). Trained with the toolkit's "
             f"recipe from a ReLU teacher of the base architecture with widths {summary['widths']} (the base's: "
             f"{summary.get('base_widths')}): ReLU phase, "
             "distribution-aware fit of each kept activation on the merged network's own pre-activations, "
             "ReLU-to-polynomial transition, distillation from the base model, range loss.", "",
             "## Depth", "",
             f"Toolkit convention (each convolution or dense layer 1, a degree-d polynomial ⌈log2 d⌉ levels for its "
             f"powers, its coefficients folded into the next layer): **{depth['depth']}** ({depth['linear_layers']} "
             f"linear layers), {depth['depth_without_folding']} without folding. `he-tool inspect` counts a degree-d "
             f"polynomial as ⌈log2(d + 1)⌉ levels (a quadratic 2, a cubic 2): {inspect_depth(depth)} for this file. "
             "The engine's compile depth is the toolkit's plus one level per filters-first layer after the first (it "
             "clears and duplicates a channels-first output before linear layers 3, 5, ...): estimated "
             f"**{depth['engine_estimate']}**.", "",
             "## Accuracy", "", "| model | test images | top-1 |", "|---|---|---|",
             f"| base `model.onnx` (onnxruntime) | {summary['test_images']:,} | {pct(summary['base_onnxruntime_accuracy'])} |",
             f"| ReLU teacher (PyTorch) | {summary['test_images']:,} | {pct(summary['teacher_accuracy'])} |",
             f"| **`model.onnx` (onnxruntime)** | {summary['test_images']:,} | **{pct(summary['onnxruntime_accuracy'])}** |", "",
             "## Candidates", "",
             "Every subset of the activations, each trained with the short schedule (`--search-relu-epochs`, "
             "`--search-epochs`; PyTorch, full test set). The chosen one was then trained with the long schedule.", "",
             "| kept activations | linear layers | depth (toolkit) | engine estimate | short-run top-1 |", "|---|---|---|---|---|"]
    for c in sorted(summary["candidates"], key=lambda c: (-c["depth"], -c["search_accuracy"])):
        mark = " **(chosen)**" if c["keep"] == summary["kept_activations"] else ""
        lines.append(f"| {', '.join(c['keep']) or 'none'}{mark} | {c['linear_layers']} | {c['depth']} | "
                     f"{c['engine_estimate']} | {pct(c['search_accuracy'])} |")
    lines += ["", "Best per depth: " + "; ".join(
        f"depth {d}: {pct(max(c['search_accuracy'] for c in summary['candidates'] if c['depth'] == d))}"
        for d in sorted({c["depth"] for c in summary["candidates"]}, reverse=True)) + ".", ""]
    return "\n".join(lines + _common_tail(summary, architecture, command))


def render_budgets(summary: dict, architecture: str, command: list[str]) -> str:
    pct = lambda v: f"{100 * v:.2f}%"  # noqa: E731
    lines = [f"# {summary['dataset']}: one model, several budgets (nested block masks)", "",
             f"`{summary['base']}` fine-tuned so that each budget's sub-network is accurate with the same weights "
             "(`hetrain.budgets`, after AdaPI): a budget zeroes a fraction of the plaintext blocks of the pruned layers "
             f"(blocks of {summary['blocks_source']}) and may drop activations. The masks are nested (one ranking of the "
             "blocks by RMS weight; a budget zeroes a prefix of it). `model.onnx` holds the full weights; the metadata "
             "key `he_tool.budgets` lists, per budget, the zeroed blocks, the kept activations, the depth and the "
             "accuracy below (format in `Examples/training/README.md`). The engine side (`he-tool compile --budget "
             "NAME`) zeroes those blocks and bypasses the dropped activations.", "",
             "## Budgets", "",
             "Accuracy of each budget's sub-network (its blocks zeroed, its dropped activations the identity), exported "
             "separately and run by onnxruntime on the full test set.", "",
             "| budget | ratio | zeroed blocks (pruned layers) | kept activations | depth (toolkit) | top-1 onnxruntime |",
             "|---|---|---|---|---|---|",
             f"| base model (before this training) | – | – | all | {summary['depth']['depth']} | "
             f"{pct(summary['base_onnxruntime_accuracy'])} |"]
    for b in summary["budgets"]:
        lines.append(f"| {b['name']} | {b['ratio']:g} | {b['zeroed_blocks']} / {b['pruned_layer_blocks']} | "
                     f"{', '.join(b['kept_activation_names']) or 'none'} | {b['depth']} | {pct(b['accuracy_onnxruntime'])} |")
    lines += ["", "A dropped activation saves its level; the linear layers on either side of it stay two layers in "
              "this file (they share weights with the other budgets), so the depth above counts both.", ""]
    return "\n".join(lines + _common_tail(summary, architecture, command))
