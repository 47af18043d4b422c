"""A run SIGKILLed in the middle of an epoch and resumed repeats the uninterrupted run step for step."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from _runs import TINY, cli, env, read_csv, run_cli, steps_logged, wait_for_steps

# dropout (main 0.4, aux 0.7), EMA, a worker process and seeded augmentation all have to be restored
RUN = [
    *TINY,
    "schedule.epochs=2",
    "data.train_subset=64",
    "data.val_subset=16",
    "data.workers=1",
    "optim.ema_decay=0.8",
    "checkpoint.save_every_steps=3",
]


# every training lever draws random numbers or changes state between steps: all must be restored too
LEVERS = [
    "data.mixup=0.4", "data.cutmix=1.0", "data.auto_augment=trivialaugment", "optim.name=adamw", "optim.lr=1e-3",
    "data.progressive_min_size=8", "optim.precise_bn_batches=2",
]  # fmt: skip


def test_sigkill_mid_epoch_then_resume_gives_the_same_losses(train_root: Path, tmp_path: Path) -> None:
    kill_and_resume([*RUN, f"data.dataset={train_root}"], tmp_path)


def test_resume_is_exact_with_every_training_lever_on(synthetic_root: Path, tmp_path: Path) -> None:
    kill_and_resume([*RUN, f"data.dataset={synthetic_root}", *LEVERS], tmp_path)


def test_resume_is_exact_under_bf16_autocast(synthetic_root: Path, tmp_path: Path) -> None:
    """bf16 (what precision.amp=auto picks on CPUs with bf16 instructions; emulated elsewhere) resumes bit for bit."""
    kill_and_resume([*RUN, f"data.dataset={synthetic_root}", "precision.amp=bf16"], tmp_path)


def test_resume_is_exact_with_images_held_in_memory(synthetic_root: Path, tmp_path: Path) -> None:
    """data.in_memory (the cifar10 recipe's): batches cut from one tensor and augmented in one seeded pass."""
    kill_and_resume([*RUN, f"data.dataset={synthetic_root}", "data.in_memory=true", "data.workers=0"], tmp_path)


def kill_and_resume(run: list[str], tmp_path: Path) -> None:
    """Train ``run`` uninterrupted, then again SIGKILLed in epoch 2 and resumed: the same losses, bit for bit."""
    ref, cut = tmp_path / "ref", tmp_path / "cut"
    r = run_cli("train", "--recipe", "cifar10", "--out", str(ref), *run)
    assert r.returncode == 0, r.stderr
    expected = read_csv(ref / "steps.csv")
    assert len(expected) == 16  # 64 images / batch 8 x 2 epochs

    p = subprocess.Popen(cli("train", "--recipe", "cifar10", "--out", str(cut), *run), env=env(),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    wait_for_steps(cut, 11, p)  # epoch 2, batch 3: the last state was written after step 9
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=60)
    killed_at = steps_logged(cut)
    assert p.returncode == -signal.SIGKILL and killed_at < 16
    saved = torch.load(cut / "state.pt", weights_only=True)["progress"]
    assert 9 <= saved["global_step"] < killed_at + 1 and saved["step_in_epoch"] > 0  # mid-epoch state
    assert saved["sums"]["seconds"] > 0  # epoch 2's training time before the kill is in the state
    state = torch.load(cut / "state.pt", weights_only=True)
    state["progress"]["sums"]["seconds"] = 1000.0  # a mark: the resumed epoch's time must start from it
    torch.save(state, cut / "state.pt")

    r = run_cli("train", "--resume", str(cut))
    assert r.returncode == 0, r.stderr
    got = read_csv(cut / "steps.csv")
    assert [row["step"] for row in got] == [str(i) for i in range(1, 17)]
    assert [row["loss"] for row in got] == [row["loss"] for row in expected]  # bit-for-bit (repr of floats)
    assert [row["lr"] for row in got] == [row["lr"] for row in expected]
    a, b = load_file(str(ref / "last.safetensors")), load_file(str(cut / "last.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    ea, eb = load_file(str(ref / "ema.safetensors")), load_file(str(cut / "ema.safetensors"))
    assert all(torch.equal(ea[k], eb[k]) for k in ea)
    assert read_csv(ref / "metrics.csv")[-1]["val_acc"] == read_csv(cut / "metrics.csv")[-1]["val_acc"]
    # the resumed epoch's time counts its steps before the kill too (and not the time the run was down)
    epoch2 = read_csv(cut / "metrics.csv")[-1]
    assert 1000 <= float(epoch2["epoch_s"]) < 1000 + 300
    assert float(epoch2["img_per_s"]) == pytest.approx(64 / float(epoch2["epoch_s"]), abs=0.1)


def test_resume_without_state_is_a_clear_error(tmp_path: Path) -> None:
    r = run_cli("train", "--resume", str(tmp_path))
    assert r.returncode == 2 and "nothing to resume" in r.stderr and "Traceback" not in r.stderr
