"""The ``googlenet`` command line: a thin layer over library functions.

Every module in this package that defines ``register(subparsers)`` adds one subcommand, so adding a
command is adding a file. A subcommand sets ``func`` (taking the parsed ``argparse.Namespace`` and
returning an exit status).

:func:`main` is the one place where an expected error becomes one clear line and exit 2, never a traceback:
a :class:`~googlenet.errors.UserError` (sizes, names, formats, files that do not fit), an argument argparse
refuses (one line, no usage block), a file the system refuses to read or write (missing folder, a file in the
way, no permission: :data:`~googlenet.errors.PATH_ERRNOS`), and a missing optional package (ONNX, ONNX Runtime)
with the ``pip install`` that provides it. A closed pipe (``googlenet summary googlenet | head -1``) ends the
command quietly with 141, the status a process stopped by SIGPIPE has.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from .. import __version__
from ..errors import UserError, one_line, path_error
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
    "pycocotools": "detect",
    "cv2": "detect",
}


def _optional_extra(err: ModuleNotFoundError) -> str | None:
    """The extra that installs the missing package of ``err``, or None for a package that is not optional."""
    return OPTIONAL.get((err.name or "").split(".")[0])


def _missing(err: ModuleNotFoundError):
    def run(args: argparse.Namespace) -> int:
        raise err

    return run


class Parser(argparse.ArgumentParser):
    """argparse with a one-line refusal: ``googlenet CMD: error: ...`` and exit 2 (the usage is in ``--help``)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def _closed_pipe() -> int:
    """The reader of stdout went away (``| head``): stop quietly, with no "Exception ignored" at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor (captured): nothing left to silence
        pass
    return 141


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
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


def _refuse(command: str, line: str) -> int:
    """A user's mistake: one line on stderr, exit status 2."""
    print(f"googlenet {command}: error: {line}", file=sys.stderr)
    return 2


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """``parse_args``, except that a command's FIELD=VALUE overrides may come in several runs between options
    (``train --recipe R a=1 --data D b=2``): argparse takes the first run of positionals only."""
    args, extra = parser.parse_known_args(argv)
    pairs = [x for x in extra if "=" in x and not x.startswith("-")]
    if pairs and isinstance(getattr(args, "overrides", None), list):
        args.overrides += pairs
        extra = [x for x in extra if x not in pairs]
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run ``googlenet ARGV``; returns the exit status (argparse's refusals included), never raising for a
    user's mistake."""
    parser = build_parser()
    try:
        args = parse(parser, argv)
    except SystemExit as exit_info:  # a refused argument (one line, 2), --help or --version (0): returned, as below
        return exit_info.code if isinstance(exit_info.code, int) else 2
    configure(level_of(args.log_level_all, args.log_verbose, args.log_quiet))  # records to stderr, never stdout
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers, not at the interpreter's exit
        return code
    except BrokenPipeError:
        return _closed_pipe()
    except UserError as err:
        return _refuse(args.command, one_line(err))
    except OSError as err:
        line = path_error(err)
        if line is None:
            raise
        return _refuse(args.command, one_line(line))
    except ValueError as err:  # the one ValueError the system raises for a path: a NUL character in it
        if "embedded null byte" not in str(err):
            raise
        return _refuse(args.command, "a path given holds a NUL character")
    except ModuleNotFoundError as err:
        extra = _optional_extra(err)
        if extra is None:
            raise
        package = (err.name or "").split(".")[0]
        return _refuse(args.command, f"this needs the optional package {package!r}: pip install 'googlenet[{extra}]'")
    except KeyboardInterrupt:
        print(f"googlenet {args.command}: interrupted", file=sys.stderr)
        return 130
