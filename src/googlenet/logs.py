"""Logging: the package logs through ``logging.getLogger("googlenet.<module>")`` and never configures logging
itself (an application that embeds it decides); the command line calls :func:`configure`.

Levels: ``-q`` errors only, default warnings, ``-v`` info (e.g. the server's access lines, files written),
``-vv`` debug; ``--log-level`` names one. Records go to stderr, so ``--json`` output on stdout stays clean, as do
progress bars (tqdm writes to stderr too).
"""

from __future__ import annotations

import logging
import sys

ROOT = "googlenet"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LEVELS = ("critical", "error", "warning", "info", "debug")


class _Handler(logging.StreamHandler):
    """The handler :func:`configure` installs (so a second call replaces it instead of adding another); it writes
    to whatever ``sys.stderr`` is when a record comes, never to a stream replaced since."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def level_of(log_level: str | None = None, verbose: int = 0, quiet: bool = False) -> int:
    """The level the command-line flags ask for: ``log_level`` if given, else from ``-q``/``-v``."""
    if log_level:
        return logging.getLevelName(log_level.upper())
    if quiet:
        return logging.ERROR
    return {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)


def configure(level: int | str = logging.WARNING) -> logging.Logger:
    """Send the package's records at ``level`` and above to stderr, one line each."""
    logger = logging.getLogger(ROOT)
    for handler in [h for h in logger.handlers if isinstance(h, _Handler)]:
        logger.removeHandler(handler)
    handler = _Handler()
    handler.setFormatter(logging.Formatter(FORMAT))
    logger.addHandler(handler)
    logger.setLevel(level if isinstance(level, int) else level.upper())
    return logger
