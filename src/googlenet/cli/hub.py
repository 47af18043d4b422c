"""``googlenet hub save CHECKPOINT DIR [--json]``: a checkpoint in the Hugging Face Hub layout (:mod:`googlenet.hub`):
``config.json`` (model, options, contract), ``model.safetensors`` and the ``README.md`` model card; push it with
``huggingface-cli upload OWNER/NAME DIR`` and load it with ``googlenet.from_pretrained``."""

from __future__ import annotations

import argparse
import sys

from ..hub import CARD, CONFIG, WEIGHTS, save_pretrained
from ._common import print_json, stdout_to_stderr


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("hub", help="share a checkpoint: the Hugging Face Hub layout", description=__doc__)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    save = actions.add_parser("save", help="write config.json, model.safetensors and README.md into DIR")
    save.add_argument("checkpoint", help=".safetensors checkpoint (or a run folder with best/last.safetensors)")
    save.add_argument("directory", help="folder to write (created if absent; those three files are replaced)")
    save.add_argument("--json", action="store_true", help="print what was written as JSON")
    save.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with stdout_to_stderr(args.json):
        out = save_pretrained(args.checkpoint, args.directory)
    files = [str(out / name) for name in (CONFIG, WEIGHTS, CARD)]
    if args.json:
        print_json({"directory": str(out), "files": files})
    else:
        print(f"wrote {out}: {', '.join((CONFIG, WEIGHTS, CARD))}", file=sys.stdout)
    return 0
