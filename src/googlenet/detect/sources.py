"""Where the real Penn-Fudan data lives: the folder ``PennFudanPed/`` or its archive ``pennfudanped.tar.gz``, found
and extracted once as :func:`googlenet.data.sources.locate` does for the classification datasets."""

from __future__ import annotations

import os
from pathlib import Path

from ..data.sources import DataNotFoundError, extract_once, search_dirs

PENNFUDAN = ("pennfudanped.tar.gz", "PennFudanPed")


def locate_pennfudan(data: str | os.PathLike | None = None) -> Path:
    """The ``PennFudanPed`` folder: ``data`` (the folder, its archive, or a folder holding either), else
    ``$GOOGLENET_DATA`` and ``../shared/data``; extracted into the cache when only the archive is there."""
    archive, top = PENNFUDAN
    dirs = [Path(data)] if data is not None else search_dirs()
    for d in dirs:
        if d.is_file():
            return extract_once(d, top)
        if (d / "PNGImages").is_dir():
            return d
        if (d / top).is_dir():
            return d / top
        if (d / archive).is_file():
            return extract_once(d / archive, top)
    raise DataNotFoundError(f"Penn-Fudan not found: looked for {archive} or {top}/ in {', '.join(map(str, dirs))}")
