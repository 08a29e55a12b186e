"""Datasets from ../shared/data (IDX files, gzip or not) and the derived cmnist32 set.

Nothing is downloaded: MNIST and Fashion-MNIST come from the byte-identical copies in the
shared data folder; cmnist32 (3 x 32 x 32, coloured and padded MNIST digits) is generated
deterministically from MNIST, because no CIFAR-10 copy can be obtained here.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np

def _default_data() -> Path:
    """$HE_TOOL_DATA, else ../shared/data beside the repository, else /work/shared/data."""
    if os.environ.get("HE_TOOL_DATA"):
        return Path(os.environ["HE_TOOL_DATA"])
    beside = Path(__file__).resolve().parents[3].parent / "shared" / "data"
    return beside if beside.exists() or not Path("/work/shared/data").exists() else Path("/work/shared/data")


#: The shared data folder (see `_default_data`).
DEFAULT_DATA = _default_data()

#: Pixel statistics over the training sets (pixel/255), as the data README states them.
STATS = {
    "mnist": ([0.1307], [0.3081]),
    "fashion-mnist": ([0.2860], [0.3530]),
}

CLASS_NAMES = {
    "mnist": [str(i) for i in range(10)],
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
    "cmnist32": [str(i) for i in range(10)],
}


class DataError(ValueError):
    """A data file that is missing, truncated or not the IDX file it claims to be."""


def read_idx(path: Path) -> np.ndarray:
    """Reads an IDX file (optionally gzip-compressed) of unsigned bytes, checking its header."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file; point --data (or HE_TOOL_DATA) at the shared data folder")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise DataError(f"{path}: corrupted gzip stream ({error})") from error
    if len(raw) < 4:
        raise DataError(f"{path}: {len(raw)} bytes, too short for an IDX header")
    zero, dtype, ndim = raw[0:2], raw[2], raw[3]
    if zero != b"\x00\x00" or dtype != 0x08 or not 1 <= ndim <= 4:
        raise DataError(f"{path}: not an IDX file of unsigned bytes (magic {raw[:4].hex()})")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    dims = struct.unpack(">" + "I" * ndim, raw[4:header])
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise DataError(f"{path}: {len(raw)} bytes, expected {expected} for dimensions {dims}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def load_split(name: str, split: str, data: Path = DEFAULT_DATA) -> tuple[np.ndarray, np.ndarray]:
    """Images (N x C x H x W, uint8) and labels (N, int64) of a dataset split ("train"/"test")."""
    if name == "cmnist32":
        images, labels = load_split("mnist", split, data)
        return colour_mnist(images, labels, seed=0 if split == "train" else 1), labels
    if name not in STATS:
        raise DataError(f"unknown dataset {name!r}; choose mnist, fashion-mnist or cmnist32")
    prefix = "train" if split == "train" else "t10k"
    folder = Path(data) / name
    images = read_idx(folder / f"{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz")
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{folder}: images {images.shape} and labels {labels.shape} do not match")
    return images[:, None, :, :], labels.astype(np.int64)


def colour_mnist(images: np.ndarray, labels: np.ndarray, seed: int) -> np.ndarray:
    """cmnist32: each 28 x 28 digit padded to 32 x 32 at a random offset (0..4 per axis), its
    ink given a random bright colour and its background a random dark colour, all drawn
    from a PCG64 generator seeded with `seed`, so the set is the same on every machine."""
    del labels  # the colouring is independent of the class, so colour carries no label
    rng = np.random.Generator(np.random.PCG64(seed))
    n = len(images)
    ink = rng.uniform(0.55, 1.0, size=(n, 3, 1, 1))
    background = rng.uniform(0.0, 0.35, size=(n, 3, 1, 1))
    dx = rng.integers(0, 5, size=n)
    dy = rng.integers(0, 5, size=n)
    grey = images.reshape(n, 1, 28, 28).astype(np.float64) / 255.0
    out = np.empty((n, 3, 32, 32), dtype=np.uint8)
    canvas = np.zeros((1, 32, 32))
    for i in range(n):
        canvas[:] = 0
        canvas[0, dy[i]:dy[i] + 28, dx[i]:dx[i] + 28] = grey[i, 0]
        mixed = background[i] * (1 - canvas) + ink[i] * canvas
        out[i] = np.clip(np.rint(mixed * 255), 0, 255).astype(np.uint8)
    return out


def channel_stats(images: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of pixel/255 over a uint8 N x C x H x W set."""
    x = images.astype(np.float64) / 255.0
    return [float(v) for v in x.mean(axis=(0, 2, 3))], [float(v) for v in x.std(axis=(0, 2, 3))]
