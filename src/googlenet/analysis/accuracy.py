"""Top-1 accuracies for the family chart, from two clearly separated sources.

- ``torchvision``: the published ImageNet-1K validation accuracy in the metadata of torchvision's weights
  (``torchvision.models.get_model_weights(name)[...].meta``; read offline, nothing is downloaded), for the
  registered models that *are* torchvision's networks (same layers, same state-dict keys). The original
  ``IMAGENET1K_V1`` weights are used where they exist: they come from the classic recipes, the era the paper
  compares against (ResNet-50's ``DEFAULT`` is the 2021 recipe, 80.9 % instead of 76.1 %). The paper's own
  networks (``googlenet``, ``alexnet``) are not torchvision's and get no published number.
- ``project``: accuracies this project measured itself, listed in ``results.yaml`` next to this module (or a
  file given by the user). Only real runs belong there; each entry names its dataset, input size and the
  command that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import UserError
from ..factory import list_models, model_info

RESULTS_FILE = Path(__file__).with_name("results.yaml")

# Registered names whose network is torchvision's under another name.
TORCHVISION_ALIASES = {"alexnet_tv": "alexnet", "googlenet_bn": "googlenet"}
# Families whose registered builders are torchvision's builders under torchvision's names.
TORCHVISION_FAMILIES = ("vgg", "resnet", "densenet")


@dataclass
class Accuracy:
    """One top-1 accuracy and where it comes from."""

    model: str
    top1: float  # percent
    dataset: str
    source: str  # "torchvision", "project", or "compare" (a project run of the compare study: one recipe for all)
    detail: str  # weights name, or the command/run that produced it
    input_size: int = 224
    model_args: dict[str, Any] = field(default_factory=dict)
    num_classes: int = 1000


def torchvision_name(model: str) -> str | None:
    """torchvision's name for a registered model that is torchvision's network, else ``None``."""
    from torchvision import models as tvm

    if model in TORCHVISION_ALIASES:
        return TORCHVISION_ALIASES[model]
    if model_info(model).family in TORCHVISION_FAMILIES and model in tvm.list_models(module=tvm):
        return model
    return None


def torchvision_accuracy(model: str) -> Accuracy | None:
    """Published ImageNet-1K top-1 of ``model`` from torchvision's weights metadata (offline)."""
    from torchvision import models as tvm

    tv = torchvision_name(model)
    if tv is None:
        return None
    enum = tvm.get_model_weights(tv)
    weights = enum["IMAGENET1K_V1"] if "IMAGENET1K_V1" in enum.__members__ else enum.DEFAULT
    top1 = weights.meta["_metrics"]["ImageNet-1K"]["acc@1"]
    return Accuracy(model, float(top1), "ImageNet-1K val", "torchvision", f"torchvision {tv} {weights.name} metadata")


def project_results(path: str | Path | None = None) -> list[Accuracy]:
    """Accuracies measured by this project, from ``results.yaml`` (or ``path``)."""
    path = Path(path) if path else RESULTS_FILE
    if not path.is_file():
        raise UserError(f"results file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        raise UserError(f"{path}: not valid YAML{at}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: cannot read it ({type(err).__name__})") from None
    entries = (data.get("results") or []) if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise UserError(f"{path}: expected a mapping with a 'results' list of entries")
    out = []
    known = set(list_models())
    for i, entry in enumerate(entries):
        try:
            if not isinstance(entry, dict):
                raise TypeError(f"got {type(entry).__name__}")
            model = entry["model"]
            acc = Accuracy(
                model=model,
                top1=float(entry["top1"]),
                dataset=str(entry["dataset"]),
                source="compare" if entry.get("study") == "compare" else "project",
                detail=str(entry["command"]),
                input_size=int(entry.get("input_size", 224)),
                model_args=dict(entry.get("model_args") or {}),
                num_classes=int(entry.get("num_classes", 1000)),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise UserError(f"{path}: entry {i} needs model, top1, dataset and command ({err})") from None
        if model not in known:
            raise UserError(f"{path}: entry {i} names an unregistered model {model!r}")
        out.append(acc)
    return out
