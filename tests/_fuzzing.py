"""The fuzz layer's shared rule and scratch files (tests/test_fuzz*.py): whatever goes in, the only exception
that may come out is one of the project's own UserError subclasses, with a non-empty one-line message."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings

from googlenet.errors import UserError

# no example database in the repository; a failure prints the blob that reproduces it
FUZZ = settings(
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def fuzz(n: int) -> settings:
    return settings(FUZZ, max_examples=n)


def check_message(err: BaseException) -> None:
    """A user error the CLI can print as one clear line."""
    assert isinstance(err, UserError), f"{type(err).__name__} escaped: {err!r}"
    msg = str(err)
    assert msg.strip(), f"{type(err).__name__} with an empty message"
    assert msg.splitlines() == [msg], f"message is not one line: {msg!r}"


def attempt(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args)``'s result, or the :class:`UserError` it raised (checked to be one line). Anything else fails."""
    try:
        return fn(*args, **kwargs)
    except UserError as err:
        check_message(err)
        return err


@functools.cache
def scratch_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="googlenet-fuzz-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def scratch_file(data: bytes | str, suffix: str = "") -> Path:
    """A fresh file holding ``data`` (a per-process temp dir: function-scoped tmp_path is shared by examples)."""
    fd, name = tempfile.mkstemp(suffix=suffix, dir=scratch_dir())
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    return Path(name)
