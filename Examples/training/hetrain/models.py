"""The HE-friendly CNN family the bundled models use, TenSEAL's tutorial network and CryptoNets.

conv(k5, s2) -> BN -> act -> conv(k3, s2) -> BN -> act -> flatten -> dense -> BN -> act -> dense.
Strided convolutions instead of pooling, BatchNorm before every activation (it keeps their
inputs centred and scaled, and folds into the preceding linear layer at import), three
activation layers. The teacher is the same network with ReLU.

TenSEALTutorialNet is the network of TenSEAL's tutorial "Encrypted Convolution on MNIST":
conv(1 -> 4, k7, s3, no padding; 28 x 28 -> 4 x 8 x 8) -> x^2 -> flatten (256) -> dense 64
-> x^2 -> dense 10. Plain squares (no coefficients), no BatchNorm; trained directly.

CryptoNetsNet is CryptoNets (Gilad-Bachrach et al., ICML 2016) as commonly reproduced:
conv(1 -> 5, k5, s2, padding 1; 28 x 28 -> 5 x 13 x 13) -> x^2 -> flatten (845) -> dense 100
-> x^2 -> dense 10. Plain squares, no BatchNorm, biases on every layer; trained directly.

HEResNet is a small residual network for 3 x 32 x 32 input (`--arch resnet-cmnist32`):
stem conv(k3, s2) -> BN -> act, three BasicBlocks of 16, 32, 64 channels (the last two with
stride 2), global average pooling, dense 10. Seven activations; every Add joins two tensors
of one shape, so the exported graph holds only Conv, Add, Mul, GlobalAveragePool, Flatten and
Gemm once BatchNorm is folded.
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


class CryptoNetsNet(nn.Module):
    """CryptoNets: conv 5x5 stride 2 padding 1 (1 -> 5) -> x^2 -> fc 845->100 -> x^2 -> fc 100->10."""

    def __init__(self, in_channels: int = 1, image: int = 28, channels: int = 5, hidden: int = 100,
                 classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 5, stride=2, padding=1)
        self.act1 = Square()
        side = (image + 2 - 5) // 2 + 1
        self.flatten = nn.Flatten()  # channel-major
        self.fc1 = nn.Linear(channels * side * side, hidden)
        self.act2 = Square()
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):
        x = self.act1(self.conv1(x))
        x = self.act2(self.fc1(self.flatten(x)))
        return self.fc2(x)


class BasicBlock(nn.Module):
    """conv(k3, stride) -> BN -> act1 -> conv(k3) -> BN, plus the shortcut; added; then act2.

    The shortcut is the identity when the shapes match, else a projection: conv(k1, stride)
    -> BN, so both operands of the addition have the same shape. Under CKKS the shortcut runs
    in parallel with the main path (1 level against 3), so it adds no depth. Submodules are
    registered in forward order (activation_modules relies on it).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.act1 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride == 1 and in_channels == out_channels:
            self.shortcut = nn.Identity()
        else:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(out_channels))
        self.act2 = nn.ReLU()
        self.out_channels = out_channels

    def forward(self, x):
        out = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        return self.act2(out + self.shortcut(x))


class HEResNet(nn.Module):
    """Stem conv(k3, s`stem_stride`) -> BN -> act, one BasicBlock per width (stride 1 for the
    first, 2 after), global average pooling, flatten, dense. The teacher is this with ReLU."""

    def __init__(self, in_channels: int = 3, widths: tuple[int, ...] = (16, 32, 64), stem_stride: int = 2,
                 classes: int = 10):
        super().__init__()
        if not widths:
            raise ValueError("HEResNet needs at least one block width")
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, stride=stem_stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.act1 = nn.ReLU()
        self.activation_channels = {"act1": widths[0]}
        previous = widths[0]
        for i, width in enumerate(widths, start=1):
            block = BasicBlock(previous, width, stride=1 if i == 1 else 2)
            setattr(self, f"block{i}", block)
            self.activation_channels[f"block{i}.act1"] = width
            self.activation_channels[f"block{i}.act2"] = width
            previous = width
        self.blocks = len(widths)
        self.pool = nn.AdaptiveAvgPool2d(1)  # exported as GlobalAveragePool
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(previous, classes)

    def forward(self, x):
        x = self.act1(self.bn1(self.conv1(x)))
        for i in range(1, self.blocks + 1):
            x = getattr(self, f"block{i}")(x)
        return self.fc(self.flatten(self.pool(x)))
