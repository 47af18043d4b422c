"""The training engine end to end on tiny real subsets: outputs, metadata, bad data, NaN, Ctrl-C, atomic saves."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import save_file

from _runs import TINY, cli, env, read_csv, run_cli, wait_for_steps
from googlenet.cli import build_parser
from googlenet.cli.train import config_from_args
from googlenet.config import ConfigError, TrainConfig, list_recipes, load_recipe, parse_overrides
from googlenet.errors import UserError
from googlenet.fileio import atomic_write
from googlenet.train.state import load_state, rng_state, save_state
from googlenet.weights import CheckpointError, load_checkpoint
from test_data import make_folder

# recipe: the runs of its header's evidence; the first is imagenette-128 with overrides, each later one the recipe as
# it then stood with one more override (a lever taken into it)
RECORDED_RECIPES = {
    "imagenette-128-e20": ("in128-w1-e20-rrc35-e160", "fp32-e20-ls02"),
    "imagenette-128-w1": ("w1-ls02",),
}


def _recorded_command(run: str) -> tuple[str, list[str]]:
    """The recipe and the overrides of ``run``'s recorded command; ``log.*`` (what is printed) left out."""
    from googlenet.analysis.accuracy import project_results

    (command,) = [r.detail for r in project_results() if f"--out runs/{run} " in r.detail]
    words = command.split()
    assert words[:3] == ["googlenet", "train", "--recipe"]
    return words[3], [w for w in words[6:] if "=" in w and not w.startswith("log.")]


@pytest.mark.parametrize(("recipe", "runs"), RECORDED_RECIPES.items())
def test_recipe_is_the_recorded_run_of_its_evidence(recipe: str, runs: tuple[str, ...]) -> None:
    """A recipe whose evidence is recorded runs (analysis/results.yaml) must configure exactly what they ran."""
    base, overrides = _recorded_command(runs[0])
    assert base == "imagenette-128"
    for later in runs[1:]:
        name, more = _recorded_command(later)
        assert name == recipe
        overrides += more
    assert load_recipe(recipe) == load_recipe(base, parse_overrides(overrides))


def test_recipes_ship_and_load() -> None:
    assert {"fashion-mnist-demo", "cifar10", "imagenette-128", "imagenet-paper"} <= set(list_recipes())
    for name in list_recipes():
        cfg = load_recipe(name)
        assert isinstance(cfg, TrainConfig)
    paper = load_recipe("imagenet-paper")
    assert (paper.schedule.name, paper.schedule.step_gamma, paper.schedule.step_epochs, paper.optim.momentum) == (
        "paper",
        0.96,
        8,
        0.9,
    )
    assert paper.data.augment == "paper" and paper.optim.aux_weight == 0.3 and paper.optim.ema_decay > 0


def test_overrides_parse_yaml_values() -> None:
    over = parse_overrides(["optim.lr=0.05", "optim.nesterov=true", "model.kwargs.width=0.5", "data.train_subset="])
    assert over == {"optim": {"lr": 0.05, "nesterov": True}, "model": {"kwargs": {"width": 0.5}}} | {
        "data": {"train_subset": None}
    }
    cfg = load_recipe("cifar10", over)
    assert cfg.model.kwargs["width"] == 0.5 and cfg.model.kwargs["batch_norm"] is True  # merged, not replaced


def test_atomic_write_never_leaves_a_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "state.pt"
    save_state(tmp_path, {"step": torch.tensor(1)})

    def crash(tmp: str) -> None:
        Path(tmp).write_bytes(b"half a file")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        atomic_write(target, crash)
    assert load_state(tmp_path)["step"].item() == 1  # the old state is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.pt"]  # no temp file left behind


def test_resume_state_loads_with_weights_only(tmp_path: Path) -> None:
    save_state(tmp_path, {"rng": rng_state(), "history": [{"epoch": 1, "val_acc": 0.5}]})
    state = torch.load(tmp_path / "state.pt", weights_only=True)  # raises if anything but data was pickled
    assert state["history"][0]["val_acc"] == 0.5
    assert tuple(state["rng"]["python"][1]) == random.getstate()[1]


def test_tiny_run_writes_checkpoints_metrics_and_plot(train_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = run_cli(
        "train",
        "--recipe",
        "cifar10",
        "--out",
        str(out),
        *TINY,
        f"data.dataset={train_root}",
        "schedule.epochs=2",
        "data.train_subset=48",
        "data.val_subset=21",
        "data.workers=0",
        "optim.ema_decay=0.9",
        "optim.label_smoothing=0.1",
    )
    assert r.returncode == 0, r.stderr
    assert "final val accuracy" in r.stdout and "checkpoint:" in r.stdout
    rows = read_csv(out / "metrics.csv")
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert all(row["val_count"] == "21" for row in rows)
    assert rows[-1]["step"] == "12"  # 48 images / batch 8 = 6 steps an epoch
    assert (out / "curves.png").stat().st_size > 1000
    model, contract, meta = load_checkpoint(out / "last.safetensors")
    assert meta["model"] == "googlenet_small" and meta["num_classes"] == 10 and meta["input_size"] == 16
    assert meta["class_names"][0] == "airplane" and len(meta["mean"]) == 3 and meta["epoch"] == 2
    assert meta["config"]["optim"]["ema_decay"] == 0.9 and meta["metrics"]["val_count"] == 21
    # the checkpoint carries the run's contract: the evaluation it used, where the weights came from
    assert (contract.input_size, contract.in_chans, contract.resize, contract.crop_fraction) == (16, 3, "shorter", 1.0)
    assert (contract.pixel_range, contract.channel_order, contract.interpolation) == (1.0, "RGB", "bilinear")
    assert contract.weights == {"source": "trained", "dataset": str(train_root), "epoch": 2, "kind": "raw"}
    assert contract.class_names is not None and len(contract.class_names) == 10
    assert contract.model_kwargs == {"width": 0.125, "batch_norm": True, "lrn": False}
    best = json.loads((out / "best.json").read_text())
    assert best["weights"]["kind"] in ("raw", "ema") and best["weights"]["source"] == "trained"
    assert json.loads((out / "ema.json").read_text())["weights"]["kind"] == "ema"
    assert (out / "ema.safetensors").is_file()
    assert model(torch.zeros(2, 3, 16, 16)).shape == (2, 10)

    # a finished run extended by one epoch continues (it once ended in OneCycleLR's "Tried to step" traceback)
    r = run_cli("train", "--resume", str(out), "schedule.epochs=3")
    assert r.returncode == 0, r.stderr
    assert "schedule now spans" in r.stderr
    assert [row["epoch"] for row in read_csv(out / "metrics.csv")] == ["1", "2", "3"]
    assert len(read_csv(out / "steps.csv")) == 18


def test_bad_images_are_counted_per_epoch_and_strict_stops(synthetic_root: Path, tmp_path: Path) -> None:
    root = make_folder(synthetic_root, tmp_path / "data", per_class=8)
    (root / "train" / "airplane" / "empty.jpg").write_bytes(b"")
    (root / "train" / "airplane" / "junk.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    args = ["train", "--recipe", "cifar10", *TINY, f"data.dataset={root}", "schedule.epochs=1", "data.workers=1"]
    r = run_cli(*args, "--out", str(tmp_path / "lenient"))
    assert r.returncode == 0, r.stderr
    assert "skipped 2 unreadable image(s)" in r.stderr
    assert read_csv(tmp_path / "lenient" / "metrics.csv")[0]["bad_images"] == "2"
    assert r.stderr.count("skipping unreadable image:") == 2  # one line per file, no UserWarning chatter
    assert "empty.jpg: empty file" in r.stderr and "junk.jpg" in r.stderr and "Warning" not in r.stderr
    r = run_cli(*args, "--strict-data", "--out", str(tmp_path / "strict"))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr  # it raised inside a DataLoader worker
    assert r.stderr.strip().count("\n") == 0 and ("empty.jpg: empty file" in r.stderr or "junk.jpg" in r.stderr)


def test_missing_split_fails_before_training(synthetic_root: Path, tmp_path: Path) -> None:
    root = make_folder(synthetic_root, tmp_path / "data", splits=("train",))
    r = run_cli("train", "--recipe", "cifar10", *TINY, f"data.dataset={root}", "--out", str(tmp_path / "o"))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "no val/ or test/ split" in r.stderr  # one line, no traceback
    assert not (tmp_path / "o").exists()


def test_nan_loss_stops_naming_the_step(synthetic_root: Path, tmp_path: Path) -> None:
    r = run_cli(
        "train",
        "--recipe",
        "cifar10",
        "--out",
        str(tmp_path / "o"),
        *TINY,
        f"data.dataset={synthetic_root}",
        "optim.lr=1.0e+30",
        "schedule.name=constant",
        "schedule.warmup_epochs=0",
        "data.train_subset=64",
        "data.val_subset=8",
        "data.workers=0",
    )
    assert r.returncode == 2, r.stderr
    assert "loss is nan at step" in r.stderr or "loss is inf at step" in r.stderr
    assert "Traceback" not in r.stderr


def test_ctrl_c_saves_and_exits_cleanly(synthetic_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    p = subprocess.Popen(
        cli(
            "train",
            "--recipe",
            "cifar10",
            "--out",
            str(out),
            *TINY,
            f"data.dataset={synthetic_root}",
            "schedule.epochs=50",
            "data.train_subset=64",
            "data.val_subset=8",
            "data.workers=0",
        ),
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as a terminal delivers it: a suite started in the background (nohup, `cmd &` in a script) has
        # SIGINT ignored, which the run would inherit, and Python installs no KeyboardInterrupt over an ignored one
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    wait_for_steps(out, 3, p)
    os.kill(p.pid, signal.SIGINT)
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 130, stderr
    assert "interrupted at step" in stdout and "--resume" in stdout
    assert "Traceback" not in stderr
    state = load_state(out)
    assert state["progress"]["global_step"] >= 3


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"data": {"batch_size": 0}}, "config field 'data.batch_size' must be >= 1, got 0"),
        ({"schedule": {"epochs": "ten"}}, "config field 'schedule.epochs' must be an integer >= 1, got 'ten'"),
        ({"schedule": {"epochs": True}}, "'schedule.epochs' must be an integer >= 1, got True"),  # YAML true: no count
        ({"data": {"crop_fraction": 0}}, "'data.crop_fraction' must be in (0, 1], got 0.0"),
        ({"optim": {"momentum": 1.0}}, "'optim.momentum' must be in [0, 1), got 1.0"),
        ({"data": {"workers": -1}}, "'data.workers' must be >= 0, got -1"),
        ({"model": {"kwargs": 3}}, "'model.kwargs' must be a mapping, got 3"),
        ({"optim": {"lr": "nan"}}, "'optim.lr' must be a finite number > 0, got nan"),
        ({"optim": {"lr": 1, "bogus": 2}}, "unknown config field 'optim.bogus'; optim has: name, lr, momentum"),
        ({"optim": 3}, "config field 'optim' must be a mapping of name, lr, momentum"),
        ({"workers": -1}, "'data.workers' must be >= 0, got -1"),  # an old flat name: migrated, then checked
        ({"optim": {"name": "adamw", "nesterov": True}}, "AdamW has none to make Nesterov"),
        ({"optim": {"name": "lion", "nesterov": True}}, "Lion has none to make Nesterov"),
        ({"precision": {"device": "cpu", "amp": "fp16"}}, "precision.amp=fp16 needs CUDA"),
        ({"model": {"name": "googlenett"}}, "config field 'model.name': unknown model 'googlenett'"),
    ],
)
def test_config_values_are_checked(fields: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        TrainConfig.from_dict(fields)
    assert message in str(err.value) and "\n" not in str(err.value)
    lr = TrainConfig.from_dict({"optim": {"lr": 1}}).optim.lr
    assert lr == 1.0 and isinstance(lr, float)
    assert TrainConfig.from_dict({"schedule": {"epochs": 1e3}}).schedule.epochs == 1000  # an integral float is a count


def test_override_into_a_value_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="not a mapping"):
        parse_overrides(["model.kwargs=3", "model.kwargs.width=0.5"])


def test_resume_refuses_changes_that_break_exactness(tmp_path: Path) -> None:
    save_state(tmp_path, {"config": TrainConfig(data={"batch_size": 8}, schedule={"epochs": 2}).to_dict()})
    parse = build_parser().parse_args
    with pytest.raises(UserError, match=r"'data.batch_size' cannot change .saved 8, asked 4."):
        config_from_args(parse(["train", "--resume", str(tmp_path), "data.batch_size=4"]))
    with pytest.raises(UserError, match="give --recipe or --resume"):
        config_from_args(parse(["train", "--resume", str(tmp_path), "--recipe", "cifar10"]))
    cfg = config_from_args(parse(["train", "--resume", str(tmp_path), "--epochs", "5", "data.workers=0"]))
    assert (cfg.data.batch_size, cfg.schedule.epochs, cfg.data.workers, cfg.checkpoint.out) == (
        8,
        5,
        0,
        str(tmp_path),
    )  # run longer: allowed


def test_bad_checkpoint_metadata_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    save_file({"w": torch.zeros(1)}, str(path), metadata={"googlenet": "{bad"})
    with pytest.raises(CheckpointError, match="unreadable checkpoint metadata"):
        load_checkpoint(path)
    save_file({"w": torch.zeros(1)}, str(path), metadata={"googlenet": "[1, 2]"})
    with pytest.raises(CheckpointError, match="must be a JSON object"):
        load_checkpoint(path)


def test_atomic_write_gives_the_mode_open_would(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        out = atomic_write(tmp_path / "f.txt", lambda tmp: Path(tmp).write_text("x"))
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o644  # not mkstemp's 0o600


def test_explicit_data_is_used_and_a_four_step_onecycle_run_finishes(
    synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The imagenette recipe with --data DIR (train/ and val/, 60 images each) trains on DIR even when the
    cache holds an extracted Imagenette; 4 steps of onecycle at pct 0.25 once divided by zero."""
    cache = tmp_path / "cache"
    (cache / "imagenette2-128" / "val" / "n01440764").mkdir(parents=True)
    (cache / "imagenette2-128" / ".complete").touch()
    monkeypatch.setenv("GOOGLENET_CACHE", str(cache))
    mine = make_folder(synthetic_root, tmp_path / "mine", per_class=6, classes=10)
    out = tmp_path / "o"
    r = run_cli(
        "train",
        "--recipe",
        "imagenette-128",
        "--data",
        str(mine),
        "--out",
        str(out),
        *TINY,
        "data.eval_size=16",
        "schedule.epochs=1",
        "data.batch_size=15",
        "schedule.name=onecycle",
        "data.workers=0",
    )
    assert r.returncode == 0, r.stderr
    row = read_csv(out / "metrics.csv")[0]
    assert (row["val_count"], row["step"]) == ("60", "4")
    r = run_cli("train", "--recipe", "imagenette-128", "--data", str(tmp_path), "--out", str(tmp_path / "p"), *TINY)
    assert r.returncode == 2 and "not a dataset folder" in r.stderr and r.stderr.strip().count("\n") == 0


@pytest.mark.parametrize("value", ["1e-3", "1.0e-3", "1E-3", ".001", "0.001", "1_0e-4"])
def test_every_common_spelling_of_a_number_is_a_number(value: str, tmp_path: Path) -> None:
    expected = float(value.replace("_", ""))
    assert load_recipe("cifar10", parse_overrides([f"optim.lr={value}"])).optim.lr == pytest.approx(expected)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"data: {{dataset: cifar10}}\noptim:\n  lr: {value}\n  weight_decay: 5e-4\nschedule:\n  epochs: 1e1\n"
    )
    cfg = load_recipe(str(recipe))
    assert (cfg.optim.lr, cfg.optim.weight_decay, cfg.schedule.epochs) == (pytest.approx(expected), 5e-4, 10)


def test_print_config_is_the_whole_config_as_yaml_and_trains_nothing(tmp_path: Path) -> None:

    out = tmp_path / "never"
    r = run_cli("train", "--recipe", "imagenette-128", "--out", str(out), "optim.ema_decay=0.995", "data.mixup=2e-1",
                "--print-config")  # fmt: skip
    assert r.returncode == 0, r.stderr
    cfg = yaml.safe_load(r.stdout)  # stdout is only the YAML
    recipe = yaml.safe_load((Path(__file__).parents[1] / "src/googlenet/recipes/imagenette-128.yaml").read_text())
    for group, values in recipe.items():  # the recipe's values ...
        assert {k: cfg[group][k] for k in values if k != "ema_decay"} == {
            k: v for k, v in values.items() if k != "ema_decay"
        }
    assert cfg["optim"]["ema_decay"] == 0.995 and cfg["data"]["mixup"] == 0.2  # ... then the overrides
    assert cfg["checkpoint"]["out"] == str(out)
    assert set(cfg) == set(TrainConfig.model_fields) and all(
        set(cfg[g]) == set(v) for g, v in TrainConfig().to_dict().items() if isinstance(v, dict)
    )
    assert r.stderr == ""  # dotted names: no deprecation notice
    assert not out.exists()
