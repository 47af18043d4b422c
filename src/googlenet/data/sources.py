"""Where the real datasets live, and extracting their archives once into a cache.

A ``--data`` path the user gives is the only place looked at: the dataset folder itself (named like the
dataset, or any folder with ``train/`` and ``val/`` or ``test/`` class folders), its archive, or a folder
holding either; anything else is refused. Without ``--data``: ``$GOOGLENET_DATA``, then ``../shared/data``
beside the checkout. Archives are extracted once into ``$GOOGLENET_CACHE`` (default ``~/.cache/googlenet``),
never into the repository, in a folder keyed by the archive's path, size and time, so an extracted copy
stands only for the archive it came from and never for a missing or different one.
"""

from __future__ import annotations

import fcntl
import hashlib
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


def search_dirs() -> list[Path]:
    """Folders searched for dataset archives when no ``--data`` is given, in order."""
    dirs: list[Path] = []
    if os.environ.get("GOOGLENET_DATA"):
        dirs.append(Path(os.environ["GOOGLENET_DATA"]))
    repo_root = Path(__file__).resolve().parents[3]
    dirs += [repo_root.parent / "shared" / "data", repo_root / "shared" / "data"]
    return dirs


def _archive_key(archive: Path) -> str:
    st = archive.stat()
    return hashlib.sha1(f"{archive.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:12]


def extract_once(archive: Path, top: str) -> Path:
    """Extract ``archive`` into the cache (once, safely across processes); returns the folder of its ``top``."""
    dest_root = cache_dir()
    dest = dest_root / f"{top}-{_archive_key(archive)}"
    if (dest / ".complete").exists():
        return dest
    dest_root.mkdir(parents=True, exist_ok=True)
    with open(dest_root / f".{dest.name}.lock", "w") as lock:
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


def is_split_root(path: Path) -> bool:
    """A folder laid out as a dataset: ``train/`` beside ``val/`` or ``test/``."""
    return (path / "train").is_dir() and any((path / s).is_dir() for s in ("val", "test"))


def _in_user_path(name: str, data: Path) -> Path:
    """Dataset ``name`` in the ``--data`` path the user named, or a one-line refusal."""
    archive_name, top = ARCHIVES[name]
    if not data.exists():
        raise DataNotFoundError(f"--data {data}: no such file or folder")
    if data.is_file():
        return extract_once(data, top)
    if data.name == top or is_split_root(data):
        return data
    if (data / top).is_dir():
        return data / top
    if (data / archive_name).is_file():
        return extract_once(data / archive_name, top)
    raise DataNotFoundError(
        f"--data {data}: not a dataset folder (no train/ and val/ or test/ class folders) and holds neither "
        f"{top}/ nor {archive_name}"
    )


def locate(name: str, data: str | os.PathLike | None = None) -> Path:
    """Root folder of dataset ``name`` (see :data:`ARCHIVES`), extracting its archive if needed.

    ``data``, when given, is the only place looked at: the dataset folder itself, its archive, or a folder
    holding either. Without it, ``$GOOGLENET_DATA`` and ``../shared/data`` are searched.
    """
    if name not in ARCHIVES:
        raise DataNotFoundError(f"unknown dataset {name!r}; known: {', '.join(ARCHIVES)}")
    if data is not None:
        return _in_user_path(name, Path(data))
    archive_name, top = ARCHIVES[name]
    for d in search_dirs():
        if (d / top).is_dir():
            return d / top
        if (d / archive_name).is_file():
            return extract_once(d / archive_name, top)
    where = ", ".join(str(d) for d in search_dirs())
    raise DataNotFoundError(
        f"dataset {name!r} not found: looked for {archive_name} or {top}/ in {where}. "
        "Point --data or GOOGLENET_DATA at the folder that holds it."
    )


def read_name(name: str, root: Path) -> str:
    """What the records credit when dataset ``name`` was read from ``root``: ``name`` where the folder is that
    dataset (its own folder, or its archive extracted into the cache), else the folder's own name, so a run given
    another dataset's folder (``--data data/cifar10`` for imagenette2-128) never credits the one it did not read."""
    top = ARCHIVES[name][1]
    return name if root.name == top or root.name.startswith(f"{top}-") else root.name


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
