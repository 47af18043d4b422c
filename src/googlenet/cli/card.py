"""``googlenet card CHECKPOINT [-o CARD.md] [--json]``: a checkpoint's model card (:mod:`googlenet.card`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..card import checkpoint_card
from ..errors import UserError
from ..fileio import atomic_write
from ._common import output_file, print_json, stdout_to_stderr


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "card",
        help="a checkpoint's model card (Markdown): architecture, input contract, provenance, recorded accuracy",
    )
    p.add_argument(
        "checkpoint",
        help="model file: a .safetensors checkpoint (or a run folder with best/last.safetensors), or an exported "
        ".onnx, TorchScript or OpenVINO .xml file",
    )
    p.add_argument(
        "-o", "--output", default=None, type=output_file, help="write the Markdown here instead of printing it"
    )
    p.add_argument("--json", action="store_true", help="print the card's facts as JSON (what GET /v1/model reads)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.output) if args.output else None
    if out is not None and not out.parent.is_dir():
        raise UserError(f"cannot write {out}: folder {out.parent} does not exist")
    if out is not None and out.is_dir():
        raise UserError(f"cannot write {out}: it is a folder")
    with stdout_to_stderr(args.json):
        text, facts = checkpoint_card(args.checkpoint)
    if out is not None:
        atomic_write(out, lambda tmp: Path(tmp).write_text(text))
        print(f"wrote {out}", file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print_json(facts)
    elif out is None:
        print(text, end="")
    return 0
