"""Helpers for tests that train tiny models on real data in a subprocess."""

from __future__ import annotations

import csv
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import googlenet

SRC = str(Path(googlenet.__file__).resolve().parents[1])

# googlenet_small at width 1/8 on 16 px crops: a real GoogLeNet, about 0.1 s a step on one core.
# Tests add dataset=<folder> (the generated one, or real CIFAR-10 where present).
TINY = [
    "model.name=googlenet_small",
    "model.kwargs={width: 0.125, batch_norm: true, lrn: false}",
    "data.input_size=16",
    "data.augment=cifar",
    "data.padding=2",
    "data.in_memory=false",  # files decoded per item, as most folders are trained (tests/test_in_memory.py: true)
    "data.batch_size=8",
    "optim.lr=0.05",
    "schedule.name=cosine",
    "schedule.warmup_epochs=0.5",
    "schedule.eval_every=1",  # every epoch evaluated, whatever the recipe's own setting (cifar10: once, at the end)
    "precision.threads=1",
    "precision.amp=none",  # fp32 on every CI machine; precision.amp=auto (bf16 where the CPU has it) is tested apart
    "log.progress=false",
]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = SRC + os.pathsep + e.get("PYTHONPATH", "")
    e["OMP_NUM_THREADS"] = "1"
    return e


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "googlenet", *args]


def run_cli(*args: str, timeout: float = 240, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cli(*args), env=env(), capture_output=True, text=True, timeout=timeout, cwd=cwd)


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


def steps_logged(out: Path) -> int:
    path = out / "steps.csv"
    return max(0, len(path.read_text().splitlines()) - 1) if path.exists() else 0


def wait_for_steps(out: Path, n: int, proc: subprocess.Popen, timeout: float = 180) -> None:
    """Block until the run in ``out`` has logged ``n`` optimiser steps (or fail if it died first)."""
    deadline = time.time() + timeout
    while steps_logged(out) < n:
        if proc.poll() is not None:
            raise AssertionError(f"run ended early: {proc.stderr.read() if proc.stderr else ''}")
        if time.time() > deadline:
            raise AssertionError(f"run logged only {steps_logged(out)} of {n} steps in {timeout} s")
        time.sleep(0.05)


def this_cpu() -> tuple[str, set[str]]:
    """The model name and flags from /proc/cpuinfo, read here."""
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    lines = text.splitlines()
    model = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), None)
    flags = set(next((ln.split(":", 1)[1].split() for ln in lines if ln.startswith("flags")), []))
    return model or platform.machine(), flags
