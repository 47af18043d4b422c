"""Share of parameters and multiply-adds per stage of a network.

GoogLeNet's stages are the paper's: the stem (everything before inception 3a), the Inception stages 3, 4
and 5 (with the max pool that follows each), and the head (global pool, dropout, classifier). For any other
model a stage is a run of rows at the same effective stride (jump) of their output, e.g. ResNet-50's
``jump 4`` (maxpool, layer1), ``jump 8`` (layer2) and so on; rows whose units see the whole image (global
pool, flatten, classifier) are the head. Auxiliary heads are left out: they are not part of the inference
network, whose totals the shares divide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .profile import LayerRow, ModelProfile, is_aux_row
from .receptive import format_pair

_INCEPTION = re.compile(r"^inception(\d)")


@dataclass
class Stage:
    """Rows of one stage and what they cost."""

    name: str
    rows: list[str]
    params: int = 0
    macs: int = 0
    macs_share: float = 0.0  # of the inference network's MACs
    params_share: float = 0.0


def _generic_stage(row: LayerRow) -> str:
    if row.rf is None:
        return "?"
    if row.rf.is_global or row.output_shape is None or len(row.output_shape) != 3:
        return "head"
    return f"jump {format_pair(row.rf.jump)}"


def stage_names(prof: ModelProfile) -> dict[str, str]:
    """Row name -> stage name, for the rows of the inference network."""
    rows = [r for r in prof.rows if not is_aux_row(r.name) and r.calls]
    paper = any(_INCEPTION.match(r.name) for r in rows)
    names: dict[str, str] = {}
    current = "stem"
    for r in rows:
        if not paper:
            names[r.name] = _generic_stage(r)
            continue
        m = _INCEPTION.match(r.name)
        if m:
            current = m.group(1)
        elif r.rf is not None and (r.rf.is_global or len(r.output_shape or ()) != 3):
            current = "head"
        names[r.name] = current
    return names


def stage_table(prof: ModelProfile) -> list[Stage]:
    """Stages in network order with their params, MACs and shares of the inference network's totals."""
    stages: dict[str, Stage] = {}
    by_name = {r.name: r for r in prof.rows}
    for row_name, stage in stage_names(prof).items():
        st = stages.setdefault(stage, Stage(stage, []))
        st.rows.append(row_name)
        st.params += by_name[row_name].params
        st.macs += by_name[row_name].macs
    for st in stages.values():
        st.macs_share = st.macs / prof.main_macs if prof.main_macs else 0.0
        st.params_share = st.params / prof.main_params if prof.main_params else 0.0
    return list(stages.values())
