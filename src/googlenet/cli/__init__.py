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
from ..logs import LEVELS, configure, level_of

# optional packages -> the extra that installs them (pyproject.toml)
OPTIONAL = {
    "onnx": "deploy",
    "onnxruntime": "deploy",
    "onnxscript": "deploy",
    "starlette": "serve",
    "uvicorn": "serve",
    "multipart": "serve",
    "python_multipart": "serve",
    "openvino": "openvino",
    "nncf": "openvino",
    "prometheus_client": "serve",
    "huggingface_hub": "hub",
}


def _optional_extra(err: ModuleNotFoundError) -> str | None:
    """The extra that installs the missing package of ``err``, or None for a package that is not optional."""
    return OPTIONAL.get((err.name or "").split(".")[0])


def _missing(err: ModuleNotFoundError):
    def run(args: argparse.Namespace) -> int:
        raise err

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="googlenet",
        description="GoogLeNet (Inception v1) as the paper describes it, and the classic CNNs around it.",
    )
    parser.add_argument("--version", action="version", version=f"googlenet {__version__}")
    verbose = "log more (stderr): -v info, -vv debug"
    parser.add_argument("-v", "--verbose", dest="log_verbose", action="count", default=0, help=verbose)
    parser.add_argument("-q", "--quiet", dest="log_quiet", action="store_true", help="log errors only")
    parser.add_argument("--log-level", dest="log_level_all", choices=LEVELS, help="log level (default warning)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        if mod.startswith("_"):
            continue
        try:
            module = importlib.import_module(f"{__name__}.{mod}")
        except ModuleNotFoundError as err:  # a command whose optional packages are not installed: it says which
            if _optional_extra(err) is None:
                raise
            hint = f"(needs pip install 'googlenet[{_optional_extra(err)}]')"
            p = sub.add_parser(mod, help=hint, add_help=False, prefix_chars="\0")  # takes any arguments
            p.add_argument("rest", nargs="*")
            p.set_defaults(func=_missing(err))
            continue
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure(level_of(args.log_level_all, args.log_verbose, args.log_quiet))  # records to stderr, never stdout
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"googlenet {args.command}: error: {err}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as err:
        extra = _optional_extra(err)
        if extra is None:
            raise
        print(
            f"googlenet {args.command}: error: this needs the optional package {(err.name or '').split('.')[0]!r}: "
            f"pip install 'googlenet[{extra}]'",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print(f"googlenet {args.command}: interrupted", file=sys.stderr)
        return 130
