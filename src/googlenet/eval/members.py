"""The models of an evaluation or prediction: each a back-end forward with its contract."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..contract import ModelContract
from ..errors import UserError
from ..factory import load_model
from ..preprocess import Normalize, normalizer
from ..runtime.backends import Forward, make_backend
from ..runtime.exported import exported_contract, input_contract, load_exported, read_metadata


@dataclass
class Member:
    """One model of an ensemble, ready to run: ``forward`` takes what ``contract`` says its input is."""

    path: str
    forward: Forward
    contract: ModelContract

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
    """Load a checkpoint (:func:`googlenet.factory.load_model`) and wrap it in a back end.

    ``input_size`` overrides the contract's crop size (the resize follows: ``input_size / crop_fraction``).
    """
    model, contract, _ = load_model(path)
    check_scores_classes(contract, path)
    if input_size:
        contract = contract.replace(input_size=input_size)
    return Member(str(path), make_backend(backend, model, contract, device=device), contract)


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


def load_exported_member(path: str | os.PathLike, threads: int | None = None) -> Member:
    """An exported ONNX or TorchScript file as a member: run by ONNX Runtime or ``torch.jit`` on the CPU, fed
    as the contract stored in the file says (0..1 RGB for a file with baked normalisation)."""
    meta = read_metadata(path)
    contract = input_contract(exported_contract(path, meta), meta)
    check_scores_classes(contract, path)
    return Member(str(path), load_exported(path, threads), contract)
