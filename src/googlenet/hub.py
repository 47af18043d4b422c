"""Sharing models: the Hugging Face Hub layout (:func:`save_pretrained`, :func:`from_pretrained`) and the torch.hub
entry points of ``hubconf.py`` (:func:`hub_entries`).

A Hub directory (what ``googlenet hub save`` writes and ``huggingface-cli upload`` pushes)::

    config.json         {"library_name": "googlenet", "architectures": ["googlenet"], "model": "googlenet",
                         "num_classes": 10, "model_kwargs": {...}, "contract": {...the ModelContract...}}
    model.safetensors   the weights, with the checkpoint metadata in its header (a checkpoint like any other)
    README.md           the model card of ``googlenet card``, under Hub front matter (library, tags, pipeline)

``from_pretrained`` builds the model ``config.json`` names with its options, loads ``model.safetensors``
strictly and returns it in eval mode (as ``transformers`` does); ``hubconf.py`` entries return the model as
built (train mode), as torchvision's do.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from torch import nn

from .card import count_params, model_card
from .contract import ModelContract
from .errors import UserError
from .factory import create_model, list_models, model_info

# Checkpoint code, all of it here (one place to rewire when the weights package moves it).
from .fileio import atomic_write
from .weights import (
    CheckpointError,
    classifier_keys,
    contract_of,
    load_checkpoint,
    load_state_except_classifier,
    load_state_strict,
    read_checkpoint,
)
from .weights.checkpoint import FORMAT_VERSION
from .weights.formats import META_KEY

__all__ = ["from_pretrained", "hub_entries", "hub_model", "save_pretrained"]

log = logging.getLogger(__name__)
CONFIG, WEIGHTS, CARD = "config.json", "model.safetensors", "README.md"
REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}(/[A-Za-z0-9][\w.-]{0,95})?")


# ---------------------------------------------------------------------------------------------- Hub layout
def save_pretrained(checkpoint: str | os.PathLike, directory: str | os.PathLike) -> Path:
    """Write the Hub layout of ``checkpoint`` (a .safetensors file or a run folder) into ``directory``."""
    model, contract, meta = load_checkpoint(checkpoint)
    return save_model(model, contract, meta, directory)


def save_model(model: nn.Module, contract: ModelContract, meta: dict[str, Any], directory: str | os.PathLike) -> Path:
    """Write ``config.json``, ``model.safetensors`` and ``README.md`` for ``model`` into ``directory``."""
    from safetensors.torch import save_file

    out = Path(directory)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} exists and is not a directory")
    meta = {**meta, **contract.to_meta(), "format": FORMAT_VERSION}
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    header = json.dumps(meta, sort_keys=True, default=str)
    atomic_write(out / WEIGHTS, lambda tmp: save_file(tensors, tmp, metadata={META_KEY: header}))
    config = {
        "library_name": "googlenet",
        "googlenet_version": _version(),
        "architectures": [contract.model],
        "model": contract.model,
        "num_classes": contract.num_classes,
        "model_kwargs": dict(contract.model_kwargs),
        "contract": contract.to_meta(),
    }
    _write(out / CONFIG, json.dumps(config, indent=2, sort_keys=True) + "\n")
    params, aux = count_params(model)
    _write(out / CARD, _front_matter(contract) + model_card(contract, meta, params, WEIGHTS, aux) + _usage())
    log.info("wrote %s, %s and %s in %s", CONFIG, WEIGHTS, CARD, out)
    return out


def _version() -> str:
    try:
        return metadata.version("googlenet")
    except metadata.PackageNotFoundError:  # run from a clone, not installed
        return "unknown"


def _write(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def _front_matter(c: ModelContract) -> str:
    tags = ["image-classification", "pytorch", "googlenet", model_info(c.model).family]
    lines = ["---", "library_name: googlenet", "pipeline_tag: image-classification", "tags:"]
    lines += [f"- {t}" for t in dict.fromkeys(tags)]
    if c.source == "trained" and c.weights.get("dataset"):
        lines += ["datasets:", f"- {c.weights['dataset']}"]
    return "\n".join([*lines, "---", "", ""])


def _usage() -> str:
    return (
        "\n\n## Loading\n\n```python\nimport googlenet\n\n"
        'model = googlenet.from_pretrained("<this repo id, or the directory>")  # eval mode\n```\n'
    )


def from_pretrained(
    source: str | os.PathLike,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    with_contract: bool = False,
) -> nn.Module | tuple[nn.Module, ModelContract]:
    """A model from a Hub directory (:func:`save_pretrained`) or a Hub repo id (``owner/name``, downloaded with
    ``huggingface_hub.snapshot_download``), in eval mode; with ``with_contract``, ``(model, contract)``."""
    directory = _resolve(source, revision, cache_dir)
    config_path = directory / CONFIG
    if not config_path.is_file():
        raise CheckpointError(f"{directory} is not a googlenet Hub directory: it has no {CONFIG}")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as err:
        raise CheckpointError(f"{config_path}: unreadable ({' '.join(str(err).split())})") from None
    if not isinstance(config, dict) or not isinstance(config.get("contract"), dict):
        raise CheckpointError(f"{config_path} has no 'contract' object: not written by googlenet")
    contract = contract_of(config["contract"], config_path)
    tensors, _ = read_checkpoint(directory / WEIGHTS)
    model = create_model(contract.model, num_classes=contract.num_classes, **contract.model_kwargs)
    load_state_strict(model, tensors, source=str(directory / WEIGHTS))
    model.eval()
    return (model, contract) if with_contract else model


def _resolve(source: str | os.PathLike, revision: str | None, cache_dir: str | os.PathLike | None) -> Path:
    """A local directory as is; a repo id through ``snapshot_download`` (config, weights and card only)."""
    path = Path(source)
    if path.is_dir():
        return path
    if path.exists():
        raise UserError(
            f"{path} is a file: from_pretrained takes a Hub directory or repo id (load_checkpoint reads those)"
        )
    text = str(source)
    if not REPO_ID.fullmatch(text):
        raise UserError(f"{text!r} is neither a directory nor a Hugging Face Hub repo id (owner/name)")
    try:
        from huggingface_hub import snapshot_download
    except ModuleNotFoundError:
        raise UserError(
            "loading from the Hugging Face Hub needs huggingface_hub: pip install 'googlenet[hub]'"
        ) from None
    log.info("fetching %s from the Hugging Face Hub", text)
    try:
        local = snapshot_download(
            text,
            revision=revision,
            cache_dir=cache_dir,
            allow_patterns=[CONFIG, WEIGHTS, CARD],
            library_name="googlenet",
        )
    except Exception as err:  # offline, no such repo, gated, HTTP errors: huggingface_hub has many kinds
        reason = " ".join(str(err).split())[:200] or type(err).__name__
        raise UserError(
            f"cannot download {text!r} from the Hugging Face Hub ({type(err).__name__}: {reason})"
        ) from None
    return Path(local)


# ---------------------------------------------------------------------------------------------- torch.hub
def hub_model(
    name: str, pretrained: bool | str | os.PathLike = False, progress: bool = True, **kwargs: Any
) -> nn.Module:
    """The model ``name`` as ``hubconf.py`` gives it.

    Args:
        name: a registered model.
        pretrained: False: random weights. True: torchvision's published weights (models with a torchvision
            twin, from its download cache or the network). A path: a googlenet checkpoint (.safetensors or run
            folder) or Hub directory; a ``http(s)://`` URL: a .safetensors checkpoint downloaded once into
            ``torch.hub.get_dir()/checkpoints``. The file must hold ``name``; its options are used.
        progress: show the download's progress bar.
        **kwargs: builder options (``num_classes``, ``width``...). With weights, ``num_classes`` other than the
            file's keeps everything but the classifier (fine-tuning).
    """
    if pretrained is False or pretrained is None:
        return create_model(name, **kwargs)
    if pretrained is True:
        return create_model(name, weights="torchvision", **kwargs)
    path = _download(str(pretrained), progress) if _is_url(pretrained) else Path(pretrained)
    if path.is_dir() and (path / CONFIG).is_file():
        path = path / WEIGHTS
    tensors, meta = read_checkpoint(path)
    contract = contract_of(meta, path)
    if contract.model != name:
        raise UserError(f"{path} holds {contract.model!r} weights, not {name!r}")
    k = int(kwargs.pop("num_classes", contract.num_classes))
    options = {**contract.model_kwargs, **kwargs}
    model = create_model(name, num_classes=k, **options)
    if k == contract.num_classes:
        load_state_strict(model, tensors, source=str(path))
    else:
        load_state_except_classifier(model, tensors, str(path), classifier_keys(name, **options))
    return model


def _is_url(value: object) -> bool:
    return isinstance(value, str) and urlparse(value).scheme in ("http", "https")


def _download(url: str, progress: bool) -> Path:
    name = Path(urlparse(url).path).name
    if not name.endswith(".safetensors"):
        raise UserError(f"the URL must name a .safetensors checkpoint, got {url[:120]!r}")
    target = Path(torch.hub.get_dir()) / "checkpoints" / name
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        log.info("downloading %s to %s", url, target)
        try:
            torch.hub.download_url_to_file(url, str(target), progress=progress)
        except OSError as err:  # URLError and HTTPError are OSErrors
            raise UserError(f"cannot download {url[:120]!r}: {' '.join(str(err).split())}") from None
    return target


def _entry(name: str) -> Callable[..., nn.Module]:
    def entry(pretrained: bool | str | os.PathLike = False, progress: bool = True, **kwargs: Any) -> nn.Module:
        return hub_model(name, pretrained, progress, **kwargs)

    entry.__name__ = entry.__qualname__ = name
    entry.__doc__ = (
        f"{model_info(name).doc or name}\n\n"
        f"torch.hub.load(repo, {name!r}, pretrained=False | True | PATH | URL, **builder_options): "
        "see googlenet.hub.hub_model."
    )
    return entry


def hub_entries() -> dict[str, Callable[..., nn.Module]]:
    """An entry function per registered model, by name (what ``hubconf.py`` puts in its namespace)."""
    return {name: _entry(name) for name in list_models()}
