"""User-facing errors. The CLI prints these as one clear line instead of a traceback."""

from __future__ import annotations

import errno

# what the system says about a path the user named: missing, in the way, no permission, full, read-only
PATH_ERRNOS = frozenset(
    {
        errno.ENOENT,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.EEXIST,
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
        errno.ENOSPC,
        errno.EDQUOT,
        errno.ENAMETOOLONG,
    }
)


class UserError(Exception):
    """A mistake in what the user asked for (bad name, file, shape, option): print it, exit 2."""


class InputSizeError(UserError, ValueError):
    """The input is too small (or the wrong shape) for the network."""


def one_line(text: object) -> str:
    """``text`` on one line: a newline or other control character (in a path the user typed) shown escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text).strip())


def path_error(err: OSError) -> str | None:
    """One line for an ``OSError`` about a path (``cannot use PATH: No such file or directory``), or None for
    any other (a bug, which keeps its traceback)."""
    if err.errno not in PATH_ERRNOS or err.filename is None:
        return None
    names = " -> ".join(str(f) for f in (err.filename, err.filename2) if f is not None)
    return f"cannot use {names!r}: {err.strerror or type(err).__name__}"
