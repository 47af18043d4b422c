"""``precision.amp=auto``, the default: bf16 autocast where the hardware has bf16 matrix instructions, fp32 elsewhere;
the choice printed when training starts (stdout), recorded in the checkpoint, ``metrics.csv`` and the resume state,
and kept on resume.
(The choice for given flags is tested in test_cpu_engines.py.)"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import torch

from _runs import TINY, read_csv, run_cli, this_cpu
from googlenet.config import TrainConfig
from googlenet.train.setup import resolve_amp


def this_machines_choice() -> str:
    """Read /proc/cpuinfo here, independently of googlenet.runtime.cpu."""
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    flags = set(next((ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), []))
    return "bf16" if flags & {"amx_bf16", "avx512_bf16"} else "none"


def test_a_run_records_the_precision_auto_picked(synthetic_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run = [o for o in TINY if not o.startswith("precision.amp")]
    r = run_cli("train", "--recipe", "cifar10", "--out", str(out), *run, f"data.dataset={synthetic_root}",
                "schedule.epochs=1", "schedule.max_steps=2", "data.workers=0", "data.val_subset=8")  # fmt: skip
    assert r.returncode == 0, r.stderr
    expected = this_machines_choice()
    shown = {"bf16": "bf16 autocast", "none": "fp32"}[expected]
    assert f"precision: {shown} (precision.amp=auto on " in r.stdout
    assert [row["amp"] for row in read_csv(out / "metrics.csv")] == [expected]
    assert json.loads((out / "best.json").read_text())["amp"] == expected
    assert torch.load(out / "state.pt", weights_only=True)["amp"] == expected
    # every epoch names the machine, threads and code it ran on (a resumed run may go on elsewhere)
    row = read_csv(out / "metrics.csv")[0]
    model, flags = this_cpu()
    assert row["machine"].startswith(model + " (") and ("avx2" in row["machine"]) == ("avx2" in flags)
    assert ("avx512_bf16" in row["machine"]) == ("avx512_bf16" in flags)
    assert row["threads"] == "1"  # TINY sets precision.threads=1
    assert row["code"].startswith(checkout_code())


def checkout_code() -> str:
    """``git <commit>`` when the googlenet package imported is this repository's own source, else its version."""
    import googlenet

    root = Path(__file__).resolve().parents[1]
    if Path(googlenet.__file__).resolve().is_relative_to(root / "src"):
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
        return "git " + head.stdout.strip()[:12]
    return f"googlenet {googlenet.__version__}"


def test_a_resumed_run_keeps_its_own_precision() -> None:
    """A run resumed on another machine computes as it did before, whatever auto would pick there."""
    cpu = torch.device("cpu")
    cfg = TrainConfig()
    assert cfg.precision.amp == "auto"
    assert resolve_amp(cfg, cpu, {"amp": "bf16"}) == "bf16" and resolve_amp(cfg, cpu, {"amp": "none"}) == "none"
    assert resolve_amp(cfg, cpu, None) == this_machines_choice()
