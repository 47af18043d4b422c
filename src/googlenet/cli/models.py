"""``googlenet models``: every registered model with its family, parameters and multiply-adds."""

from __future__ import annotations

import argparse
import re
from dataclasses import asdict, dataclass

from tabulate import tabulate

from ..analysis.profile import profile_model
from ..factory import list_models, model_info
from ..probe import meta_model, shapes_only_batchnorm
from ._common import human, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list registered models with params and MACs at their default input size")
    p.add_argument("pattern", nargs="?", default=None, help="fnmatch filter on names, e.g. 'resnet*'")
    p.add_argument("--family", default=None, help="only this family (alexnet, vgg, resnet, densenet, googlenet)")
    p.add_argument("--no-macs", action="store_true", help="skip profiling (names, families and sizes only)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=run)


@dataclass
class ModelRow:
    """One model's figures at its default input size (1000 classes, inference network)."""

    name: str
    family: str
    input_size: int
    min_input_size: int | None
    params: int | None = None  # auxiliary heads excluded: they are dropped at inference
    macs: int | None = None
    aux_params: int = 0
    description: str = ""


def model_rows(names: list[str], with_macs: bool = True) -> list[ModelRow]:
    """Figures for ``names``, each model built on the meta device (no memory, no arithmetic)."""
    rows = []
    for name in names:
        info = model_info(name)
        row = ModelRow(name, info.family, info.default_input_size, info.min_input_size, description=info.doc)
        if with_macs:
            with shapes_only_batchnorm(meta_model(name)) as model:
                prof = profile_model(model, info.default_input_size)
            row.params, row.macs, row.aux_params = prof.main_params, prof.main_macs, prof.aux_params
        rows.append(row)
    return rows


def natural_key(name: str) -> list[int | str]:
    """``resnet18`` before ``resnet101``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def run(args: argparse.Namespace) -> int:
    names = sorted(list_models(args.pattern), key=natural_key)
    if args.family:
        names = [n for n in names if model_info(n).family == args.family]
    rows = model_rows(names, with_macs=not args.no_macs)
    if args.json:
        print_json([asdict(r) for r in rows])
        return 0
    if not rows:
        print("no registered model matches")
        return 1
    table = [
        [
            r.name,
            r.family,
            "" if r.params is None else f"{r.params:,}",
            "" if r.macs is None else human(r.macs),
            f"{r.input_size}" + (f" (>= {r.min_input_size})" if r.min_input_size else ""),
            r.description,
        ]
        for r in rows
    ]
    print(tabulate(table, ["model", "family", "params", "MACs", "input px", "description"], colalign=("left", "left")))
    aux = [r.name for r in rows if r.aux_params]
    if aux:
        print(f"params and MACs exclude the auxiliary classifiers (training only) of: {', '.join(aux)}")
    return 0
