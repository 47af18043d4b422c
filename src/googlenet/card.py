"""Model cards: what a checkpoint is, how to feed it, where its weights came from and how well they did.

One set of facts, two forms: :func:`card_dict` (JSON-ready, for ``GET /v1/model`` and ``googlenet card --json``)
and :func:`model_card` (Markdown, for ``googlenet card`` and the documentation). Both read only the checkpoint's
:class:`~googlenet.contract.ModelContract`, its metadata (``epoch``, ``metrics``) and the parameter count of the
built model; nothing is measured here. Accuracies printed are the ones recorded with the weights (by the training
run that wrote them), or published ones labelled with who published them::

    mf = open_model("runs/x/best.safetensors")  # or an exported .onnx / TorchScript file
    params, aux = count_params(mf.architecture())
    text = model_card(mf.contract, mf.meta, params, "best.safetensors", aux)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from torch import nn

from .contract import ModelContract, run_record
from .factory import AUX_PREFIXES, model_info
from .runtime.cpu import amp_words
from .weights import open_model
from .weights.published import published_figures

__all__ = ["card_dict", "checkpoint_card", "count_params", "model_card"]

# Validation figures a training run records: metrics key, name, unit ("fraction": shown as a percentage).
VAL_FIGURES = (
    ("val_acc", "top-1 accuracy", "fraction"),
    ("val_top5", "top-5 accuracy", "fraction"),
    ("val_loss", "loss", ""),
)

# What a builder option means, for the options that make a network differ from its paper (GoogLeNet family).
OPTION_NOTES = {
    "width": "every channel count multiplied by {v} (the paper: 1)",
    "batch_norm": "batch norm after every convolution (not in the paper)",
    "lrn": "the two LRN layers {state} (the paper: present)",
    "aux_logits": "auxiliary classifiers {state} (used in training only)",
    "dropout": "dropout before the classifier {v} (the paper: 0.4)",
    "small_input": "a 3x3/1 stem for 28-32 px images instead of the 7x7/2 conv and two pools",
    "naive": "the naive Inception module of Figure 2a (no 1x1 reductions)",
    "transform_input": "torchvision's input re-mapping {state}",
    "in_chans": "{v} input channel(s)",
}


def count_params(model: nn.Module) -> tuple[int, int]:
    """``(all parameters, those of the auxiliary classifiers aux1/aux2)`` of ``model``."""
    total = aux = 0
    for name, p in model.named_parameters():
        total += p.numel()
        if name.startswith(AUX_PREFIXES):
            aux += p.numel()
    return total, aux


# ---------------------------------------------------------------------------------------------- the facts
def card_dict(
    contract: ModelContract,
    meta: Mapping[str, Any],
    params: int,
    checkpoint: str | None = None,
    aux_params: int = 0,
) -> dict[str, Any]:
    """The card as JSON-ready data.

    Args:
        contract: the weights' contract (:func:`googlenet.weights.open_model` gives it).
        meta: the checkpoint's metadata (``epoch`` and ``metrics`` are read; the rest is the contract).
        params: parameters of the built model (:func:`count_params`).
        checkpoint: the file's name, shown as given.
        aux_params: how many of ``params`` belong to auxiliary classifiers used in training only.

    Returns:
        ``architecture``, ``family``, ``description``, ``model_kwargs``, ``options`` (what each builder option
        changes), ``params`` (``total``, ``inference``, ``aux``), ``num_classes``, ``classes``, ``class_ids``,
        ``input`` (the input contract, the keys ``GET /v1/model`` uses), ``weights`` (the contract's record),
        ``provenance`` (one sentence), ``training`` (``dataset``, ``epoch``, ``top1``, ``top5``: fractions),
        ``evaluation`` (rows of ``{"what", "value", "source"}``), ``intended_use`` and ``limits``.
    """
    info = model_info(contract.model)
    aux = int(aux_params)
    record = run_record(meta)
    metrics = record.get("metrics", {})
    kind = contract.weights.get("kind")
    top1 = metrics.get("ema_val_acc") if kind == "ema" else metrics.get("val_acc")
    return {
        "architecture": contract.model,
        "family": info.family,
        "description": info.doc,
        "checkpoint": checkpoint,
        "model_kwargs": dict(contract.model_kwargs),
        "options": option_notes(contract),
        "params": {"total": int(params), "inference": int(params) - aux, "aux": aux},
        "num_classes": contract.num_classes,
        "classes": contract.names if contract.num_classes else [],
        "class_ids": list(contract.class_ids) if contract.class_ids else None,
        "input": input_contract(contract),
        "weights": dict(contract.weights),
        "provenance": provenance(contract),
        "training": {
            "dataset": contract.weights.get("dataset") if contract.source == "trained" else None,
            "epoch": record.get("epoch"),
            "top1": top1,
            "top5": metrics.get("val_top5") if kind != "ema" else None,
            "metrics": metrics,
        },
        "evaluation": evaluation(contract, metrics),
        "intended_use": intended_use(contract),
        "limits": limits(contract, metrics),
    }


def input_contract(c: ModelContract) -> dict[str, Any]:
    """The input contract as plain values (what ``GET /v1/model`` reports under ``input``)."""
    return {
        "size": c.input_size,
        "channels": c.in_chans,
        "image_mode": c.image_mode,
        "pixel_range": c.pixel_range,
        "channel_order": c.channel_order,
        "mean": list(c.mean),
        "std": list(c.std),
        "resize": c.resize,
        "resize_size": c.resize_size,
        "crop_fraction": c.crop_fraction,
        "interpolation": c.interpolation,
    }


def option_notes(c: ModelContract) -> dict[str, str]:
    """``{option: what it changes}`` for the builder options the weights were built with."""
    out = {}
    for key, value in c.model_kwargs.items():
        note = OPTION_NOTES.get(key, "{v}")
        state = "kept" if value else "removed"
        if key in ("aux_logits", "transform_input"):
            state = "on" if value else "off"
        out[key] = note.format(v=value, state=state)
    return out


def provenance(c: ModelContract) -> str:
    """One sentence: where the weights came from."""
    w = c.weights
    source = c.source
    if source == "random":
        return "random initialisation: the weights were never trained"
    if source == "trained":
        kind = "exponential moving average of the weights" if w.get("kind") == "ema" else "weights"
        text = f"trained with `googlenet train` on {w.get('dataset', 'an unrecorded dataset')}"
        text += f", {kind} after epoch {w['epoch']}" if "epoch" in w else ""
        init = w.get("init")
        if isinstance(init, Mapping):
            text += f"; fine-tuned from {_init_text(init)}"
        return text
    if source == "caffe":
        text = f"imported from BVLC's Caffe model {w.get('file', '(file not recorded)')}"
        return text + (f" (sha1 {w['sha1']})" if w.get("sha1") else "")
    if source == "torchvision":
        if w.get("name"):
            return f"torchvision's published weights {w['name']}" + (f" ({w['url']})" if w.get("url") else "")
        return f"imported from the torchvision state dict {w.get('file', '(file not recorded)')}"
    return f"imported ({', '.join(f'{k}: {v}' for k, v in w.items())})"


def _init_text(init: Mapping[str, Any]) -> str:
    spec = str(init.get("from", "?"))
    if init.get("source") == "torchvision":
        return f"torchvision's {init.get('name', 'published weights')}"
    if init.get("source") == "caffe":
        return f"BVLC's {init.get('file', spec)}"
    return spec


def evaluation(c: ModelContract, metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Evaluation figures that belong to these weights: the training run's record, or a publisher's figures."""
    rows: list[dict[str, Any]] = []
    if c.source == "trained" and metrics:
        where = f"{c.weights.get('dataset', 'the run')} validation"
        count = metrics.get("val_count")
        if isinstance(count, int):
            where += f", {count:,} images"
        ema = c.weights.get("kind") == "ema"
        for key, what, unit in VAL_FIGURES:
            if key in metrics:
                label = f"{what} of the raw weights" if ema else what
                rows.append({"what": label, "value": metrics[key], "unit": unit, "source": where})
        if ema and "ema_val_acc" in metrics:
            rows.insert(
                0, {"what": "top-1 accuracy", "value": metrics["ema_val_acc"], "unit": "fraction", "source": where}
            )
    elif c.source in ("caffe", "torchvision"):
        rows.extend(published_figures(c.weights))  # the publisher's, stored with the weights they describe
    return rows


def intended_use(c: ModelContract) -> str:
    """What the weights are for, in one paragraph."""
    if c.num_classes == 0:
        return "Feature extraction: the model returns pooled features, not class scores."
    if c.source == "random":
        return "Testing software (shapes, speed, export): random weights classify nothing."
    n = f"the {c.num_classes} classes listed" if c.num_classes != 1000 else "the 1,000 ILSVRC-2012 classes"
    where = (
        f"photos like those of {c.weights.get('dataset')}"
        if c.source == "trained" and c.weights.get("dataset")
        else "photos like ImageNet's"
        if c.num_classes == 1000
        else "photos like those the weights were trained on"
    )
    return (
        f"Classifying {where} into {n}, prepared by the input contract above (`googlenet predict`, `eval`, "
        "`serve` and exported files do this); a starting point for fine-tuning (`model.init_weights=PATH`)."
    )


def limits(c: ModelContract, metrics: Mapping[str, Any]) -> list[str]:
    """Known limits of these weights, one sentence each."""
    out = []
    if c.source == "random":
        out.append("The weights are random: every prediction is meaningless.")
    if c.num_classes:
        out.append(
            f"Every image gets one of the {c.num_classes:,} classes, including images of none of them; "
            "a high probability is not a sign that the image belongs to the classes at all."
        )
    if c.source == "trained":
        if metrics:
            out.append(
                "The accuracy is the training run's validation figure on one data set; photos from elsewhere "
                "(other cameras, framing, subjects) can do worse."
            )
        else:
            out.append("No evaluation figures are recorded with these weights.")
    if c.source == "caffe":
        out.append(
            "BVLC's tools resized with OpenCV's bilinear filter without antialiasing (AlexNet: a mean image); "
            "this software's preprocessing is antialiased with the per-channel mean, so figures come close to "
            "BVLC's, not identical."
        )
    if c.source in ("caffe", "torchvision") and c.num_classes == 1000:
        out.append("ImageNet's classes and photos (web images collected around 2010) carry that data set's biases.")
    if c.input_size < 224:
        out.append(
            f"Made for {c.input_size} px crops: larger photos are shrunk to {c.resize_size} px first, "
            "so small details are lost."
        )
    if c.channel_order == "BGR" or c.pixel_range != 1.0:
        out.append(
            f"Inputs must be {c.channel_order} on 0-{c.pixel_range:g} pixels minus the mean above: "
            "the usual RGB 0-1 ImageNet normalisation gives wrong answers."
        )
    out.append("Not evaluated for safety-critical use or for fairness across groups of people.")
    return out


# ---------------------------------------------------------------------------------------------- Markdown
def model_card(
    contract: ModelContract,
    meta: Mapping[str, Any],
    params: int,
    checkpoint: str | None = None,
    aux_params: int = 0,
) -> str:
    """The card in Markdown: the facts of :func:`card_dict` (same arguments)."""
    d = card_dict(contract, meta, params, checkpoint, aux_params)
    c = contract
    lines = [f"# Model card: {d['architecture']}" + (f" ({checkpoint})" if checkpoint else ""), ""]
    p = d["params"]
    count = f"{p['total']:,}"
    if p["aux"]:
        count += f" ({p['inference']:,} at inference; the auxiliary classifiers' {p['aux']:,} train only)"
    rows = [
        ("architecture", f"`{d['architecture']}` ({d['family']} family): {d['description']}"),
        ("builder options", _options_text(d["options"])),
        ("parameters", count),
        ("classes", _classes_text(c)),
    ]
    lines += [*_table(("field", "value"), rows), "", "## Input", ""]
    resize = (
        f"shorter side to {c.resize_size} px, aspect ratio kept"
        if c.resize == "shorter"
        else f"warped to {c.resize_size} x {c.resize_size} px, aspect ratio not kept"
    )
    lines += _table(
        ("field", "value"),
        [
            ("image", f"decoded as {c.image_mode}, {c.in_chans} channel{'s' if c.in_chans != 1 else ''}"),
            ("crop", f"centre {c.input_size} x {c.input_size} px (crop fraction {c.crop_fraction:g})"),
            ("resize", f"{resize}, {c.interpolation} interpolation"),
            ("pixel range", f"0-{c.pixel_range:g}"),
            ("channel order", c.channel_order),
            ("mean", ", ".join(f"{v:g}" for v in c.mean)),
            ("std", ", ".join(f"{v:g}" for v in c.std)),
        ],
    )
    lines += [
        "",
        f"In one line: resize ({resize}), cut the centre {c.input_size} px square, scale pixels to "
        f"0-{c.pixel_range:g}, order channels {c.channel_order}, subtract the mean and divide by the std.",
        "",
        "## Where the weights came from",
        "",
        d["provenance"][0].upper() + d["provenance"][1:] + ".",
        "",
        "## Evaluation",
        "",
    ]
    if d["evaluation"]:
        rows = [(r["what"], _figure(r["value"], r["unit"]), r["source"]) for r in d["evaluation"]]
        lines += _table(("figure", "value", "measured on / by"), rows)
        if d["training"]["epoch"] is not None:
            ran = _ran_on(d["training"]["metrics"])
            lines += ["", f"Recorded after epoch {d['training']['epoch']} of the training run{ran}."]
    else:
        lines.append(
            "No evaluation figures are recorded with these weights; measure them with "
            "`googlenet eval --checkpoint CHECKPOINT --data DIR`."
        )
    lines += ["", "## Intended use", "", d["intended_use"], "", "## Known limits", ""]
    lines += [f"- {text}" for text in d["limits"]]
    return "\n".join(lines) + "\n"


def _ran_on(metrics: Mapping[str, Any]) -> str:
    """What the epoch that saved the weights ran on, where the run recorded it (runs since 2026-12-07)."""
    if not metrics.get("machine"):
        return ""
    precision = amp_words(metrics.get("amp"))
    threads = metrics.get("threads")
    text = f", whose epoch ran on {metrics['machine']}" + (f", {threads} thread(s)" if threads else "")
    return text + f", {precision}" + (f", code {metrics['code']}" if metrics.get("code") else "")


def _options_text(notes: Mapping[str, str]) -> str:
    if not notes:
        return "the registry's defaults"
    return "; ".join(f"`{k}`: {v}" for k, v in notes.items())


def _classes_text(c: ModelContract, shown: int = 10) -> str:
    if c.num_classes == 0:
        return "none: a features-only model"
    names = c.names
    text = ", ".join(names[:shown]) + (f", ... ({c.num_classes - shown} more)" if len(names) > shown else "")
    if c.class_ids:
        text += f" (ids {c.class_ids[0]}...)" if c.num_classes > 1 else f" (id {c.class_ids[0]})"
    return f"{c.num_classes}: {text}"


def _figure(value: Any, unit: str) -> str:
    if unit == "fraction":
        return f"{100 * value:.2f} %"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Markdown table lines; a cell's ``|`` escaped and its newlines as spaces."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(str(v).replace("|", "\\|").replace("\n", " ") for v in row) + " |" for row in rows]


# ---------------------------------------------------------------------------------------------- checkpoints
def checkpoint_card(path: str | os.PathLike) -> tuple[str, dict[str, Any]]:
    """The Markdown card and its data for the model file at ``path`` (a checkpoint or a run folder: its best, last
    or model.safetensors; or an exported ONNX, TorchScript or OpenVINO IR file, whose contract it carries). The
    model is opened once, to count its parameters (an exported graph's architecture is built on the meta device)."""
    mf = open_model(path)
    params, aux = count_params(mf.architecture())
    name = Path(path).name
    if Path(path).is_dir():
        name = f"{name}/{mf.path.name}"
    return model_card(mf.contract, mf.meta, params, name, aux), card_dict(mf.contract, mf.meta, params, name, aux)
