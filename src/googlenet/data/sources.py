"""Where the real datasets live, and extracting their archives once into a cache.

Search order for a dataset archive or folder: the ``--data`` path the user gave, ``$GOOGLENET_DATA``,
then ``../shared/data`` beside the checkout. Archives are extracted once into ``$GOOGLENET_CACHE``
(default ``~/.cache/googlenet``), never into the repository.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path

from ..errors import UserError

# name -> (archive file name, top folder inside the archive)
ARCHIVES: dict[str, tuple[str, str]] = {
    "cifar10": ("cifar10-jpg.tar.gz", "cifar10"),
    "imagenette2-128": ("imagenette2-128.tar.gz", "imagenette2-128"),
    "imagenette2-224": ("imagenette2-224.tar.gz", "imagenette2-224"),
}
FASHION_MNIST_DIRS = ("/usr/share/datasets/fashion-mnist",)


class DataNotFoundError(UserError, FileNotFoundError):
    """A dataset that is not on this machine."""


def cache_dir() -> Path:
    return Path(os.environ.get("GOOGLENET_CACHE", Path.home() / ".cache" / "googlenet"))


def search_dirs(extra: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched for dataset archives, in order."""
    dirs: list[Path] = []
    if extra:
        dirs.append(Path(extra))
    if os.environ.get("GOOGLENET_DATA"):
        dirs.append(Path(os.environ["GOOGLENET_DATA"]))
    repo_root = Path(__file__).resolve().parents[3]
    dirs += [repo_root.parent / "shared" / "data", repo_root / "shared" / "data"]
    return dirs


def extract_once(archive: Path, top: str) -> Path:
    """Extract ``archive`` into the cache (once, safely across processes) and return ``cache/top``."""
    dest_root = cache_dir()
    dest = dest_root / top
    if (dest / ".complete").exists():
        return dest
    dest_root.mkdir(parents=True, exist_ok=True)
    with open(dest_root / f".{top}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (dest / ".complete").exists():
            return dest
        tmp = Path(tempfile.mkdtemp(prefix=f".{top}.", dir=dest_root))
        try:
            try:
                with tarfile.open(archive) as tar:
                    tar.extractall(tmp, filter="data")
            except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
                raise DataNotFoundError(f"{archive} is not a readable tar archive ({err})") from None
            if not (tmp / top).is_dir():
                raise DataNotFoundError(f"{archive} has no top folder {top!r}; is it the right archive?")
            if dest.exists():
                shutil.rmtree(dest)
            os.replace(tmp / top, dest)
            (dest / ".complete").touch()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def locate(name: str, data: str | os.PathLike | None = None) -> Path:
    """Root folder of dataset ``name`` (see :data:`ARCHIVES`), extracting its archive if needed.

    ``data`` may point at the dataset folder itself, or at a folder holding the archive or the folder.
    """
    if name not in ARCHIVES:
        raise DataNotFoundError(f"unknown dataset {name!r}; known: {', '.join(ARCHIVES)}")
    archive_name, top = ARCHIVES[name]
    if data is not None and not Path(data).exists():
        raise DataNotFoundError(f"--data {data}: no such file or folder")
    if data is not None and Path(data).is_dir() and Path(data).name == top:
        return Path(data)
    for d in search_dirs(data):
        if (d / top).is_dir():
            return d / top
        if (d / archive_name).is_file():
            return extract_once(d / archive_name, top)
    cached = cache_dir() / top
    if (cached / ".complete").exists():
        return cached
    where = ", ".join(str(d) for d in search_dirs(data))
    raise DataNotFoundError(
        f"dataset {name!r} not found: looked for {archive_name} or {top}/ in {where}. "
        "Point --data or GOOGLENET_DATA at the folder that holds it."
    )


def resolve_split(data: str | os.PathLike, split: str | None) -> Path:
    """``DATA/SPLIT`` (or ``DATA`` itself when split is None); DATA may also be a dataset name for ``locate``."""
    root = Path(data)
    if not root.is_dir():
        try:
            root = locate(str(data))
        except DataNotFoundError as err:
            raise UserError(f"--data {data}: not a folder, nor a known dataset ({err})") from None
    if split:
        if not (root / split).is_dir():
            raise UserError(f"{root} has no {split!r} split folder")
        root = root / split
    return root
