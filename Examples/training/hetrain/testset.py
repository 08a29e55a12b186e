"""Writes a dataset's test split in the model's input space, for checking a bundled model's
stated accuracy with he-tool (the engine reads .npy tensors as they are):

    python -m hetrain.testset --dataset cmnist32 --out /tmp/cmnist32
    he-tool predict ../cmnist32/model.onnx /tmp/cmnist32/images.npy --labels /tmp/cmnist32/labels-idx1-ubyte

images.npy: float32 N x C x H x W, preprocessed exactly as the model's metadata says;
labels-idx1-ubyte: the labels as an IDX file (magic 2049, big-endian count, one byte each).
"""

from __future__ import annotations

import argparse
import struct
from pathlib import Path

import numpy as np

from . import data as datasets


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=["mnist", "fashion-mnist", "cmnist32"], required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--data", type=Path, default=datasets.DEFAULT_DATA)
    p.add_argument("--limit", type=int, default=0)
    args = p.parse_args(argv)
    images, labels = datasets.load_split(args.dataset, "test", args.data)
    if args.limit:
        images, labels = images[:args.limit], labels[:args.limit]
    if args.dataset in datasets.STATS:
        mean, std = datasets.STATS[args.dataset]
    else:
        mean, std = datasets.channel_stats(datasets.load_split(args.dataset, "train", args.data)[0])
    x = images.astype(np.float32) / 255.0
    x = (x - np.array(mean, dtype=np.float32).reshape(1, -1, 1, 1)) / np.array(std, dtype=np.float32).reshape(1, -1, 1, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    np.save(args.out / "images.npy", x.astype(np.float32))
    header = struct.pack(">II", 2049, len(labels))
    (args.out / "labels-idx1-ubyte").write_bytes(header + labels.astype(np.uint8).tobytes())
    print(f"wrote {len(x)} images {x.shape[1:]} and labels to {args.out}")


if __name__ == "__main__":
    main()
