"""Polynomial activations that CKKS can evaluate, and the ReLU-to-polynomial transition."""

from __future__ import annotations

import torch
from torch import nn


class PolyActivation(nn.Module):
    """p(x) = sum_k c_k x^k with trainable coefficients, one set per channel or shared.

    Channels are dimension 1 (N x C x H x W after a convolution, N x C after a dense layer).
    Degree 2 is written `a * x * x + b * x + c`, the spelling he-tool fuses into one
    polynomial layer; higher degrees use explicit powers.
    """

    def __init__(self, channels: int = 1, degree: int = 2, coefficients: torch.Tensor | None = None):
        super().__init__()
        if not 2 <= degree <= 8:
            raise ValueError(f"degree {degree}: choose 2 ... 8")
        self.degree = degree
        self.channels = channels
        if coefficients is None:
            # x^2 / 8 + x / 2 + 0.2: a quadratic close to ReLU on [-4, 4], a safe start.
            coefficients = torch.zeros(channels, degree + 1)
            coefficients[:, 0], coefficients[:, 1], coefficients[:, 2] = 0.2, 0.5, 0.125
        if coefficients.shape != (channels, degree + 1):
            raise ValueError(f"coefficients of shape {tuple(coefficients.shape)}, expected {(channels, degree + 1)}")
        # Stored lowest power first: coefficients[:, k] multiplies x^k.
        self.coefficients = nn.Parameter(coefficients.clone().float())

    def _shaped(self, k: int, x: torch.Tensor) -> torch.Tensor:
        c = self.coefficients[:, k]
        return c.view(1, -1, *([1] * (x.dim() - 2))) if self.channels > 1 else c.view(())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.degree == 2:
            return self._shaped(2, x) * x * x + self._shaped(1, x) * x + self._shaped(0, x)
        out = self._shaped(0, x) + self._shaped(1, x) * x
        power = x
        for k in range(2, self.degree + 1):
            power = power * x
            out = out + self._shaped(k, x) * power
        return out

    def extra_repr(self) -> str:
        return f"channels={self.channels}, degree={self.degree}"


class Square(nn.Module):
    """x * x, with no coefficients (TenSEAL's tutorial activation). Exported as Mul(x, x)."""

    degree = 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * x


class ReLUToPoly(nn.Module):
    """(1 - lam) * ReLU(x) + lam * p(x): the smooth transition used while fine-tuning.

    `lam` is a buffer the training loop raises from 0 to 1; at 1 the module is exactly its
    polynomial, which `finalize` returns for export.
    """

    def __init__(self, poly: PolyActivation):
        super().__init__()
        self.poly = poly
        self.register_buffer("lam", torch.tensor(0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lam = float(self.lam)
        if lam >= 1.0:
            return self.poly(x)
        if lam <= 0.0:
            return torch.relu(x)
        return (1.0 - lam) * torch.relu(x) + lam * self.poly(x)

    def finalize(self) -> PolyActivation:
        return self.poly


def set_transition(model: nn.Module, lam: float) -> None:
    """Sets the mixing weight of every ReLUToPoly in the model."""
    for module in model.modules():
        if isinstance(module, ReLUToPoly):
            module.lam.fill_(min(max(lam, 0.0), 1.0))


def finalize(model: nn.Module) -> nn.Module:
    """Replaces every ReLUToPoly by its polynomial (in place) and returns the model."""
    for name, child in list(model.named_children()):
        if isinstance(child, ReLUToPoly):
            setattr(model, name, child.finalize())
        else:
            finalize(child)
    return model


def activation_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The activation layers (ReLU, ReLUToPoly, PolyActivation, Square) in forward-definition order."""
    kinds = (nn.ReLU, ReLUToPoly, PolyActivation, Square)
    out = []
    for name, module in model.named_modules():
        if isinstance(module, kinds) and not any(name.startswith(n + ".") for n, _ in out):
            out.append((name, module))
    return out
