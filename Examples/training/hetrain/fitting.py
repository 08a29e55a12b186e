"""Distribution-aware polynomial fitting (after AutoReP's DaPa).

A polynomial that approximates ReLU uniformly on a wide interval is poor where the data
actually is. Instead, per channel, collect the pre-activation values a trained network
produces and least-squares fit p to ReLU on those samples: the fit is weighted by the
observed distribution. The result is the start of fine-tuning, or a fixed approximation.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .activations import PolyActivation


def fit_relu(samples: np.ndarray, degree: int, ridge: float = 1e-6) -> np.ndarray:
    """Coefficients c_0..c_degree minimising sum_i (p(x_i) - ReLU(x_i))^2 over the samples.

    Solved in a scaled variable t = x / s (s = max |x|) for conditioning, with a small ridge
    term, then mapped back: c_k = d_k / s^k.
    """
    x = np.asarray(samples, dtype=np.float64).ravel()
    if x.size < degree + 1:
        raise ValueError(f"{x.size} samples cannot determine a degree-{degree} polynomial")
    s = max(float(np.abs(x).max()), 1e-6)
    t = x / s
    design = np.vander(t, degree + 1, increasing=True)
    target = np.maximum(x, 0.0)
    gram = design.T @ design + ridge * x.size * np.eye(degree + 1)
    d = np.linalg.solve(gram, design.T @ target)
    return d / s ** np.arange(degree + 1)


@torch.no_grad()
def collect_preactivations(model: nn.Module, modules: list[nn.Module], batches, per_channel_limit: int = 20000,
                           seed: int = 0) -> list[list[np.ndarray]]:
    """Runs the model over `batches` (iterables of input tensors) and returns, for each module,
    per channel, up to `per_channel_limit` of the values entering it (uniformly subsampled)."""
    store: list[list[list[np.ndarray]]] = [[] for _ in modules]

    def hook(index):
        def record(_module, inputs, _output):
            x = inputs[0].detach()
            channels = x.shape[1]
            flat = x.transpose(0, 1).reshape(channels, -1).cpu().numpy()
            if not store[index]:
                store[index] = [[] for _ in range(channels)]
            for c in range(channels):
                store[index][c].append(flat[c])
        return record

    handles = [m.register_forward_hook(hook(i)) for i, m in enumerate(modules)]
    was_training = model.training
    model.eval()
    try:
        for x in batches:
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    rng = np.random.default_rng(seed)
    out = []
    for per_module in store:
        channels = []
        for chunks in per_module:
            values = np.concatenate(chunks)
            if values.size > per_channel_limit:
                values = rng.choice(values, per_channel_limit, replace=False)
            channels.append(values)
        out.append(channels)
    return out


def fitted_activation(samples_per_channel: list[np.ndarray], degree: int = 2, shared: bool = False) -> PolyActivation:
    """A PolyActivation whose coefficients are DaPa fits to the given per-channel samples."""
    if shared:
        coefficients = fit_relu(np.concatenate(samples_per_channel), degree)[None, :]
    else:
        coefficients = np.stack([fit_relu(s, degree) for s in samples_per_channel])
    return PolyActivation(channels=coefficients.shape[0], degree=degree,
                          coefficients=torch.tensor(coefficients, dtype=torch.float32))
