"""Receptive-field arithmetic: size, jump (effective stride) and start of a unit's field in input pixels.

For a layer with kernel ``k``, stride ``s``, padding ``p`` and dilation ``d`` (effective kernel
``k' = d (k - 1) + 1``) applied to a map whose units have field size ``r``, jump ``j`` and start ``c``
(the centre, in input pixel coordinates, of the field of the map's first unit; pixel centres are
0, 1, ..., N - 1)::

    r_out = r + (k' - 1) j
    j_out = j s
    c_out = c + ((k' - 1) / 2 - p) j

(Dang Ha The Hien, "A guide to receptive field arithmetic", 2017; Araujo et al., "Computing Receptive Fields
of Convolutional Neural Networks", Distill 2019). Parallel branches that are added or concatenated see the
union of their fields (for branches of equal jump and centre, the max of the sizes). A global pool, flatten
or linear layer sees the whole map: ``r + (n - 1) j`` for an ``n``-unit map.

These are theoretical fields: they can exceed the image (then part of the field is padding), and the
effective field of a trained network is smaller (Luo et al. 2016).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Pair = tuple[float, float]


def _pair(v: int | float | tuple | list) -> Pair:
    if isinstance(v, (tuple, list)):
        return (v[0], v[-1]) if len(v) in (1, 2) else (v[-2], v[-1])
    return (v, v)


@dataclass(frozen=True)
class ReceptiveField:
    """Field of one unit of a feature map, per axis (height, width), in input pixels.

    Attributes:
        size: field size.
        jump: distance in input pixels between the fields of adjacent units (the effective stride).
        start: centre of the field of the first unit (may be negative: padding).
        is_global: the unit sees the whole map it was pooled/flattened from (a classifier's field).
    """

    size: Pair = (1, 1)
    jump: Pair = (1, 1)
    start: Pair = (0.0, 0.0)
    is_global: bool = False

    def window(self, kernel, stride=1, padding=0, dilation=1) -> ReceptiveField:
        """The field after a conv or pool with this geometry (ints or per-axis pairs)."""
        k, s, p, d = _pair(kernel), _pair(stride), _pair(padding), _pair(dilation)
        size, jump, start = [], [], []
        for ax in range(2):
            keff = d[ax] * (k[ax] - 1) + 1
            size.append(self.size[ax] + (keff - 1) * self.jump[ax])
            jump.append(self.jump[ax] * s[ax])
            start.append(self.start[ax] + ((keff - 1) / 2 - p[ax]) * self.jump[ax])
        return ReceptiveField(_norm(size), _norm(jump), _norm(start), self.is_global)

    def pad(self, top: float, left: float) -> ReceptiveField:
        """The field after explicit zero padding (``F.pad``): the first unit moves up/left."""
        start = (self.start[0] - top * self.jump[0], self.start[1] - left * self.jump[1])
        return ReceptiveField(self.size, self.jump, _norm(start), self.is_global)

    def adaptive(self, in_hw: tuple[int, int], out_hw: tuple[int, int]) -> ReceptiveField:
        """The field after an adaptive pool from ``in_hw`` to ``out_hw`` units.

        Bin ``i`` covers input units ``floor(i n / o)`` to ``ceil((i + 1) n / o) - 1``. When ``o`` divides
        ``n`` this is a pool with kernel = stride = ``n / o``; otherwise the widest bin gives the size and the
        jump ``n / o`` is an average (bins are not equally spaced).
        """
        if tuple(out_hw) == (1, 1):
            return self.globalize(in_hw)
        size, jump, start = [], [], []
        for ax in range(2):
            n, o = in_hw[ax], out_hw[ax]
            widths = [math.ceil((i + 1) * n / o) - math.floor(i * n / o) for i in range(o)]
            size.append(self.size[ax] + (max(widths) - 1) * self.jump[ax])
            jump.append(self.jump[ax] * n / o)
            start.append(self.start[ax] + (widths[0] - 1) / 2 * self.jump[ax])
        return ReceptiveField(_norm(size), _norm(jump), _norm(start), self.is_global)

    def globalize(self, in_hw: tuple[int, int]) -> ReceptiveField:
        """The field of a unit that sees every unit of an ``in_hw`` map (global pool, flatten, linear)."""
        size = [self.size[ax] + (in_hw[ax] - 1) * self.jump[ax] for ax in range(2)]
        jump = [self.jump[ax] * in_hw[ax] for ax in range(2)]
        start = [self.start[ax] + (in_hw[ax] - 1) / 2 * self.jump[ax] for ax in range(2)]
        return ReceptiveField(_norm(size), _norm(jump), _norm(start), True)

    @staticmethod
    def union(fields: list[ReceptiveField]) -> ReceptiveField:
        """The field of a unit computed from several maps at the same position (add, concat, multiply)."""
        if len(fields) == 1:
            return fields[0]
        size, jump, start = [], [], []
        for ax in range(2):
            lo = min(f.start[ax] - (f.size[ax] - 1) / 2 for f in fields)
            hi = max(f.start[ax] + (f.size[ax] - 1) / 2 for f in fields)
            size.append(hi - lo + 1)
            jump.append(max(f.jump[ax] for f in fields))
            start.append((lo + hi) / 2)
        return ReceptiveField(_norm(size), _norm(jump), _norm(start), any(f.is_global for f in fields))

    def describe(self) -> str:
        """``'19'``, or ``'19x11'`` for a non-square field."""
        return _fmt(self.size)


def _norm(values: list[float]) -> Pair:
    return tuple(int(v) if float(v).is_integer() else float(v) for v in values)  # type: ignore[return-value]


def _fmt(pair: Pair) -> str:
    h, w = (f"{v:g}" for v in pair)
    return h if h == w else f"{h}x{w}"


def format_pair(pair: Pair) -> str:
    """``(4, 4) -> '4'``, ``(4, 2) -> '4x2'``."""
    return _fmt(pair)
