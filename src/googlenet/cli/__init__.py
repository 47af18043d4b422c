"""The ``googlenet`` command line: a thin layer over library functions.

Every module in this package that defines ``register(subparsers)`` adds one subcommand, so adding a
command is adding a file. A subcommand sets ``func`` (taking the parsed ``argparse.Namespace`` and
returning an exit status). :class:`~googlenet.errors.UserError` becomes one clear line and exit 2, as does
a missing optional package (ONNX, ONNX Runtime), with the ``pip install`` that provides it.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from .. import __version__
from ..errors import UserError

# optional packages -> the extra that installs them (pyproject.toml)
OPTIONAL = {"onnx": "deploy", "onnxruntime": "deploy", "onnxscript": "deploy"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="googlenet",
        description="GoogLeNet (Inception v1) as the paper describes it, and the classic CNNs around it.",
    )
    parser.add_argument("--version", action="version", version=f"googlenet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        if mod.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"googlenet {args.command}: error: {err}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as err:
        top = (err.name or "").split(".")[0]
        if top not in OPTIONAL:
            raise
        print(
            f"googlenet {args.command}: error: this needs the optional package {top!r}: "
            f"pip install 'googlenet[{OPTIONAL[top]}]'",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print(f"googlenet {args.command}: interrupted", file=sys.stderr)
        return 130
