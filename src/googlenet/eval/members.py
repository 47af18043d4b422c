"""The models of an evaluation or prediction: each a back-end forward with its contract, from any model file
:func:`googlenet.weights.open_model` reads (a checkpoint, an ONNX, TorchScript or OpenVINO IR export)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from ..contract import ModelContract
from ..errors import UserError
from ..preprocess import Normalize, normalizer
from ..runtime.backends import Forward
from ..weights import ModelFile, open_model


@dataclass
class Member:
    """One model of an ensemble, ready to run: ``forward`` takes what ``contract`` says its input is."""

    path: str
    forward: Forward
    contract: ModelContract
    module: nn.Module | None = field(default=None, repr=False)  # the eager model (checkpoints): for Grad-CAM

    @property
    def model_name(self) -> str:
        return self.contract.model

    @property
    def input_size(self) -> int:
        return self.contract.input_size

    @property
    def num_classes(self) -> int:
        return self.contract.num_classes

    @property
    def class_keys(self) -> tuple[str, ...] | None:
        """What class folders are matched against: the class ids (WordNet ids) when the weights have them, else
        the class names."""
        return self.contract.class_ids or self.contract.class_names

    def class_keys_for(self, folders: Sequence[str]) -> tuple[str, ...] | None:
        """The keys that name ``folders``: the class ids (an ImageNet-layout folder, ``n01440764``...) or, when the
        folders are not ids, the class names (``tench``...); :attr:`class_keys` when neither holds them all."""
        for keys in (self.contract.class_ids, self.contract.class_names):
            if keys and set(folders) <= set(keys):
                return keys
        return self.class_keys

    @property
    def label(self) -> str:
        return f"{self.model_name} ({Path(self.path).name})"

    def preprocess(self) -> Normalize:
        """The chunk normaliser for :func:`~googlenet.eval.stream.stream_probabilities`."""
        return normalizer(self.contract)


def load_member(
    path: str | os.PathLike, backend: str = "eager", device: str = "cpu", input_size: int | None = None
) -> Member:
    """Open a model file (:func:`googlenet.weights.open_model`: a checkpoint or run folder, an ONNX, TorchScript
    or OpenVINO IR export) and wrap it in a back end (an export runs on its own runtime: ``backend`` must be ``eager``).

    ``input_size`` overrides the contract's crop size (the resize follows: ``input_size / crop_fraction``).
    """
    return member_of(open_model(path), str(path), backend, device, input_size)


def member_of(
    mf: ModelFile, path: str, backend: str = "eager", device: str = "cpu", input_size: int | None = None
) -> Member:
    """An opened model file as a member, fed as the file takes its input (0..1 RGB for baked normalisation)."""
    contract = mf.feed_contract
    check_scores_classes(contract, path)
    if input_size:
        contract = contract.replace(input_size=input_size)
    return Member(path, mf.forward(backend, device, contract=contract), contract, mf.module)


def check_scores_classes(contract: ModelContract, path: str | os.PathLike) -> None:
    """Refuse a features-only model (``num_classes=0``, timm's convention): it returns features, not class scores."""
    if contract.num_classes == 0:
        raise UserError(
            f"{path} holds a features-only {contract.model} (num_classes 0): it returns pooled features, "
            "not class scores, so it cannot classify"
        )


def load_members(paths: Sequence[str | os.PathLike], **kwargs: object) -> list[Member]:
    """Load every checkpoint of an ensemble and check they predict the same classes."""
    members = [load_member(p, **kwargs) for p in paths]
    check_ensemble(members)
    return members


def check_ensemble(members: Sequence[Member]) -> None:
    """Members must predict the same number of classes, and the same classes where they name them."""
    first = members[0]
    for m in members[1:]:
        if m.num_classes != first.num_classes:
            raise UserError(
                f"cannot ensemble {first.path} ({first.num_classes} classes) with {m.path} ({m.num_classes})"
            )
        if first.class_keys and m.class_keys and m.class_keys != first.class_keys:
            raise UserError(f"cannot ensemble {first.path} with {m.path}: their class names differ")


def class_names_of(members: Sequence[Member]) -> list[str]:
    """The ensemble's class names (from the first checkpoint that has them, else ``class_0``...)."""
    for m in members:
        if m.contract.class_names:
            return list(m.contract.class_names)
    return members[0].contract.names
