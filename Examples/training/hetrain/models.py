"""The HE-friendly CNN family the bundled models use.

conv(k5, s2) -> BN -> act -> conv(k3, s2) -> BN -> act -> flatten -> dense -> BN -> act -> dense.
Strided convolutions instead of pooling, BatchNorm before every activation (it keeps their
inputs centred and scaled, and folds into the preceding linear layer at import), three
activation layers. The teacher is the same network with ReLU.
"""

from __future__ import annotations

from torch import nn


class HENet(nn.Module):
    def __init__(self, in_channels: int = 1, image: int = 28, width1: int = 8, width2: int = 16,
                 hidden: int = 64, classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width1, 5, stride=2, padding=2)
        self.bn1 = nn.BatchNorm2d(width1)
        self.act1 = nn.ReLU()
        self.conv2 = nn.Conv2d(width1, width2, 3, stride=2, padding=1)
        self.bn2 = nn.BatchNorm2d(width2)
        self.act2 = nn.ReLU()
        side = ((image + 1) // 2 + 1) // 2
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(width2 * side * side, hidden)
        self.bn3 = nn.BatchNorm1d(hidden)
        self.act3 = nn.ReLU()
        self.fc2 = nn.Linear(hidden, classes)
        self.activation_channels = {"act1": width1, "act2": width2, "act3": hidden}

    def forward(self, x):
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.act2(self.bn2(self.conv2(x)))
        x = self.act3(self.bn3(self.fc1(self.flatten(x))))
        return self.fc2(x)
