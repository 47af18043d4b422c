"""``googlenet predict`` as a library: files, folders and globs -> top-k classes, bad files reported, not fatal."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torchvision.transforms.v2 import functional as F

from ..cam import GradCam, overlay
from ..data.decode import IMAGE_EXTENSIONS, ImageDecodeError, open_image
from ..errors import UserError
from ..preprocess import decode, views
from .members import Member
from .stream import stream_probabilities


@dataclass
class Prediction:
    """The ensemble's probabilities for one file, or why the file could not be read."""

    path: str
    probs: Tensor | None = None
    error: str | None = None

    def topk(self, k: int, names: Sequence[str]) -> list[tuple[str, int, float]]:
        """``(class name, index, probability)`` of the ``k`` most probable classes."""
        assert self.probs is not None
        p, i = self.probs.topk(min(k, len(self.probs)))
        return [(names[j], j, v) for v, j in zip(p.tolist(), i.tolist(), strict=True)]


def _is_candidate(path: Path) -> bool:
    """A file, or a symbolic link to nothing (reported as broken, not skipped); never a folder."""
    return path.is_file() or (path.is_symlink() and not path.exists())


def expand_inputs(inputs: Sequence[str]) -> list[Prediction]:
    """Files in command-line order: a file as given, a folder's images (recursively, sorted), a glob's matches.

    A folder contributes every entry with an image extension, broken symbolic links included, so that each
    one is predicted or reported. An input that matches nothing becomes a :class:`Prediction` carrying the
    error.
    """
    out: list[Prediction] = []
    for arg in inputs:
        path = Path(arg)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and _is_candidate(p))
            out += [Prediction(str(p)) for p in files] or [Prediction(arg, error=f"{arg}: no images in folder")]
        elif path.exists() or path.is_symlink() or not glob.has_magic(arg):
            out.append(Prediction(arg))
        else:
            files = sorted(p for p in glob.glob(arg, recursive=True) if _is_candidate(Path(p)))
            out += [Prediction(p) for p in files] or [Prediction(arg, error=f"{arg}: no file matches")]
    return out


def predict(
    members: Sequence[Member],
    files: Sequence[Prediction],
    crops: int = 1,
    reduce: str = "mean",
    chunk_size: int = 128,
    resize: int | None = None,
) -> list[Prediction]:
    """Fill in ``probs`` (averaged over crops and over ``members``) or ``error`` for each file."""
    todo = [f for f in files if f.error is None]
    sums: dict[int, Tensor] = {}
    errors: dict[int, str] = {}
    for member in members:
        cut = views(member.contract, crops, resize)

        def items(member: Member = member, cut=cut) -> Iterator[tuple[int, Tensor]]:
            for i, f in enumerate(todo):
                try:
                    img = decode(f.path, member.contract)
                except ImageDecodeError as err:
                    errors[i] = str(err)
                    continue
                yield i, cut(img)

        stream = stream_probabilities(
            member.forward, items(), chunk_size=chunk_size, reduce=reduce, preprocess=member.preprocess()
        )
        for i, p in stream:
            sums[i] = sums[i] + p if i in sums else p
    for i, f in enumerate(todo):
        if i in errors:
            f.error = errors[i]
        else:
            f.probs = sums[i] / len(members)
    return list(files)


def as_dict(pred: Prediction, k: int, names: Sequence[str]) -> dict:
    """The JSON-lines record of one prediction."""
    if pred.error is not None:
        return {"path": pred.path, "error": pred.error}
    top = pred.topk(k, names)
    return {"path": pred.path, "top": [{"class": n, "index": j, "prob": round(p, 6)} for n, j, p in top]}


def cam_folder(path: str | os.PathLike) -> Path:
    """``--cam`` folder, created now (before predicting), or :class:`UserError` saying why it cannot be."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UserError(f"--cam {path}: not a folder") from None
    except OSError as err:
        raise UserError(f"--cam {path}: cannot create it ({err.strerror or type(err).__name__})") from None
    return folder


def cam_model(member: Member) -> torch.nn.Module:
    """The eager model Grad-CAM runs on; :class:`UserError` for an exported file (a graph without gradients)."""
    if member.module is None:
        raise UserError(f"--cam needs the PyTorch model: {member.path} is an exported graph; give its .safetensors")
    return member.module


def save_cams(
    member: Member, preds: Sequence[Prediction], folder: str | os.PathLike, layer: str | None = None
) -> tuple[dict[str, Path], str]:
    """Grad-CAM overlays of the predicted files as ``<stem>-cam.png`` in ``folder``, and the layer they show.

    Grad-CAM needs gradients, so it runs on ``member``'s checkpoint as an eager model (beside whatever back end
    predicted), for the class the prediction ranks first (the ensemble's, with several checkpoints), over the
    region its centre crop shows (:func:`googlenet.cam.overlay`). Files that could not be read get none.
    """
    cam = GradCam(cam_model(member), member.contract, layer)
    cut, normalize = views(member.contract), member.preprocess()
    written: dict[str, Path] = {}
    taken: set[str] = set()
    try:
        for pred in preds:
            if pred.probs is None:
                continue
            image = open_image(pred.path, member.contract.image_mode)
            with torch.no_grad():
                x = normalize(cut(F.pil_to_tensor(image)))
            result = cam(x, [int(pred.probs.argmax())])
            name, n = f"{Path(pred.path).stem}-cam.png", 1
            while name in taken:  # the same stem in two folders
                n += 1
                name = f"{Path(pred.path).stem}-cam-{n}.png"
            taken.add(name)
            overlay(image, result.maps[0], member.contract).save(Path(folder) / name)
            written[pred.path] = Path(folder) / name
    finally:
        cam.close()
    return written, cam.layer
