"""One preprocessing rule: the validation accuracy a run records is what evaluating its checkpoint measures.

Validation inside training and ``googlenet eval`` / ``predict`` both derive the input transform from the model
contract the run saves, for image folders and for data held in memory, with ``crop_fraction < 1`` (which the
in-memory path once ignored)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from _runs import TINY, read_csv
from googlenet.cli import main
from googlenet.preprocess import preprocess
from googlenet.weights import load_checkpoint
from test_fmnist_idx import fmnist_dir  # noqa: F401 (the fixture)


def test_folder_run_records_what_eval_measures(synthetic_root: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    over = [o for o in TINY if not o.startswith("data.input_size")]
    args = [*over, f"data.dataset={synthetic_root}", "data.input_size=24", "data.crop_fraction=0.75"]
    args += ["schedule.epochs=1", "data.workers=0"]
    assert main(["train", "--recipe", "cifar10", "--out", str(out), *args]) == 0
    recorded = read_csv(out / "metrics.csv")[0]
    report = tmp_path / "eval.json"
    code = main(["eval", "--checkpoint", str(out / "best.safetensors"), "--data", str(synthetic_root),
                 "--split", "test", "--json", str(report), "--no-progress"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    evaluated = json.loads(report.read_text())
    result = evaluated["rows"][0]
    assert int(recorded["val_count"]) == 40
    assert round(float(recorded["val_acc"]) * 40) == round(result["top1"] * 40)
    assert float(recorded["val_loss"]) == pytest.approx(result["loss"], rel=1e-4)


def test_in_memory_run_records_what_the_contract_measures(fmnist_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    """Fashion-MNIST (tensors in memory): the recorded accuracy equals the checkpoint scored image by image through
    the contract's own preprocessing (``preprocess``, what ``predict`` runs), crop fraction 0.75 included."""
    out = tmp_path / "demo"
    args = ["--data", str(fmnist_dir), "--out", str(out), "data.batch_size=20", "schedule.epochs=1",
            "model.kwargs.width=0.125", "log.progress=false", "data.crop_fraction=0.75",
            "data.input_size=56", "precision.amp=none"]  # fmt: skip
    assert main(["train", "--recipe", "fashion-mnist-demo", *args]) == 0
    recorded = read_csv(out / "metrics.csv")[0]
    model, contract, _ = load_checkpoint(out / "best.safetensors")
    assert contract.crop_fraction == 0.75
    from googlenet.data.datasets import load_fashion_mnist

    test = load_fashion_mnist("test", fmnist_dir)
    model.eval()
    with torch.no_grad():
        x = torch.stack([preprocess(Image.fromarray(np.asarray(img[0]), mode="L"), contract) for img in test.images])
        logits = model(x)
    labels = torch.tensor(test.targets)
    assert int(recorded["val_count"]) == len(labels)
    assert round(float(recorded["val_acc"]) * len(labels)) == int((logits.argmax(1) == labels).sum())
    assert float(recorded["val_loss"]) == pytest.approx(F.cross_entropy(logits, labels).item(), rel=1e-4)
