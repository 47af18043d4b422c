"""Sharing models: ``hubconf.py`` through ``torch.hub.load(..., source="local")``, and the Hugging Face Hub layout
(``googlenet hub save``, ``googlenet.from_pretrained``), each checked to give the saved model's exact logits."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
import torch

import googlenet
from _eval_kit import IMAGENETTE, make_checkpoint
from googlenet.cli import main
from googlenet.errors import UserError
from googlenet.factory import list_models
from googlenet.weights import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("hub") / "best.safetensors", seed=5, width=0.125, input_size=32)


def logits(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(x)


X = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))


# ---------------------------------------------------------------- torch.hub
def test_hubconf_offers_every_registered_model_and_nothing_else() -> None:
    """torch.hub.list's own rule (public callables of hubconf.py; it takes GitHub repos only, so applied here)."""
    spec = importlib.util.spec_from_file_location("hubconf_under_test", ROOT / "hubconf.py")
    hubconf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hubconf)
    entries = [f for f in dir(hubconf) if callable(getattr(hubconf, f)) and not f.startswith("_")]
    assert sorted(entries) == list_models() and "googlenet" in entries and "resnet50" in entries
    assert "googlenet" in hubconf.googlenet.__doc__ and "pretrained" in hubconf.googlenet.__doc__
    assert all(importlib.util.find_spec(d) for d in hubconf.dependencies)


def test_torch_hub_load_random_and_from_a_checkpoint(checkpoint: Path) -> None:
    model = torch.hub.load(str(ROOT), "googlenet_small", source="local", num_classes=7, width=0.125)
    assert logits(model, torch.zeros(1, 3, 32, 32)).shape == (1, 7)
    loaded = torch.hub.load(str(ROOT), "googlenet", source="local", pretrained=str(checkpoint))
    reference, _, _ = load_checkpoint(checkpoint)
    assert torch.equal(logits(loaded, X), logits(reference, X))  # the same weights: bit for bit


def test_torch_hub_pretrained_with_another_class_count_keeps_the_trunk(checkpoint: Path) -> None:
    model = torch.hub.load(str(ROOT), "googlenet", source="local", pretrained=str(checkpoint), num_classes=3)
    reference, _, _ = load_checkpoint(checkpoint)
    ours, theirs = model.state_dict(), reference.state_dict()
    assert ours["fc.weight"].shape[0] == 3
    assert all(torch.equal(ours[k], theirs[k]) for k in ours if not k.startswith(("fc.", "aux1.", "aux2.")))


def test_torch_hub_refuses_weights_of_another_model(checkpoint: Path) -> None:
    with pytest.raises(UserError, match="holds 'googlenet' weights, not 'resnet18'"):
        torch.hub.load(str(ROOT), "resnet18", source="local", pretrained=str(checkpoint))
    with pytest.raises(UserError, match="checkpoint not found"):
        torch.hub.load(str(ROOT), "googlenet", source="local", pretrained=str(checkpoint.parent / "none.safetensors"))


# ---------------------------------------------------------------- Hugging Face Hub layout
def test_hub_save_and_from_pretrained_round_trip(checkpoint: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "hf"
    assert main(["hub", "save", str(checkpoint), str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert sorted(Path(f).name for f in report["files"]) == ["README.md", "config.json", "model.safetensors"]
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "googlenet" and config["architectures"] == ["googlenet"]
    assert config["num_classes"] == 10 and config["model_kwargs"] == {"width": 0.125}
    assert config["contract"]["class_names"] == IMAGENETTE and config["contract"]["input_size"] == 32
    assert config["contract"]["crop_fraction"] == 0.875
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: googlenet\n") and "# Model card: googlenet" in card
    model, contract = googlenet.from_pretrained(out, with_contract=True)
    assert not model.training and contract.names == IMAGENETTE
    reference, _, _ = load_checkpoint(checkpoint)
    assert torch.equal(logits(model, X), logits(reference, X))
    # the weights file is also an ordinary checkpoint, for every other command
    again, _, _ = load_checkpoint(out / "model.safetensors")
    assert torch.equal(logits(again, X), logits(reference, X))
    # and torch.hub takes the directory too
    hub = torch.hub.load(str(ROOT), "googlenet", source="local", pretrained=str(out))
    assert torch.equal(logits(hub, X), logits(reference, X))


def test_from_pretrained_with_a_repo_id_goes_through_snapshot_download(
    checkpoint: Path, tmp_path: Path, monkeypatch
) -> None:
    hf = pytest.importorskip("huggingface_hub", reason="needs the hub extra: pip install 'googlenet[hub]'")
    saved = googlenet.hub.save_pretrained(checkpoint, tmp_path / "saved")
    asked = {}

    def snapshot_download(repo_id, **kw):  # no network here: the Hub's cache is a copy of the saved folder
        asked.update(repo_id=repo_id, **kw)
        return str(shutil.copytree(saved, tmp_path / "cache" / repo_id.replace("/", "--")))

    monkeypatch.setattr(hf, "snapshot_download", snapshot_download)
    model = googlenet.from_pretrained("someone/googlenet-imagenette", revision="v1")
    assert asked["repo_id"] == "someone/googlenet-imagenette" and asked["revision"] == "v1"
    assert set(asked["allow_patterns"]) == {"config.json", "model.safetensors", "README.md"}
    reference, _, _ = load_checkpoint(checkpoint)
    assert torch.equal(logits(model, X), logits(reference, X))


def test_from_pretrained_mistakes_are_one_line(checkpoint: Path, tmp_path: Path, monkeypatch) -> None:
    hf = pytest.importorskip("huggingface_hub", reason="needs the hub extra: pip install 'googlenet[hub]'")

    def offline(repo_id, **kw):
        raise hf.errors.LocalEntryNotFoundError("offline mode is enabled and the files are not cached")

    monkeypatch.setattr(hf, "snapshot_download", offline)
    cases = {
        str(tmp_path): "is not a googlenet Hub directory: it has no config.json",
        str(checkpoint): "is a file: from_pretrained takes a Hub directory or repo id",
        "not a repo id!": "neither a directory nor a Hugging Face Hub repo id",
        "someone/missing": "cannot download 'someone/missing' from the Hugging Face Hub (LocalEntryNotFoundError",
    }
    for source, message in cases.items():
        with pytest.raises(UserError, match=None) as err:
            googlenet.from_pretrained(source)
        assert message in str(err.value) and "\n" not in str(err.value)


def test_hub_save_errors_are_one_line(tmp_path: Path, capsys) -> None:
    assert main(["hub", "save", str(tmp_path / "none.safetensors"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("googlenet hub: error: checkpoint not found") and err.count("\n") == 1


def test_export_format_hf_writes_the_same_directory(checkpoint: Path, tmp_path: Path, capsys) -> None:
    """``googlenet export --format hf -o DIR``: the Hub layout, the logits of the checkpoint it came from."""
    out = tmp_path / "exported"
    assert main(["export", "--checkpoint", str(checkpoint), "--format", "hf", "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    reference, _, _ = load_checkpoint(checkpoint)
    assert torch.equal(logits(googlenet.from_pretrained(out), X), logits(reference, X))
    assert main(["export", "--model", "googlenet", "--format", "hf", "-o", str(tmp_path / "x")]) == 2
    assert "give --checkpoint" in capsys.readouterr().err
