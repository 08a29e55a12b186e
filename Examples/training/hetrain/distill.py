"""Knowledge distillation from a ReLU teacher (Hinton et al.), as in the HE-friendly AlexNet."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
                      temperature: float = 4.0, weight: float = 0.7) -> torch.Tensor:
    """weight * T^2 * KL(softmax(teacher/T) || softmax(student/T)) + (1 - weight) * CE(student, labels).

    The T^2 factor keeps the soft-target gradients on the scale of the hard-label ones.
    """
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    if not 0.0 <= weight <= 1.0:
        raise ValueError("distillation weight must lie in [0, 1]")
    soft = F.kl_div(F.log_softmax(student_logits / temperature, dim=1),
                    F.softmax(teacher_logits / temperature, dim=1), reduction="batchmean")
    hard = F.cross_entropy(student_logits, labels)
    return weight * temperature ** 2 * soft + (1.0 - weight) * hard
