"""What a run computed on and with, as its records name it: the device (CPU model and matrix-unit flags, or the GPU's
name) and the code (the git commit of this checkout, or the installed package's version).

A run resumed in another session may go on on another machine or code, so the training loop writes both into every
epoch's row of ``metrics.csv``, and ``scripts/results_tables.py record`` reads them from there, not from the machine
that records.
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

import torch

from .. import __version__
from .cpu import cpu_info

PACKAGE = Path(__file__).resolve().parents[1]  # the googlenet package folder


def device_name(device: torch.device) -> str:
    """The GPU's name for a CUDA device; for the CPU its model and matrix flags, e.g. "AMD EPYC (avx2, fma)"."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type != "cpu":
        return device.type
    return cpu_info().describe()


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(PACKAGE), *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@cache
def code_version() -> str:
    """``git <commit>`` of the checkout this package runs from (``+changes`` where its tracked files differ from
    that commit), or ``googlenet <version>`` for an installed copy: a package folder that some other repository
    happens to hold (a virtual environment inside a clone) is not that checkout, so the package's own
    ``__init__.py`` must be a tracked file of the repository found."""
    tracked = _git("ls-files", "--error-unmatch", str(PACKAGE / "__init__.py"))
    commit = _git("rev-parse", "--short=12", "HEAD") if tracked else None
    if not commit:
        return f"googlenet {__version__}"
    changed = _git("status", "--porcelain", "--untracked-files=no", "--", str(PACKAGE))
    return f"git {commit}" + ("+changes" if changed else "")
