"""Two CPU processes under torchrun (gloo): identical weights on both ranks, each val sample counted once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from _runs import TINY, env, read_csv
from googlenet.config import load_recipe, parse_overrides
from googlenet.train.inputs import prepare_data
from googlenet.weights import load_checkpoint

VAL = 23  # odd: a padded sampler would count one sample twice


def test_two_process_run(train_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    args = [
        *TINY,
        f"data.dataset={train_root}",
        "schedule.epochs=1",
        "data.train_subset=48",
        f"data.val_subset={VAL}",
        "data.workers=0",
        "checkpoint.save_all_ranks=true",
    ]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "googlenet", "train", "--recipe", "cifar10", "--out", str(out), *args]  # fmt: skip
    r = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    # rank 0 alone reports the run (rank 1 once printed its own summary, "best -100.00%")
    assert r.stdout.count("final val accuracy") == 1 and "-100.00%" not in r.stdout
    w0, w1 = load_file(str(out / "last_rank0.safetensors")), load_file(str(out / "last_rank1.safetensors"))
    assert w0.keys() == w1.keys() and all(torch.equal(w0[k], w1[k]) for k in w0)
    row = read_csv(out / "metrics.csv")[-1]
    assert row["step"] == "3"  # 48 images over 2 ranks of batch 8: 3 steps each
    assert row["val_count"] == str(VAL)

    # recount the accuracy in one process, sample by sample, with the saved weights
    cfg = load_recipe("cifar10", parse_overrides(args))
    spec, _ = prepare_data(cfg)
    assert len(spec.val) == VAL
    model, _, _ = load_checkpoint(out / "last.safetensors")
    model.eval()
    with torch.no_grad():
        correct = sum(int(model(x[None]).argmax(1).item() == y) for x, y in (spec.val[i] for i in range(VAL)))
    assert round(float(row["val_acc"]) * VAL) == correct

    # resumed with one process instead of two: refused with one line before training (it once ran on and
    # ended in OneCycleLR's "Tried to step" traceback)
    r = subprocess.run(
        [sys.executable, "-m", "googlenet", "train", "--resume", str(out), "schedule.epochs=2"],
        env=env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert r.returncode == 2, r.stderr[-3000:]
    assert "trained with 2 process(es)" in r.stderr and "--nproc_per_node 2" in r.stderr
    assert "Traceback" not in r.stderr and len(read_csv(out / "metrics.csv")) == 1
