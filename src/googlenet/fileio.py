"""Writing files so that readers never see half of one: :func:`atomic_write` (a leaf: it imports nothing of the
package). Checkpoints, exported models, reports and plots all go through it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0o22)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)``, fsync, then rename over ``path``: readers never see a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes it owner-only; give it the mode open() would
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def shown(path: str | os.PathLike) -> str:
    """A path for a one-line message: as is, or quoted when it holds a newline or other control character."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def one_line(err: object) -> str:
    """An error's text on one line (runs of whitespace, newlines included, as one space)."""
    return " ".join(str(err).split())
