"""Detection under torchrun (two CPU processes, gloo): the recipe's batch split between the ranks, identical
weights on both, the same schedule as one process, and a resume that continues to the same losses to the bit."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from _runs import env
from _synthetic_det import make_scenes, one_thread, write_pennfudan, write_tiny_recipe
from googlenet.detect.loop import rank_share
from googlenet.detect.recipe import DetectionRecipe
from googlenet.detect.run import check_processes
from googlenet.errors import UserError
from googlenet.train.distributed import Dist

_ = one_thread  # autouse

SCENES = make_scenes(8, size=64, seed=7, shapes=("rect",))
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "googlenet"]


def test_each_rank_takes_its_share_of_the_batch_and_the_weights_restore_the_batch_mean():
    # batch [5, 6, 7] over 2 ranks: rank 0 has 2 of the 3 images, rank 1 one; DDP averages the ranks' gradients,
    # so the weights must be 2 * 2 / 3 and 1 * 2 / 3 for the mean over the 3 images: (4/3 g0 + 2/3 g1) / 2
    assert rank_share([5, 6, 7], Dist(0, 2)) == ([5, 7], pytest.approx(4 / 3))
    assert rank_share([5, 6, 7], Dist(1, 2)) == ([6], pytest.approx(2 / 3))
    assert rank_share([9], Dist(1, 2)) == ([9], 0.0)  # a short last batch: rank 1 takes part at weight 0
    assert rank_share([9], Dist(0, 2)) == ([9], 2.0)
    assert rank_share([1, 2], Dist(0, 1)) == ([1, 2], 1.0)  # one process: the whole batch, unweighted


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("detddp")
    pf = write_pennfudan(root / "PennFudanPed", SCENES)
    write_tiny_recipe(root / "tiny.yaml", save_all_ranks=True)
    return root, pf


def _run(args, timeout=300):
    r = subprocess.run(args, env=env(), capture_output=True, text=True, timeout=timeout)
    return r


def _losses(run):
    with open(run / "steps.csv") as f:
        return [float(r["loss"]) for r in csv.DictReader(f)]


def test_two_processes_train_one_model_and_resume_exactly(data, tmp_path):
    root, pf = data
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    r = _run([*TORCHRUN, "train", "--recipe", str(root / "tiny.yaml"), "--out", str(whole), "--data", str(pf)])
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("steps in") == 1 and "2 processes (DDP, gloo)" in r.stdout  # rank 0 alone reports
    result = json.loads((whole / "metrics.json").read_text())
    assert result["processes"] == 2 and result["steps"] == 6  # 6 train images, batch 2: one process's 3 per epoch
    w0, w1 = (load_file(str(whole / f"last_rank{r}.safetensors")) for r in (0, 1))
    assert w0.keys() == w1.keys() and all(torch.equal(w0[k], w1[k]) for k in w0)  # the gradients were shared
    moved = load_file(str(whole / "last.safetensors"))
    assert all(torch.equal(moved[k], w0[k]) for k in w0)

    # stopped after step 4 (mid-epoch 2), resumed by two processes: every step's loss and every weight equal
    r = _run([*TORCHRUN, "detect", "train", "--recipe", str(root / "tiny.yaml"), "--out", str(cut), "--data",
              str(pf), "--max-steps", "4"])  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    state = torch.load(cut / "state.pt", weights_only=False)
    assert state["step"] == 4 and state["world"] == 2 and len(state["rng_ranks"]) == 2

    # one process cannot continue it: refused in one line, nothing trained
    r = _run([sys.executable, "-m", "googlenet", "train", "--resume", str(cut)], timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-3000:]
    assert "trained with 2 process(es), not 1" in r.stderr and "--nproc_per_node 2" in r.stderr
    assert len(_losses(cut)) == 4

    r = _run([*TORCHRUN, "train", "--resume", str(cut)])
    assert r.returncode == 0, r.stderr[-3000:]
    assert _losses(cut) == _losses(whole)  # to the bit
    a, b = (torch.load(run / "state.pt", weights_only=False)["model"] for run in (whole, cut))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_launch_the_recipe_cannot_split_is_refused_in_one_line(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    with pytest.raises(UserError, match="batch_size 2 is split between 4 processes"):
        check_processes(DetectionRecipe(batch_size=2), None)
    with pytest.raises(UserError, match="R-CNN recipe trains in one process"):
        check_processes(DetectionRecipe(model="rcnn", batch_size=8), None)
    with pytest.raises(UserError, match="trained with 1 process"):
        check_processes(DetectionRecipe(batch_size=8), {"world": 1})
    assert check_processes(DetectionRecipe(batch_size=8), {"world": 4}).world == 4
