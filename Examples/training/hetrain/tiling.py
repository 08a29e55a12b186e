"""The tile layouts he-tool packs a network's linear layers into, from a tiling or a compile report.

he-tool lowers every linear layer to an interleaved convolution on tiles of
t0 x t1 x tX x tY x tB slots (outer channels, inner channels, rows, columns, batch). The
mirrored convolutions alternate which of t0 and t1 holds the input channels: the first layer
reads `[C/t0, */t1, H~/tX, W~/tY, B/tB]` (filters-first: channels tiled by t0, filters by t1),
the second `[*/t0, C/t1, ...]` (channels-first: channels by t1, filters by t0), and so on. A
dense layer after a flatten is the convolution whose kernel covers the image; a dense layer on
a vector is a 1 x 1 convolution; a strided first convolution usually runs on the input's
space-to-depth packing (stride 1, kernel ceil(K/s), C*s^2 channels).

This module only describes layouts (`StepLayout`); `hetrain.blocks` turns them into the weight
blocks that become whole plaintexts. Sources: `--tile t0xt1xtXxtYxtB` (the layouts follow the
alternation above), or the text `he-tool compile` prints (`--plan FILE`), whose step table
gives each convolution's input layout, e.g. `conv 32x16x3x3 s2 p1 [*/8, 16/16, 14~?/8, ...]`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TILING = re.compile(r"(\d+)[x×](\d+)[x×](\d+)[x×](\d+)[x×](\d+)")
CONV_STEP = re.compile(r"conv (\d+)[x×](\d+)[x×](\d+)[x×](\d+) s(\d+) p(\d+)")
DIM = re.compile(r"^(\*|\d+)(~?)(\??)/(\d+)$")


class PlanError(ValueError):
    """A tiling, report or layout that cannot be read, or that does not fit the model."""


@dataclass(frozen=True)
class Dim:
    """One dimension of a tile layout: `n/t`, `*/t` (replicated), `n~/t` (interleaved)."""
    size: int
    tile: int
    replicated: bool = False
    interleaved: bool = False

    @property
    def tiles(self) -> int:
        return 1 if self.replicated else -(-self.size // self.tile)


def parse_dim(text: str) -> Dim:
    m = DIM.match(text.strip())
    if not m:
        raise PlanError(f"'{text}' is not a tile dimension (n/t, */t, n~/t, n?/t)")
    replicated = m.group(1) == "*"
    return Dim(1 if replicated else int(m.group(1)), int(m.group(4)), replicated, m.group(2) == "~")


def parse_layout(text: str) -> list[Dim]:
    """`[4/8, */16, 16~/8, 16~/8, 1/1]` -> five Dims (brackets optional)."""
    body = text.strip().removeprefix("[").removesuffix("]")
    return [parse_dim(part) for part in body.split(",")]


def parse_tiling(text: str) -> tuple[int, int, int, int, int]:
    """`8x16x8x8x1` (or with ×) -> (t0, t1, tX, tY, tB); every size a power of two."""
    m = TILING.fullmatch(text.strip())
    if not m:
        raise PlanError(f"'{text}': a tiling is t0xt1xtXxtYxtB, e.g. 8x16x8x8x1")
    sizes = tuple(int(v) for v in m.groups())
    if any(v < 1 or v & (v - 1) for v in sizes):
        raise PlanError(f"'{text}': tile sizes must be powers of two")
    return sizes


@dataclass(frozen=True)
class LinearLayer:
    """A linear layer as the engine sees it: filters [F, C, K, K] on a C x H x W input.
    `dense` marks an nn.Linear (after a flatten: C, H, W of the flattened tensor; on a vector:
    C = n, H = W = K = 1)."""
    name: str
    filters: int
    channels: int
    kernel: int
    stride: int
    padding: int
    height: int
    width: int
    dense: bool

    @property
    def full_image(self) -> bool:
        return self.kernel == self.height == self.width and self.padding == 0


@dataclass(frozen=True)
class StepLayout:
    """Where one linear layer's weights land: its input layout and whether the engine runs it on
    the space-to-depth packing (stride `s2d` > 1) of the input."""
    layer: LinearLayer
    layout: tuple[Dim, ...]
    s2d: int = 1

    @property
    def channel_dim(self) -> int:
        d = self.layout
        return 1 if d[0].replicated else 0  # `[C/t0, 1?/t1]` is duplicated into `[C/t0, */t1]`

    @property
    def channel_tile(self) -> int:
        return self.layout[self.channel_dim].tile

    @property
    def filter_tile(self) -> int:
        return self.layout[1 - self.channel_dim].tile

    @property
    def output_tiles(self) -> int:
        """Output tiles per filter tile: the plaintext products one block costs (one per output
        tile it reaches; a full-image convolution's output is one pixel). Exact for the aligned
        interleavings the engine's plans use (input tiles = stride x output tiles per axis)."""
        layer, (_, _, rows, cols, batch) = self.layer, self.layout
        if layer.full_image and self.s2d == 1:
            return batch.tiles
        oh = (layer.height + 2 * layer.padding - layer.kernel) // layer.stride + 1
        ow = (layer.width + 2 * layer.padding - layer.kernel) // layer.stride + 1
        return -(-oh // rows.tile) * -(-ow // cols.tile) * batch.tiles


def layouts_from_tiling(layers: list[LinearLayer], tiling: tuple[int, int, int, int, int],
                        space_to_depth: bool = True) -> list[StepLayout]:
    """The layouts of a chain in one tiling: filters-first for layers 0, 2, ..., channels-first
    for 1, 3, ...; a strided first convolution on its space-to-depth packing unless told not."""
    t0, t1, tx, ty, tb = tiling
    out = []
    for k, layer in enumerate(layers):
        s2d = layer.stride if k == 0 and space_to_depth and layer.stride > 1 and not layer.dense else 1
        c, h, w = layer.channels * s2d * s2d, layer.height, layer.width
        if s2d > 1:
            kp = -(-layer.kernel // s2d)
            h = (layer.height + 2 * layer.padding - layer.kernel) // s2d + kp
            w = (layer.width + 2 * layer.padding - layer.kernel) // s2d + kp
        image = (Dim(h, tx, interleaved=True), Dim(w, ty, interleaved=True), Dim(1, tb))
        if k % 2 == 0:
            layout = (Dim(c, t0), Dim(1, t1, replicated=True)) + image
        else:
            layout = (Dim(1, t0, replicated=True), Dim(c, t1)) + image
        out.append(StepLayout(layer, layout, s2d))
    return out


def layouts_from_report(layers: list[LinearLayer], text: str) -> tuple[list[StepLayout], str]:
    """The layouts of the convolution steps in a `he-tool compile` report, matched in order to
    `layers` (steps matching no layer, such as a join's identity convolution, are skipped).
    Returns the layouts and the report's tiling line."""
    tiling = next((line.strip() for line in text.splitlines() if line.startswith("tiling ")), None)
    if tiling is None:
        raise PlanError("no 'tiling ...' line: pass the text `he-tool compile` prints on stdout")
    steps = []
    for line in text.splitlines():
        conv, layout = CONV_STEP.search(line), re.search(r"\[[^\]]*\]", line)
        if conv and layout and re.match(r"^\s*\d+\s", line):
            steps.append((tuple(int(v) for v in conv.groups()), parse_layout(layout.group(0))))
    out, i = [], 0
    for layer in layers:
        while i < len(steps) and match(layer, steps[i][0]) is None:
            i += 1
        if i == len(steps):
            raise PlanError(f"{layer.name}: no convolution step of the report matches "
                            f"[{layer.filters}, {layer.channels}, {layer.kernel}, {layer.kernel}]; "
                            "was the report made from this model?")
        out.append(StepLayout(layer, tuple(steps[i][1]), match(layer, steps[i][0])))
        i += 1
    return out, tiling


def match(layer: LinearLayer, step: tuple[int, ...]) -> int | None:
    """1 when the report's step `conv F x C x K x K sS pP` is the layer itself, s > 1 when it is
    the layer on its stride-s space-to-depth packing, None when it is another layer."""
    f, c, k, _, s, p = step
    if f != layer.filters:
        return None
    if (c, k, s, p) == (layer.channels, layer.kernel, layer.stride, layer.padding):
        return 1
    t = layer.stride
    if t > 1 and (c, k, s, p) == (layer.channels * t * t, -(-layer.kernel // t), 1, 0):
        return t
    return None


def engine_extra_levels(linear_layers: int) -> int:
    """Levels the engine spends beyond the toolkit's count in a chain: every filters-first
    layer after the first (linear layers 3, 5, ...) reads a channels-first output that must be
    cleared and duplicated first, one plaintext product (seen in compile reports: MNIST's
    toolkit depth 7 compiles to depth 8)."""
    return max(0, (linear_layers - 1) // 2)
