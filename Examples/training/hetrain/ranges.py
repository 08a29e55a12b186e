"""Keeping activations in range (after Sisyphus, "escaping activations").

A polynomial approximates ReLU only on an interval; an input outside it grows without
bound and, under encryption, turns the answer into garbage with no error. Training adds a
penalty for every activation input beyond [-bound, bound], and the largest |x| each layer
sees is measured and recorded with the model, so he-tool's range audit can check it.
"""

from __future__ import annotations

import torch
from torch import nn


class RangeMonitor:
    """Forward hooks on activation modules: the largest |x| entering each since `reset`,
    and (while `penalise` is set) the range penalty of the current forward pass."""

    def __init__(self, modules: list[nn.Module], bound: float):
        if bound <= 0:
            raise ValueError("the activation bound must be positive")
        self.bound = bound
        self.max_abs = [0.0 for _ in modules]
        self.penalty = torch.zeros(())
        self.penalise = False
        self._handles = [m.register_forward_pre_hook(self._hook(i)) for i, m in enumerate(modules)]

    def _hook(self, index: int):
        def record(_module, inputs):
            x = inputs[0]
            self.max_abs[index] = max(self.max_abs[index], float(x.detach().abs().max()))
            if self.penalise:
                # Summed over each sample's elements (a mean over all of them would drown the
                # few escaping values that matter), averaged over the batch.
                excess = torch.relu(x.abs() - self.bound)
                self.penalty = self.penalty + (excess * excess).sum() / x.shape[0]
        return record

    def start_batch(self) -> None:
        self.penalty = torch.zeros(())

    def reset(self) -> None:
        self.max_abs = [0.0 for _ in self.max_abs]

    def close(self) -> None:
        for h in self._handles:
            h.remove()
