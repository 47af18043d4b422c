"""Table 1 of the paper as printed, and its comparison with what the network computes.

The paper's params/ops columns are rounded and not always right (conv1 is printed as 2.7K / 34M, but
7x7x3x64 weights are 9.4K and ~118M multiply-adds at 112x112). We print both and the difference.
"""

from __future__ import annotations

from dataclasses import dataclass

from .profile import ModelProfile


@dataclass(frozen=True)
class Table1Row:
    """A row of Table 1 and the modules of :class:`~googlenet.models.googlenet.GoogLeNet` it covers."""

    label: str
    modules: tuple[str, ...]
    output: tuple[int, int, int]  # H, W, C as the paper prints it
    params: float | None  # as printed (K = 1e3)
    ops: float | None  # multiply-adds as printed (M = 1e6)


TABLE1: tuple[Table1Row, ...] = (
    Table1Row("conv 7x7/2", ("conv1",), (112, 112, 64), 2.7e3, 34e6),
    Table1Row("max pool 3x3/2", ("maxpool1",), (56, 56, 64), None, None),
    Table1Row("conv 3x3/1", ("conv2", "conv3"), (56, 56, 192), 112e3, 360e6),
    Table1Row("max pool 3x3/2", ("maxpool2",), (28, 28, 192), None, None),
    Table1Row("inception (3a)", ("inception3a",), (28, 28, 256), 159e3, 128e6),
    Table1Row("inception (3b)", ("inception3b",), (28, 28, 480), 380e3, 304e6),
    Table1Row("max pool 3x3/2", ("maxpool3",), (14, 14, 480), None, None),
    Table1Row("inception (4a)", ("inception4a",), (14, 14, 512), 364e3, 73e6),
    Table1Row("inception (4b)", ("inception4b",), (14, 14, 512), 437e3, 88e6),
    Table1Row("inception (4c)", ("inception4c",), (14, 14, 512), 463e3, 100e6),
    Table1Row("inception (4d)", ("inception4d",), (14, 14, 528), 580e3, 119e6),
    Table1Row("inception (4e)", ("inception4e",), (14, 14, 832), 840e3, 170e6),
    Table1Row("max pool 3x3/2", ("maxpool4",), (7, 7, 832), None, None),
    Table1Row("inception (5a)", ("inception5a",), (7, 7, 832), 1072e3, 54e6),
    Table1Row("inception (5b)", ("inception5b",), (7, 7, 1024), 1388e3, 71e6),
    Table1Row("avg pool 7x7/1", ("avgpool",), (1, 1, 1024), None, None),
    Table1Row("dropout (40%)", ("dropout",), (1, 1, 1024), None, None),
    Table1Row("linear", ("fc",), (1, 1, 1000), 1000e3, 1e6),
)


@dataclass
class Table1Comparison:
    label: str
    modules: tuple[str, ...]
    paper_output: tuple[int, int, int]
    output: tuple[int, int, int] | None
    paper_params: float | None
    params: int
    paper_ops: float | None
    macs: int


def _hwc(shape: tuple[int, ...] | None) -> tuple[int, int, int] | None:
    if shape is None:
        return None
    if len(shape) == 1:
        return (1, 1, shape[0])
    c, h, w = shape
    return (h, w, c)


def compare_table1(profile: ModelProfile) -> list[Table1Comparison]:
    """Pair each Table 1 row with the computed output shape, params and MACs of the modules it covers."""
    out = []
    for row in TABLE1:
        layers = [profile.row(m) for m in row.modules]
        out.append(
            Table1Comparison(
                label=row.label,
                modules=row.modules,
                paper_output=row.output,
                output=_hwc(layers[-1].output_shape),
                paper_params=row.params,
                params=sum(r.params for r in layers),
                paper_ops=row.ops,
                macs=sum(r.macs for r in layers),
            )
        )
    return out
