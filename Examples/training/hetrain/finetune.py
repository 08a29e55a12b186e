"""What pruning, depth budgets and nested budgets share: data, block masks, the distillation
fine-tuning loop that keeps pruned blocks at exactly zero, range measurement and test PNGs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import data as datasets
from .blocks import BlockGeometry, element_mask
from .card import command_line
from .distill import distillation_loss
from .onnxload import load_folder
from .pngio import write_png
from .ranges import RangeMonitor
from .train import accuracy, batches, preprocess


def add_common_arguments(p, lr: float) -> None:
    """The options hetrain.prune, hetrain.depth and hetrain.budgets share: learning rate,
    distillation, range loss, data and run settings (defaults as hetrain.train's)."""
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--temperature", type=float, default=4.0)
    p.add_argument("--distill-weight", type=float, default=0.7)
    p.add_argument("--range-bound", type=float, default=8.0)
    p.add_argument("--range-margin", type=float, default=0.8)
    p.add_argument("--range-weight", type=float, default=1.0)
    p.add_argument("--data", type=Path, default=datasets.DEFAULT_DATA)
    p.add_argument("--limit", type=int, default=0, help="use only this many training images (tests)")
    p.add_argument("--test-limit", type=int, default=0)
    p.add_argument("--images", type=int, default=5, help="test images to write as PNG")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="PyTorch threads")


def start(args):
    """Seeds and threads as the run asks; returns (batch-order generator, log function)."""
    started = time.time()
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)

    def log(message):
        print(f"[{time.time() - started:7.1f}s] {message}", flush=True)
    return torch.Generator().manual_seed(args.seed), log


def folder_of(path) -> Path:
    """A model folder given as itself or as its model.onnx."""
    path = Path(path)
    return path.parent if path.suffix == ".onnx" else path


def open_base(args):
    """(folder, rebuilt network, training summary, metadata, data as load_data returns it) of
    the base model `args.model`, the data normalised as the base file says."""
    folder = folder_of(args.model)
    model, summary, meta = load_folder(folder)
    data = load_data(summary["dataset"], args.data, args.limit, args.test_limit, meta["he_tool.preprocessing"])
    return folder, model, summary, meta, data


def load_data(dataset: str, folder, limit: int = 0, test_limit: int = 0, preprocessing: dict | None = None):
    """(x, y, xt, yt, raw test images, test labels, mean, std), preprocessed as hetrain.train does,
    or with the mean and std of a model's `he_tool.preprocessing` when given (the base model's
    own normalisation, which the derived model must keep)."""
    train_images, train_labels = datasets.load_split(dataset, "train", folder)
    test_images, test_labels = datasets.load_split(dataset, "test", folder)
    if limit:
        train_images, train_labels = train_images[:limit], train_labels[:limit]
    if test_limit:
        test_images, test_labels = test_images[:test_limit], test_labels[:test_limit]
    if preprocessing is not None:
        mean, std = preprocessing["mean"], preprocessing["std"]
    else:
        mean, std = datasets.STATS.get(dataset) or datasets.channel_stats(train_images)
    x, y = preprocess(train_images, mean, std), torch.from_numpy(train_labels)
    xt, yt = preprocess(test_images, mean, std), torch.from_numpy(test_labels)
    return x, y, xt, yt, test_images, test_labels, mean, std


class BlockMasks:
    """Zeroed blocks per layer: `zeroed[name]` is a set of block indices of `geometries[name]`.
    `apply` writes exact zeros (+0.0) into those blocks of the modules' weights."""

    def __init__(self, modules: dict[str, nn.Module], geometries: dict[str, BlockGeometry]):
        self.modules, self.geometries = modules, geometries
        self.zeroed: dict[str, set[int]] = {name: set() for name in modules}

    def keep(self, name: str) -> torch.Tensor:
        geo = self.geometries[name]
        mask = element_mask(sorted(self.zeroed[name]), geo)
        return torch.from_numpy(mask.astype(np.float32)).reshape(self.modules[name].weight.shape)

    @torch.no_grad()
    def apply(self, zeroed: dict[str, set[int]] | None = None) -> None:
        for name, module in self.modules.items():
            if zeroed is not None:
                self.zeroed[name] = set(zeroed[name])
            keep = self.keep(name).bool()
            module.weight.copy_(torch.where(keep, module.weight, torch.zeros_like(module.weight)))

    def counts(self) -> dict[str, tuple[int, int]]:
        """name -> (zeroed blocks, blocks)."""
        return {name: (len(self.zeroed[name]), self.geometries[name].count) for name in self.modules}


def finetune(student: nn.Module, teacher: nn.Module, x, y, epochs: float, lr: float, generator, *,
             masks: BlockMasks | None = None, monitor: RangeMonitor | None = None, range_weight: float = 1.0,
             temperature: float = 4.0, distill_weight: float = 0.7, log=print, step_hook=None) -> None:
    """Distillation fine-tuning (teacher's soft targets + labels, plus the range loss); after
    every optimiser step the masked blocks are set back to exactly zero (their gradients are
    zeroed too, so AdamW's moments stay empty there). `epochs` may be fractional.
    `step_hook(batch_inputs)` may return a loss of its own instead (nested budgets)."""
    per_epoch = (len(x) + 127) // 128
    total = max(1, int(epochs * per_epoch))
    opt = torch.optim.AdamW(student.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total, pct_start=0.1)
    keeps = {name: masks.keep(name) for name in masks.modules} if masks else {}
    teacher.eval()
    step = 0
    while step < total:
        student.train()
        for xb, yb in batches(x, y, 128, generator):
            with torch.no_grad():
                soft = teacher(xb)
            if monitor is not None:
                monitor.penalise = True
                monitor.start_batch()
            opt.zero_grad()
            if step_hook is not None:
                loss = step_hook(xb, yb, soft)
            else:
                loss = distillation_loss(student(xb), soft, yb, temperature, distill_weight)
            if monitor is not None:
                loss = loss + range_weight * monitor.penalty
            if not torch.isfinite(loss):
                raise RuntimeError("the loss diverged: lower the learning rate or raise the range weight")
            loss.backward()
            for name, keep in keeps.items():
                masks.modules[name].weight.grad.mul_(keep)
            torch.nn.utils.clip_grad_norm_(student.parameters(), 5.0)
            opt.step()
            sched.step()
            if masks:
                masks.apply()
            step += 1
            if step >= total:
                break
        if monitor is not None:
            monitor.penalise = False
        log(f"  fine-tuned {step}/{total} steps")


def measure_ranges(model: nn.Module, modules: list[tuple[str, nn.Module]], x, xt, bound: float):
    """(ranges as hetrain.train records them, test-set max |x| per activation)."""
    monitor = RangeMonitor([m for _, m in modules], bound)
    accuracy(model, x, torch.zeros(len(x), dtype=torch.long))
    ranges = [{"layer": n, "range": [-bound, bound], "observed_max_abs": round(m, 4)}
              for (n, _), m in zip(modules, monitor.max_abs)]
    monitor.reset()
    accuracy(model, xt, torch.zeros(len(xt), dtype=torch.long))
    test_max = [round(v, 4) for v in monitor.max_abs]
    monitor.close()
    return ranges, test_max


def write_test_pngs(folder, images: np.ndarray, labels: np.ndarray, count: int = 5) -> list[str]:
    written = []
    for i in range(min(count, len(images))):
        name = f"test-{i:02d}-label-{int(labels[i])}.png"
        write_png(folder / name, images[i])
        written.append(name)
    return written


def write_outputs(out: Path, summary: dict, module: str, argv, render, model_text: str) -> None:
    """Writes a derivation's training-summary.json and model-card.md (the card quotes the command
    as run: this process's command line, or `python -m hetrain.MODULE ARGV` when called from code)."""
    (out / "training-summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    command = command_line() if argv is None else ["python", "-m", f"hetrain.{module}", *argv]
    command[2] = f"hetrain.{module}"
    (out / "model-card.md").write_text(render(summary, model_text, command))
