"""The recipe end to end: ReLU teacher -> DaPa-initialised polynomial student -> fine-tuning with
a ReLU-to-polynomial transition, distillation and the range loss -> ONNX + model card.

    python -m hetrain.train --dataset mnist --out ../mnist

`--arch tenseal-tutorial` trains TenSEAL's tutorial network instead (plain x^2, no teacher):
directly with cross-entropy and the range loss, for --epochs-student epochs at --lr-student.
`--arch cryptonets` trains CryptoNets (Gilad-Bachrach et al. 2016) the same way.
`--arch resnet-cmnist32` runs the same recipe on a small residual network (hetrain.models.HEResNet,
block widths --widths) instead of the chain CNN.

Run from Examples/training (see its README for the bundled models' exact commands).
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import data as datasets
from .card import command_line, render
from .activations import ReLUToPoly, activation_modules, finalize, set_transition
from .convert import multiplicative_depth, replace_relu
from .distill import distillation_loss
from .export import export_onnx, onnx_accuracy
from .fitting import collect_preactivations, fitted_activation
from .models import CryptoNetsNet, HENet, HEResNet, TenSEALTutorialNet

#: Networks born polynomial (plain x^2): trained directly, no teacher.
DIRECT = {"tenseal-tutorial": TenSEALTutorialNet, "cryptonets": CryptoNetsNet}
from .pngio import write_png
from .ranges import RangeMonitor


def preprocess(images: np.ndarray, mean: list[float], std: list[float]) -> torch.Tensor:
    x = torch.from_numpy(images.astype(np.float32) / 255.0)
    m = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    return (x - m) / s


def batches(x: torch.Tensor, y: torch.Tensor, size: int, generator: torch.Generator | None):
    order = torch.randperm(len(x), generator=generator) if generator is not None else torch.arange(len(x))
    for i in range(0, len(x), size):
        idx = order[i:i + size]
        yield x[idx], y[idx]


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    correct = sum(int((model(xb).argmax(1) == yb).sum()) for xb, yb in batches(x, y, 1000, None))
    return correct / len(x)


def train_teacher(model, x, y, epochs, lr, generator, log):
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * ((len(x) + 127) // 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    for epoch in range(epochs):
        model.train()
        for xb, yb in batches(x, y, 128, generator):
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
            sched.step()
        log(f"teacher epoch {epoch + 1}/{epochs}")


def fine_tune_student(student, teacher, x, y, epochs, lr, generator, monitor, args, log):
    """Transition epochs (lam rising linearly 0 -> 1), then polynomial-only epochs."""
    opt = torch.optim.AdamW(student.parameters(), lr=lr, weight_decay=1e-4)
    per_epoch = (len(x) + 127) // 128
    total = epochs * per_epoch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total, pct_start=0.15)
    transition = max(1, int(args.transition_epochs * per_epoch))
    teacher.eval()
    step = 0
    for epoch in range(epochs):
        student.train()
        monitor.penalise = True
        for xb, yb in batches(x, y, 128, generator):
            set_transition(student, (step + 1) / transition)
            with torch.no_grad():
                soft = teacher(xb)
            monitor.start_batch()
            opt.zero_grad()
            logits = student(xb)
            loss = distillation_loss(logits, soft, yb, args.temperature, args.distill_weight)
            loss = loss + args.range_weight * monitor.penalty
            if not torch.isfinite(loss):
                raise RuntimeError("the loss diverged: lower --lr-student or raise --range-weight")
            loss.backward()
            torch.nn.utils.clip_grad_norm_(student.parameters(), 5.0)
            opt.step()
            sched.step()
            step += 1
        monitor.penalise = False
        log(f"student epoch {epoch + 1}/{epochs} (lam {min(1.0, step / transition):.2f})")
    set_transition(student, 1.0)


def train_direct(model, x, y, epochs, lr, generator, monitor, args, log):
    """Cross-entropy plus the range loss, no teacher: for networks born polynomial (x^2)."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    total = epochs * ((len(x) + 127) // 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total, pct_start=0.15)
    for epoch in range(epochs):
        model.train()
        monitor.penalise = True
        for xb, yb in batches(x, y, 128, generator):
            monitor.start_batch()
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb) + args.range_weight * monitor.penalty
            if not torch.isfinite(loss):
                raise RuntimeError("the loss diverged: lower --lr-student or raise --range-weight")
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
        monitor.penalise = False
        log(f"epoch {epoch + 1}/{epochs}")


def make_teacher(args, channels: int, side: int) -> nn.Module:
    """The ReLU network of the chosen --arch: HEResNet for resnet-cmnist32, else HENet."""
    if args.arch == "resnet-cmnist32":
        return HEResNet(channels, tuple(args.widths))
    return HENet(channels, side, args.width1, args.width2, args.hidden)


def train_recipe(x, y, xt, yt, channels, side, generator, args, log):
    """The recipe: ReLU teacher, DaPa start, transition + distillation + range loss.
    Returns (teacher accuracy, the finalized polynomial student, its range monitor)."""
    teacher = make_teacher(args, channels, side)
    train_teacher(teacher, x, y, args.epochs_teacher, args.lr_teacher, generator, log)
    teacher_accuracy = accuracy(teacher, xt, yt)
    log(f"teacher (ReLU) test accuracy {teacher_accuracy:.4f}")

    # Distribution-aware start: fit each channel's polynomial to ReLU on the teacher's
    # pre-activations over (a sample of) the training set.
    student = copy.deepcopy(teacher)
    relus = [m for _, m in activation_modules(teacher)]
    sample = x[:min(len(x), 5000)]
    samples = collect_preactivations(teacher, relus, (sample[i:i + 500] for i in range(0, len(sample), 500)))
    fits = {name: fitted_activation(s, args.degree) for (name, _), s in zip(activation_modules(teacher), samples)}
    replace_relu(student, lambda name, _c: ReLUToPoly(fits[name]), teacher.activation_channels)
    set_transition(student, 1.0)
    log(f"DaPa-initialised polynomial student (no fine-tuning) test accuracy {accuracy(student, xt, yt):.4f}")

    monitor = RangeMonitor([m for _, m in activation_modules(student)], args.range_margin * args.range_bound)
    fine_tune_student(student, teacher, x, y, args.epochs_student, args.lr_student, generator, monitor, args, log)
    finalize(student)
    return teacher_accuracy, student, monitor


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=["mnist", "fashion-mnist", "cmnist32"], required=True)
    p.add_argument("--out", type=Path, required=True, help="folder for model.onnx, model-card.md and test PNGs")
    p.add_argument("--arch", choices=["henet", "resnet-cmnist32", "tenseal-tutorial", "cryptonets"], default="henet",
                   help="henet: the recipe above; resnet-cmnist32: the same recipe on a small ResNet (--widths); "
                        "tenseal-tutorial: TenSEAL's tutorial CNN with x^2, trained directly "
                        "(--epochs-student, --lr-student; teacher, width, degree and distillation options unused); "
                        "cryptonets: CryptoNets (conv 5x5 s2 p1 1->5, x^2, dense 845->100, x^2, dense 10), "
                        "trained directly like tenseal-tutorial")
    p.add_argument("--data", type=Path, default=datasets.DEFAULT_DATA)
    p.add_argument("--width1", type=int, default=8)
    p.add_argument("--width2", type=int, default=16)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--widths", type=lambda v: [int(w) for w in v.split(",")], default=[16, 32, 64],
                   help="resnet-cmnist32: channels of the residual blocks, comma-separated (default 16,32,64)")
    p.add_argument("--epochs-teacher", type=int, default=4)
    p.add_argument("--epochs-student", type=int, default=6)
    p.add_argument("--transition-epochs", type=float, default=2.0)
    p.add_argument("--lr-teacher", type=float, default=3e-3)
    p.add_argument("--lr-student", type=float, default=2e-3)
    p.add_argument("--temperature", type=float, default=4.0)
    p.add_argument("--distill-weight", type=float, default=0.7)
    p.add_argument("--range-bound", type=float, default=8.0, help="target interval [-B, B] of every activation input")
    p.add_argument("--range-weight", type=float, default=1.0)
    p.add_argument("--range-margin", type=float, default=0.8,
                   help="the loss pushes inputs inside margin*B, so unseen inputs keep headroom below B")
    p.add_argument("--degree", type=int, default=2)
    p.add_argument("--limit", type=int, default=0, help="use only this many training images (tests)")
    p.add_argument("--test-limit", type=int, default=0)
    p.add_argument("--images", type=int, default=5, help="test images to write as PNG")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="PyTorch threads (1 is fastest on a busy 2-core machine)")
    args = p.parse_args(argv)

    started = time.time()
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(args.seed)
    log_lines: list[str] = []

    def log(message: str):
        line = f"[{time.time() - started:7.1f}s] {message}"
        log_lines.append(line)
        print(line, flush=True)

    train_images, train_labels = datasets.load_split(args.dataset, "train", args.data)
    test_images, test_labels = datasets.load_split(args.dataset, "test", args.data)
    if args.limit:
        train_images, train_labels = train_images[:args.limit], train_labels[:args.limit]
    if args.test_limit:
        test_images, test_labels = test_images[:args.test_limit], test_labels[:args.test_limit]
    mean, std = datasets.STATS.get(args.dataset) or datasets.channel_stats(train_images)
    x, y = preprocess(train_images, mean, std), torch.from_numpy(train_labels)
    xt, yt = preprocess(test_images, mean, std), torch.from_numpy(test_labels)
    channels, side = train_images.shape[1], train_images.shape[2]

    if not 0 < args.range_margin <= 1:
        raise SystemExit("--range-margin must lie in (0, 1]")
    if args.arch in DIRECT:
        teacher_accuracy = None
        student = DIRECT[args.arch](channels, side)
        monitor = RangeMonitor([m for _, m in activation_modules(student)], args.range_margin * args.range_bound)
        train_direct(student, x, y, args.epochs_student, args.lr_student, generator, monitor, args, log)
    else:
        teacher_accuracy, student, monitor = train_recipe(x, y, xt, yt, channels, side, generator, args, log)
    student.eval()
    student_accuracy = accuracy(student, xt, yt)
    log(f"student (polynomial) test accuracy {student_accuracy:.4f}")

    # Measured ranges over the whole training set (hooks on the final polynomials: the
    # transition wrappers the training monitor watched are gone).
    monitor.close()
    monitor = RangeMonitor([m for _, m in activation_modules(student)], args.range_bound)
    accuracy(student, x, y)
    names = [n for n, _ in activation_modules(student)]
    ranges = [{"layer": n, "range": [-args.range_bound, args.range_bound], "observed_max_abs": round(m, 4)}
              for n, m in zip(names, monitor.max_abs)]
    monitor.reset()
    accuracy(student, xt, yt)
    test_max = monitor.max_abs
    monitor.close()
    escaping = [r["layer"] for r in ranges if r["observed_max_abs"] > args.range_bound]
    if escaping:
        log(f"warning: activations escape [-{args.range_bound}, {args.range_bound}] in {escaping}")

    args.out.mkdir(parents=True, exist_ok=True)
    model_path = args.out / "model.onnx"
    preprocessing = {"scale": 1 / 255, "mean": mean, "std": std, "layout": "NCHW",
                     "input_shape": [channels, side, side]}
    class_names = datasets.CLASS_NAMES[args.dataset]
    worst = export_onnx(student, (channels, side, side), model_path, preprocess=preprocessing,
                        class_names=class_names, activation_ranges=ranges, check_inputs=xt[:16].numpy())
    log(f"exported {model_path} (onnxruntime matches PyTorch within {worst:.1e} relative)")
    ort_accuracy = onnx_accuracy(model_path, xt.numpy(), test_labels)
    log(f"onnxruntime test accuracy {ort_accuracy:.4f} on {len(xt)} images")

    written = []
    for i in range(min(args.images, len(test_images))):
        name = f"test-{i:02d}-label-{int(test_labels[i])}.png"
        write_png(args.out / name, test_images[i])
        written.append(name)

    depth = multiplicative_depth(student)
    elapsed = time.time() - started
    summary = {
        "dataset": args.dataset, "arch": args.arch, "train_images": len(x), "test_images": len(xt),
        "teacher_accuracy": teacher_accuracy, "student_accuracy_torch": student_accuracy,
        "onnxruntime_accuracy": ort_accuracy, "activation_ranges": ranges,
        "test_max_abs": [round(v, 4) for v in test_max], "depth": depth, "seconds": round(elapsed, 1),
        "parameters": sum(p.numel() for p in student.parameters()), "args": {k: str(v) for k, v in vars(args).items()},
    }
    (args.out / "training-summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    card = render(summary, str(student), command_line() if argv is None else ["python", "-m", "hetrain.train", *argv])
    (args.out / "model-card.md").write_text(card)
    log(f"done in {elapsed:.0f}s; depth {depth['depth']} (+{depth['coefficient_levels']} unless folded)")
    return summary


if __name__ == "__main__":
    main()
