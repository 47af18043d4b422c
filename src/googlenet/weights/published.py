"""Published weights as the registry records them, and the figures their publishers report.

Each :class:`~googlenet.registry.PublishedWeights` sits on the entry of the model it loads into; this module only
looks them up: by tag (``resolve("bvlc", model="googlenet")``), by a file's SHA-1 (an imported caffemodel is
recognised as BVLC's own), and for a contract's ``weights`` record, the accuracies published with them (cards show
them labelled as the publisher's, never as measured here).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..factory import list_models, model_info
from ..registry import PublishedWeights
from .torchvision import torchvision_figures

TOP = (("top1", "top-1 accuracy"), ("top5", "top-5 accuracy"))


def all_published() -> list[tuple[str, PublishedWeights]]:
    """``(model, weights)`` for every published weights the registry knows."""
    return [(name, w) for name in list_models() for w in model_info(name).weights]


def published_file(sha1: str) -> tuple[str, PublishedWeights] | None:
    """``(model, weights)`` whose publisher gives this SHA-1 for its file, or None."""
    return next(((n, w) for n, w in all_published() if w.sha1 and w.sha1 == sha1), None)


def published_figures(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The accuracies published for the weights a contract's ``weights`` record names, as card rows
    ``{"what", "value" (a fraction), "unit", "source"}``; [] for weights nobody published figures for."""
    rows: list[dict[str, Any]] = []
    if record.get("source") == "caffe":
        ref = str(record.get("published") or record.get("file"))
        for _, w in all_published():
            if w.source == "caffe" and w.ref == ref:
                src = f"published by {w.publisher} ({w.evaluation}), not measured by this software"
                for key, what in TOP:
                    value = getattr(w, key)
                    if value is not None:
                        rows.append({"what": what, "value": value / 100, "unit": "fraction", "source": src})
    elif record.get("source") == "torchvision" and record.get("name"):
        for dataset, figures in torchvision_figures(str(record["name"])).items():
            src = f"published by torchvision ({dataset} val), not measured by this software"
            for key, what in TOP:
                if figures.get(key) == figures.get(key):  # not NaN
                    rows.append({"what": what, "value": figures[key] / 100, "unit": "fraction", "source": src})
    return rows
