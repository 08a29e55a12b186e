"""The HE-friendly CNN family the bundled models use, and TenSEAL's tutorial network.

conv(k5, s2) -> BN -> act -> conv(k3, s2) -> BN -> act -> flatten -> dense -> BN -> act -> dense.
Strided convolutions instead of pooling, BatchNorm before every activation (it keeps their
inputs centred and scaled, and folds into the preceding linear layer at import), three
activation layers. The teacher is the same network with ReLU.

TenSEALTutorialNet is the network of TenSEAL's tutorial "Encrypted Convolution on MNIST":
conv(1 -> 4, k7, s3, no padding; 28 x 28 -> 4 x 8 x 8) -> x^2 -> flatten (256) -> dense 64
-> x^2 -> dense 10. Plain squares (no coefficients), no BatchNorm; trained directly.
"""

from __future__ import annotations

from torch import nn

from .activations import Square


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


class TenSEALTutorialNet(nn.Module):
    """TenSEAL tutorial 4's CNN: conv 7x7 stride 3 -> x^2 -> fc 256->64 -> x^2 -> fc 64->10."""

    def __init__(self, in_channels: int = 1, image: int = 28, channels: int = 4, hidden: int = 64,
                 classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 7, stride=3, padding=0)
        self.act1 = Square()
        side = (image - 7) // 3 + 1
        self.flatten = nn.Flatten()  # channel-major, like the tutorial's x.view(-1, 256)
        self.fc1 = nn.Linear(channels * side * side, hidden)
        self.act2 = Square()
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):
        x = self.act1(self.conv1(x))
        x = self.act2(self.fc1(self.flatten(x)))
        return self.fc2(x)
