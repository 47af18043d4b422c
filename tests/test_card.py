"""`googlenet card`: model cards of a trained, an imported and a random-weight checkpoint, checked against values
computed here independently (parameters of a model built here, figures the run logged in metrics.csv, the source),
and bad input as one line with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torchvision import models as tvm

from _runs import TINY, read_csv, run_cli, this_cpu
from googlenet import create_model
from googlenet.card import card_dict, model_card
from googlenet.cli import main
from googlenet.contract import ModelContract
from googlenet.factory import default_contract
from googlenet.weights import convert, save
from googlenet.weights.caffe import caffe_contract


def card(capsys, *args: str) -> str:
    assert main(["card", *args]) == 0
    return capsys.readouterr().out


def section(text: str, title: str) -> str:
    """The body of the Markdown section ``## title``."""
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def row(text: str, field: str) -> list[str]:
    """The cells after ``field`` in the first Markdown table row that starts with it."""
    line = next(x for x in text.splitlines() if x.startswith(f"| {field} |"))
    return [c.strip() for c in line.strip("|").split(" | ")[1:]]


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------- trained here: a real (tiny) training run
@pytest.fixture(scope="module")
def trained_run(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("card") / "run"
    r = run_cli(
        "train",
        "--recipe",
        "cifar10",
        "--out",
        str(out),
        *TINY,
        f"data.dataset={synthetic_root}",
        "schedule.epochs=1",
        "data.train_subset=16",
        "data.val_subset=10",
        "data.workers=0",
        "optim.ema_decay=0.9",
    )
    assert r.returncode == 0, r.stderr
    return out


def test_card_of_a_trained_checkpoint(trained_run: Path, synthetic_root: Path, tmp_path: Path, capsys) -> None:
    logged = read_csv(trained_run / "metrics.csv")[-1]  # what the run itself logged, not read back through the card
    out = tmp_path / "CARD.md"
    assert card(capsys, str(trained_run / "last.safetensors"), "-o", str(out)).strip() == f"wrote {out}"
    text = out.read_text()
    assert text.startswith("# Model card: googlenet_small (last.safetensors)\n")

    built = create_model("googlenet_small", num_classes=10, width=0.125, batch_norm=True, lrn=False)
    aux = sum(n_params(getattr(built, name)) for name in ("aux1", "aux2"))
    assert aux > 0
    total = n_params(built)
    assert row(text, "parameters") == [
        f"{total:,} ({total - aux:,} at inference; the auxiliary classifiers' {aux:,} train only)"
    ]
    assert row(text, "classes")[0].startswith("10: airplane, automobile, bird,")
    assert "`width`: every channel count multiplied by 0.125" in row(text, "builder options")[0]

    inputs = section(text, "Input")
    assert row(inputs, "crop") == ["centre 16 x 16 px (crop fraction 1)"]
    assert row(inputs, "resize") == ["shorter side to 16 px, aspect ratio kept, bilinear interpolation"]
    assert row(inputs, "pixel range") == ["0-1"] and row(inputs, "channel order") == ["RGB"]
    config = json.loads((trained_run / "last.json").read_text())  # the dataset's mean/std as the run saved them
    assert row(inputs, "mean") == [", ".join(f"{m:g}" for m in config["mean"])]

    assert section(text, "Where the weights came from").strip() == (
        f"Trained with `googlenet train` on {synthetic_root}, weights after epoch 1."
    )
    figures = section(text, "Evaluation")
    where = f"{synthetic_root} validation, 10 images"
    assert row(figures, "top-1 accuracy") == [f"{100 * float(logged['val_acc']):.2f} %", where]
    assert row(figures, "top-5 accuracy") == [f"{100 * float(logged['val_top5']):.2f} %", where]
    assert logged["val_count"] == "10" and logged["epoch"] == "1"
    # the machine, threads, precision and code of the epoch, as the run logged them (TINY: fp32, one thread)
    ran = f"whose epoch ran on {logged['machine']}, 1 thread(s), fp32, code {logged['code']}"
    assert f"Recorded after epoch 1 of the training run, {ran}." in figures
    assert logged["machine"].startswith(this_cpu()[0]) and logged["threads"] == "1" and logged["amp"] == "none"
    assert "Made for 16 px crops" in section(text, "Known limits")


def test_card_of_averaged_weights_gives_the_average_s_accuracy(trained_run: Path, capsys) -> None:
    """ema.safetensors carries the same metrics row as last.safetensors: its own figure is ema_val_acc."""
    logged = read_csv(trained_run / "metrics.csv")[-1]
    facts = json.loads(card(capsys, str(trained_run / "ema.safetensors"), "--json"))
    assert facts["weights"]["kind"] == "ema"
    assert facts["training"]["top1"] == pytest.approx(float(logged["ema_val_acc"]), abs=1e-12)
    assert facts["training"]["top5"] is None  # not measured for the average
    first = facts["evaluation"][0]
    assert (first["what"], first["value"]) == ("top-1 accuracy", facts["training"]["top1"])
    assert facts["evaluation"][1]["what"] == "top-1 accuracy of the raw weights"
    assert "exponential moving average" in facts["provenance"]


# ---------------------------------------------------------------- imported from torchvision
def test_card_of_an_imported_torchvision_checkpoint(tmp_path: Path, capsys) -> None:
    torch.manual_seed(0)
    tv = tvm.googlenet(weights=None, aux_logits=True, init_weights=False)  # torchvision's own network, 1000 classes
    torch.save(tv.state_dict(), tmp_path / "tv_googlenet.pth")
    ckpt, _ = convert(tmp_path / "tv_googlenet.pth", tmp_path / "gbn.safetensors", "googlenet_bn")
    text = card(capsys, str(ckpt))
    aux = n_params(tv.aux1) + n_params(tv.aux2)
    assert row(text, "parameters") == [
        f"{n_params(tv):,} ({n_params(tv) - aux:,} at inference; the auxiliary classifiers' {aux:,} train only)"
    ]
    assert row(text, "classes")[0].startswith("1000: tench, goldfish,") and "(ids n01440764...)" in text
    assert section(text, "Where the weights came from").strip() == (
        "Imported from the torchvision state dict tv_googlenet.pth."
    )
    assert "No evaluation figures are recorded" in section(text, "Evaluation")  # a file: which weights is unknown
    inputs = section(text, "Input")
    assert row(inputs, "crop") == ["centre 224 x 224 px (crop fraction 0.875)"]
    assert row(inputs, "resize") == ["shorter side to 256 px, aspect ratio kept, bilinear interpolation"]
    assert row(inputs, "std") == ["0.229, 0.224, 0.225"]
    assert "`transform_input`: torchvision's input re-mapping on" in text
    assert "the 1,000 ILSVRC-2012 classes" in section(text, "Intended use")


def test_published_figures_are_labelled_with_their_publisher() -> None:
    """Imported weights carry no measurement; BVLC's and torchvision's published figures are shown as theirs."""
    bvlc = {"source": "caffe", "file": "bvlc_googlenet.caffemodel", "published": "bvlc_googlenet.caffemodel"}
    d = card_dict(caffe_contract("googlenet", 1000, {}, bvlc), {}, 13_378_280)
    assert [(r["what"], r["value"]) for r in d["evaluation"]] == [("top-1 accuracy", 0.687), ("top-5 accuracy", 0.889)]
    assert all("published by BVLC" in r["source"] and "not measured" in r["source"] for r in d["evaluation"])
    assert d["input"]["channel_order"] == "BGR" and d["input"]["pixel_range"] == 255.0
    assert any("BGR on 0-255" in text for text in d["limits"])

    name = "GoogLeNet_Weights.IMAGENET1K_V1"
    tv = ModelContract("googlenet_bn", weights={"source": "torchvision", "name": name, "url": "https://x/y.pth"})
    d = card_dict(tv, {}, 6_624_904)
    published = tvm.GoogLeNet_Weights.IMAGENET1K_V1.meta["_metrics"]["ImageNet-1K"]
    assert [r["value"] for r in d["evaluation"]] == [published["acc@1"] / 100, published["acc@5"] / 100]
    assert d["provenance"] == f"torchvision's published weights {name} (https://x/y.pth)"
    assert "69.78 %" in model_card(tv, {}, 6_624_904)


# ---------------------------------------------------------------- random weights
def test_card_of_a_random_weight_checkpoint(tmp_path: Path, capsys) -> None:
    torch.manual_seed(0)
    model = create_model("googlenet")
    ckpt = save(tmp_path / "random.safetensors", model, default_contract("googlenet").to_meta())
    facts = json.loads(card(capsys, str(ckpt), "--json"))  # stdout is the JSON alone
    aux = n_params(model.aux1) + n_params(model.aux2)
    assert facts["params"] == {"total": n_params(model), "inference": n_params(model) - aux, "aux": aux}
    assert facts["params"]["total"] == 13_378_280  # the paper's network with its auxiliary heads
    assert facts["weights"] == {"source": "random"} and facts["evaluation"] == []
    assert facts["training"]["top1"] is None and facts["provenance"].startswith("random initialisation")
    text = card(capsys, str(ckpt))
    assert "The weights are random: every prediction is meaningless." in section(text, "Known limits")
    assert "No evaluation figures are recorded" in section(text, "Evaluation")
    assert row(text, "builder options") == ["the registry's defaults"]
    assert row(text, "classes")[0].startswith("1000: class_0, class_1,")


def test_card_text_and_json_are_the_same_facts(tmp_path: Path, capsys) -> None:
    contract = default_contract("googlenet_small", num_classes=3).replace(class_names=("cat", "dog", "fox"))
    meta = {**contract.to_meta(), "epoch": 4, "metrics": {"val_acc": 0.5, "val_count": 8}}
    meta["weights"] = {"source": "trained", "dataset": "pets", "epoch": 4, "kind": "raw"}
    contract = contract.replace(weights=meta["weights"])
    d = card_dict(contract, meta, 1234, "c.safetensors")
    text = model_card(contract, meta, 1234, "c.safetensors")
    assert d["params"] == {"total": 1234, "inference": 1234, "aux": 0} and row(text, "parameters") == ["1,234"]
    assert row(section(text, "Evaluation"), "top-1 accuracy") == ["50.00 %", "pets validation, 8 images"]
    assert d["classes"] == ["cat", "dog", "fox"] and "3: cat, dog, fox" in text
    assert d["training"] == {"dataset": "pets", "epoch": 4, "top1": 0.5, "top5": None, "metrics": meta["metrics"]}


# ---------------------------------------------------------------- bad input: one line, exit 2
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    torch.manual_seed(0)
    ckpt = save(
        tmp_path / "ok.safetensors",
        create_model("googlenet_small", num_classes=2, width=0.125),
        default_contract("googlenet_small", 2, width=0.125).to_meta(),
    )
    (tmp_path / "junk.safetensors").write_bytes(b"not a checkpoint at all")
    cases = {
        "checkpoint not found": [str(tmp_path / "missing.safetensors")],
        "is not a readable safetensors checkpoint": [str(tmp_path / "junk.safetensors")],
        "does not exist": [str(ckpt), "-o", str(tmp_path / "no" / "such" / "CARD.md")],
    }
    for message, args in cases.items():
        assert main(["card", *args]) == 2, args
        captured = capsys.readouterr()
        assert captured.out == "" and message in captured.err, captured.err
        assert captured.err.startswith("googlenet card: error: ") and captured.err.count("\n") == 1
    assert not (tmp_path / "no").exists()


def test_only_the_run_words_of_a_checkpoint_reach_a_card() -> None:
    """Metadata is read from files anyone can write: numbers, and the three words of what an epoch ran on as one
    printable line, nothing else."""
    from googlenet.contract import run_record

    metrics = {"val_acc": 0.5, "amp": "bf16", "machine": "CPU X (avx2, fma)", "code": "git abc", "note": "free text",
               "val_top5": "0.9", "threads": 2}  # fmt: skip
    assert run_record({"metrics": metrics})["metrics"] == {
        "val_acc": 0.5, "amp": "bf16", "machine": "CPU X (avx2, fma)", "code": "git abc", "threads": 2
    }  # fmt: skip
    for bad in ("two\nlines", "x" * 201, "", 3.5j):
        assert "machine" not in run_record({"metrics": {"machine": bad}})["metrics"]
