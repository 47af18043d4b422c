"""The run config (``googlenet.config``): every field declared once and round-tripped, every choice refused at
``--print-config`` in one line, the old flat names and saved configs migrated, the schema page kept current."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from googlenet.cli import build_parser, main
from googlenet.cli.train import RESUME_SAFE, config_from_args
from googlenet.config import ConfigError, TrainConfig, dump_yaml, load_recipe, load_yaml, parse_overrides
from googlenet.config.docs import schema_markdown
from googlenet.config.validate import choices, kind, leaves
from googlenet.errors import UserError
from googlenet.train.state import load_state, save_state
from googlenet.weights import read_checkpoint, save

ROOT = Path(__file__).resolve().parents[1]
FLAT_V1 = Path(__file__).parent / "data" / "flat_config_v1.yaml"


def schema_fields() -> dict[str, FieldInfo]:
    """Every leaf field of the schema by dotted path, read from the schema itself."""
    out = {}
    for name, info in TrainConfig.model_fields.items():
        sub = info.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            out.update({f"{name}.{f}": i for f, i in sub.model_fields.items()})
        else:
            out[name] = info
    return out


FIELDS = schema_fields()
LITERALS = sorted(p for p, f in FIELDS.items() if choices(f) is not None)
# what a field's other value needs beside it (the rules between fields)
COMPANIONS = {
    "model.freeze": {"model.init_weights": "source.safetensors"},
    "model.zero_init_bn": {"model.name": "resnet18"},
    "data.min_scale": {"data.augment": "standard"},
}


def other_value(path: str, info: FieldInfo) -> Any:
    """A valid value of the field that is not its default."""
    default = info.get_default(call_default_factory=True)
    values = choices(info)
    if values is not None:
        return next(v for v in values if v != default)
    base, _ = kind(info)
    if base is bool:
        return not default
    if base is int:
        return (default or 1) + 2
    if base is float:
        return 0.5 if default != 0.5 else 0.25  # inside every declared range: (0, 1), >= 0, > 0
    if base is dict:
        return {"width": 0.5, "aux_logits": False}
    if path == "model.name":
        return "resnet18"
    return "some text 1e3"


def nested(path: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    node = out
    parts = path.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value
    return out


def test_the_schema_has_the_fields_of_a_run() -> None:
    assert len(FIELDS) == 59  # the 55 before the groups and the 4 of NEWER_THAN_V1: nothing lost on the way
    assert {"task", "seed", "optim.lr", "model.kwargs", "schedule.name", "precision.amp", "log.progress"} <= set(FIELDS)
    assert all(f.description for f in FIELDS.values()), [p for p, f in FIELDS.items() if not f.description]
    assert set(FIELDS) >= RESUME_SAFE


@pytest.mark.parametrize("path", sorted(FIELDS))
def test_every_field_round_trips_through_yaml_overrides_and_a_checkpoint(path: str, tmp_path: Path) -> None:
    value = other_value(path, FIELDS[path])
    items = [f"{p}={dump_yaml(v, flow=True)}" for p, v in {**COMPANIONS.get(path, {}), path: value}.items()]
    cfg = TrainConfig.from_dict(parse_overrides(items, warn=False))
    got, default = leaves(cfg.to_dict(), TrainConfig)[path], leaves(TrainConfig().to_dict(), TrainConfig)[path]
    assert got == value and got != default
    (tmp_path / "config.yaml").write_text(dump_yaml(cfg.to_dict()))  # as a run writes config.yaml
    assert load_recipe(str(tmp_path / "config.yaml")) == cfg
    save(tmp_path / "w.safetensors", torch.nn.Linear(1, 1), {"model": "googlenet", "config": cfg.to_dict()})
    assert TrainConfig.from_dict(read_checkpoint(tmp_path / "w.safetensors")[1]["config"]) == cfg
    save_state(tmp_path, {"config": cfg.to_dict()})
    assert TrainConfig.from_dict(load_state(tmp_path)["config"]) == cfg


@pytest.mark.parametrize("path", LITERALS)
def test_a_bad_choice_is_one_line_at_print_config(path: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "--recipe", "cifar10", "--print-config", f"{path}=bogus"]) == 2
    out, err = capsys.readouterr()
    allowed = ", ".join(map(str, choices(FIELDS[path])))
    assert out == "" and err == f"googlenet train: error: config field {path!r} must be one of {allowed}, got 'bogus'\n"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.lr=-1", "config field 'optim.lr' must be > 0, got -1.0"),
        ("data.batch_size=0.5", "config field 'data.batch_size' must be an integer >= 1, got 0.5"),
        ("optim.bogus=1", "unknown config field 'optim.bogus'; optim has: name, lr,"),
        ("model.name=googlenett", "config field 'model.name': unknown model 'googlenett'"),
        ("optim.nesterov=1", "config field 'optim.nesterov' must be true or false, got 1"),
        (
            "data.min_scale=0.35",
            "data.min_scale=0.35 sizes the standard augmentation's random-resized crops; data.augment=cifar has none",
        ),
    ],
)
def test_a_bad_value_is_one_line_at_print_config(override: str, message: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "--recipe", "cifar10", "--print-config", override]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err and "Traceback" not in err


def test_flat_names_give_one_notice_and_the_same_config(capsys: pytest.CaptureFixture) -> None:
    dotted = ["optim.lr=0.05", "model.kwargs.width=0.5", "model.name=googlenet", "data.root=/d", "checkpoint.out=2024"]
    flat = ["lr=0.05", "model_kwargs.width=0.5", "model=googlenet", "data=/d", "out=2024"]
    assert main(["train", "--recipe", "cifar10", "--print-config", *dotted]) == 0
    want, quiet = capsys.readouterr()
    assert main(["train", "--recipe", "cifar10", "--print-config", *flat]) == 0
    got, notice = capsys.readouterr()
    assert got == want and quiet == ""
    assert notice.count("\n") == 1 and "deprecated" in notice
    for pair in ("lr -> optim.lr", "model_kwargs -> model.kwargs", "model -> model.name", "data -> data.root"):
        assert pair in notice
    assert "out -> checkpoint.out" in notice
    cfg = load_yaml(got)
    assert cfg["checkpoint"]["out"] == "2024" and cfg["model"]["kwargs"]["width"] == 0.5  # text stays text


NEWER_THAN_V1 = ("task", "data.in_memory", "data.min_scale", "schedule.eval_every")  # not in the flat config


def test_an_old_flat_saved_config_migrates() -> None:
    flat = load_yaml(FLAT_V1.read_text())
    cfg = TrainConfig.from_dict(flat)
    # by hand, from the file: each old name at its new place
    assert (cfg.data.dataset, cfg.data.root, cfg.data.workers, cfg.data.batch_size) == ("cifar10", "/data", 1, 128)
    assert (cfg.model.name, cfg.model.kwargs) == ("googlenet_small", {"width": 0.125, "batch_norm": True, "lrn": False})
    assert (cfg.model.init_weights, cfg.model.freeze) == ("torchvision", "features")
    assert (cfg.optim.name, cfg.optim.lr, cfg.optim.ema_decay, cfg.optim.precise_bn_batches) == ("sgd", 0.2, 0.5, 50)
    assert (cfg.schedule.name, cfg.schedule.epochs, cfg.schedule.onecycle_pct) == ("onecycle", 5, 0.25)
    assert (cfg.precision.channels_last, cfg.precision.threads, cfg.checkpoint.out) == (True, 1, "runs/c10")
    assert (cfg.checkpoint.save_every_steps, cfg.log.progress, cfg.seed, cfg.task) == (50, True, 0, "classify")
    # every one of the 55 old values lands somewhere, and every field but the newer ones comes from one
    assert len(flat) == 55 and sorted(map(repr, flat.values())) == sorted(
        repr(v) for p, v in leaves(cfg.to_dict(), TrainConfig).items() if p not in NEWER_THAN_V1
    )


def test_resume_of_a_run_saved_with_the_flat_config(tmp_path: Path) -> None:
    save_state(tmp_path, {"config": load_yaml(FLAT_V1.read_text())})
    parse = build_parser().parse_args
    cfg = config_from_args(parse(["train", "--resume", str(tmp_path), "data.workers=0", "--epochs", "6"]))
    assert (cfg.data.workers, cfg.schedule.epochs, cfg.optim.lr, cfg.checkpoint.out) == (0, 6, 0.2, str(tmp_path))
    with pytest.raises(UserError, match=r"'optim.lr' cannot change .saved 0.2, asked 0.1."):
        config_from_args(parse(["train", "--resume", str(tmp_path), "lr=0.1"]))


def test_a_flat_recipe_reads_with_one_notice(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("model: resnet18\nlr: 0.01\nschedule: paper\nmodel_kwargs: {in_chans: 1}\n")
    cfg = load_recipe(str(path))
    assert (cfg.model.name, cfg.optim.lr, cfg.schedule.name, cfg.model.kwargs) == (
        "resnet18",
        0.01,
        "paper",
        {"in_chans": 1},
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "model -> model.name" in err and "lr -> optim.lr" in err


def test_shipped_recipes_are_grouped(capsys: pytest.CaptureFixture) -> None:
    for path in sorted((ROOT / "src/googlenet/recipes").glob("*.yaml")):
        data = load_yaml(path.read_text())
        assert set(data) <= set(TrainConfig.model_fields) and all(isinstance(v, dict) for v in data.values()), path
        load_recipe(str(path))
    assert capsys.readouterr().err == ""


def test_print_schema_lists_every_field_and_docs_config_is_its_output(capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "--print-schema"]) == 0
    out = capsys.readouterr().out
    assert out == schema_markdown()
    for path, info in FIELDS.items():
        row = next(line for line in out.splitlines() if line.startswith(f"| `{path}` |"))
        assert (info.description or "").replace("|", "\\|") in row
    assert "| `optim.lr` | number > 0 | `0.1` |" in out and "| `data.crop_fraction` | number in (0, 1] | `1.0` |" in out
    page = (ROOT / "docs" / "config.md").read_text()
    assert page == out, "docs/config.md is stale: python -m googlenet.config.docs > docs/config.md"
    assert "config.md" in (ROOT / "mkdocs.yml").read_text()


def test_config_error_is_a_user_error() -> None:
    assert issubclass(ConfigError, UserError)
    with pytest.raises(ConfigError, match="a config must be a mapping of fields"):
        TrainConfig.from_dict([1, 2])


def test_a_task_not_trained_yet_stops_before_any_data(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["train", "--recipe", "cifar10", "--out", str(tmp_path / "o"), f"data.dataset={tmp_path / 'none'}"]
    assert main([*args, "task=detect", "--print-config"]) == 0  # a declared choice: the config is valid
    capsys.readouterr()
    assert main([*args, "task=detect"]) == 2
    assert (
        capsys.readouterr().err
        == "googlenet train: error: task=detect: this version trains classification only (task=classify)\n"
    )


def test_overrides_may_come_in_several_runs_between_options(capsys, tmp_path):
    """argparse alone takes the first run of positionals only: ``a=1 --out D b=2`` used to refuse ``b=2``."""
    argv = ["train", "--recipe", "cifar10", "optim.lr=0.5", "--out", str(tmp_path / "r"), "schedule.epochs=3"]
    assert main([*argv, "--print-config"]) == 0
    saved = load_yaml(capsys.readouterr().out)
    assert saved["optim"]["lr"] == 0.5 and saved["schedule"]["epochs"] == 3
    assert saved["checkpoint"]["out"] == str(tmp_path / "r")
    assert main([*argv, "--print-config", "--no-such-flag"]) == 2
    assert "unrecognized arguments: --no-such-flag" in capsys.readouterr().err
