"""Weight blocks that he-tool packs into whole plaintexts: the unit of HE-aware pruning.

Unstructured zeros save nothing under CKKS: a plaintext with one non-zero costs a full
product. The engine's convolution (`TileTensor+ConvInterleaved.swift`) multiplies, per output
tile, tap (dy, dx) and input-channel tile, one rotated input tile by one plaintext holding
W[f, c, dy, dx] for the f of one filter tile and the c of one channel tile; its full-image
variant (a dense layer after a flatten, `TileTensor+ConvFullImage.swift`) one plaintext per
(filter tile, channel tile, input row tile, input column tile). A block whose weights are all
zero is a product (and possibly a rotation) the engine can skip.

Every block structure used here is a product of per-axis partitions of the weight viewed as
[F, C, KH, KW] (a dense layer's [m, n] as [m, C, H, W] of its flattened input, or [m, n, 1, 1]):

    block(f, c, y, x) = ((f // filters_per_block * nC + c // channels_per_block) * nR
                         + row_groups[y]) * nX + column_groups[x]

with nC = ceil(C / channels_per_block), nR = max(row_groups) + 1, nX = max(column_groups) + 1.
This is also the encoding of the `he_tool.budgets` / `he_tool.block_pruning` metadata (see the
toolkit README): a geometry dict plus the list of zeroed block indices.

- Tap convolution: filters_per_block, channels_per_block = the layout's filter and channel
  tiles; row_groups = column_groups = [0, 1, ..., K-1] (one block per tap).
- On the stride-s space-to-depth packing (the engine's strided first convolution): the packed
  channel of (c, dy, dx) is c*s^2 + (dy % s)*s + dx % s and its tap (dy // s, dx // s), so a
  block is channels_per_block = tile / s^2 original channels (s^2 must divide the tile) and
  row_groups = [dy // s].
- Full-image convolution: row_groups[y] = the input tile holding row y (y mod e for an
  interleaved `H~/t` dimension with e = ceil(H/t) tiles): the coarser of the engine's two
  dense paths, so a zero block is skipped whichever path the optimizer picks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .tiling import PlanError, StepLayout


@dataclass(frozen=True)
class BlockGeometry:
    """The block partition of one layer's weight (see the module docstring)."""
    shape: tuple[int, int, int, int]
    filters_per_block: int
    channels_per_block: int
    row_groups: tuple[int, ...]
    column_groups: tuple[int, ...]

    @property
    def grid(self) -> tuple[int, int, int, int]:
        f, c = self.shape[:2]
        return (-(-f // self.filters_per_block), -(-c // self.channels_per_block),
                max(self.row_groups) + 1, max(self.column_groups) + 1)

    @property
    def count(self) -> int:
        return int(np.prod(self.grid))

    def ids(self) -> np.ndarray:
        """The block index of every weight element, shape [F, C, KH, KW]."""
        f, c, kh, kw = self.shape
        nf, nc, nr, nx = self.grid
        fi = np.arange(f) // self.filters_per_block
        ci = np.arange(c) // self.channels_per_block
        ri = np.asarray(self.row_groups)
        xi = np.asarray(self.column_groups)
        return (((fi[:, None, None, None] * nc + ci[None, :, None, None]) * nr + ri[None, None, :, None]) * nx
                + xi[None, None, None, :])

    def to_json(self) -> dict:
        return {"shape": list(self.shape), "filters_per_block": self.filters_per_block,
                "channels_per_block": self.channels_per_block, "row_groups": list(self.row_groups),
                "column_groups": list(self.column_groups)}

    @staticmethod
    def from_json(d: dict) -> "BlockGeometry":
        return BlockGeometry(tuple(d["shape"]), d["filters_per_block"], d["channels_per_block"],
                             tuple(d["row_groups"]), tuple(d["column_groups"]))


def geometry(step: StepLayout) -> BlockGeometry:
    """The plaintext blocks of one layer in its layout."""
    layer = step.layer
    tf, tc = step.filter_tile, step.channel_tile
    k = layer.kernel
    if step.s2d > 1:
        s = step.s2d
        if tc % (s * s):
            raise PlanError(f"{layer.name}: a channel tile of {tc} on the stride-{s} space-to-depth packing mixes "
                            "taps of different parities in one plaintext; its blocks are not a product of "
                            "per-axis partitions (leave this layer unpruned)")
        groups = tuple(d // s for d in range(k))
        return BlockGeometry((layer.filters, layer.channels, k, k), tf, tc // (s * s), groups, groups)
    if layer.full_image:
        rows, cols = step.layout[2], step.layout[3]

        def tile_of(dim, n):
            return tuple((y % dim.tiles) if dim.interleaved else (y // dim.tile) for y in range(n))
        return BlockGeometry((layer.filters, layer.channels, layer.height, layer.width), tf, tc,
                             tile_of(rows, layer.height), tile_of(cols, layer.width))
    taps = tuple(range(k))
    return BlockGeometry((layer.filters, layer.channels, k, k), tf, tc, taps, taps)


def block_norms(weight: np.ndarray, geo: BlockGeometry) -> np.ndarray:
    """The root-mean-square weight of every block (the magnitude criterion: the mean, not the
    sum, so that partial blocks at the edges are not favoured for pruning)."""
    w = np.asarray(weight, dtype=np.float64).reshape(geo.shape)
    ids = geo.ids().ravel()
    sums = np.bincount(ids, weights=(w * w).ravel(), minlength=geo.count)
    sizes = np.bincount(ids, minlength=geo.count)
    return np.sqrt(sums / np.maximum(sizes, 1))


def element_mask(zeroed: list[int] | np.ndarray, geo: BlockGeometry) -> np.ndarray:
    """1.0 where a weight is kept, 0.0 in the zeroed blocks; shape geo.shape."""
    keep = np.ones(geo.count)
    keep[np.asarray(list(zeroed), dtype=np.int64)] = 0.0
    return keep[geo.ids()]


def zero_blocks(weight: np.ndarray, geo: BlockGeometry) -> list[int]:
    """The indices of the blocks whose weights are all exactly zero."""
    w = np.asarray(weight).reshape(geo.shape)
    nonzero = np.bincount(geo.ids().ravel(), weights=(w != 0).ravel().astype(np.float64), minlength=geo.count)
    return [int(i) for i in np.flatnonzero(nonzero == 0)]


def whole_groups(zeroed: list[int], geo: BlockGeometry) -> dict[str, tuple[int, int]]:
    """How many filter tiles, channel tiles and tap (pixel) groups have every block zeroed, of
    how many: a zero filter tile is a zero output tile (its channel-sum rotations can go too),
    a zero tap group of a channel tile needs no rotation of that input tile for that tap."""
    z = np.zeros(geo.count, dtype=bool)
    z[np.asarray(list(zeroed), dtype=np.int64)] = True
    grid = z.reshape(geo.grid)
    return {"filter_tiles": (int(grid.all(axis=(1, 2, 3)).sum()), geo.grid[0]),
            "channel_tiles": (int(grid.all(axis=(0, 2, 3)).sum()), geo.grid[1]),
            "tap_groups": (int(grid.all(axis=(0, 1)).sum()), geo.grid[2] * geo.grid[3])}


#: Block-grid axes a pruning order can group by: zeroing a whole group removes more than
#: products (a filter tile: an output tile and its channel-sum rotations; a tap group: the
#: rotations of the input tiles for that tap shift).
GROUP_AXES = {"filters": (0,), "channels": (1,), "taps": (2, 3)}


def pruning_order(norms: np.ndarray, geo: BlockGeometry, group: str | None = None) -> list[int]:
    """Block indices in the order to zero them: by RMS weight, or with `group` (a GROUP_AXES
    key) whole groups first, weakest group (RMS over its blocks) first, blocks by RMS inside."""
    if group is None:
        return [int(i) for i in np.argsort(norms, kind="stable")]
    axes = GROUP_AXES[group]
    grid = norms.reshape(geo.grid)
    other = tuple(a for a in range(4) if a not in axes)
    group_rms = np.sqrt((grid ** 2).mean(axis=other, keepdims=True))
    keys = np.broadcast_to(group_rms, grid.shape).ravel()
    return [int(i) for i in np.lexsort((norms, keys))]
