"""The resume state: everything besides the weights that a run needs to continue exactly.

Saved atomically (temp file, fsync, rename) as ``state.pt`` with plain tensors and Python containers
only, and read back with ``torch.load(weights_only=True)``: no pickled code.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import torch

from ..fileio import atomic_write
from ..weights import CheckpointError

STATE_FILE = "state.pt"


def rng_state() -> dict[str, Any]:
    """The random generators a training step draws from."""
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_state(out_dir: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``out_dir/state.pt`` atomically."""
    return atomic_write(Path(out_dir) / STATE_FILE, lambda tmp: torch.save(state, tmp))


def load_state(path: str | Path) -> dict[str, Any]:
    """Read a resume state (``path`` may be the run folder), tensors only, mapped to the CPU."""
    path = Path(path)
    if path.is_dir():
        path = path / STATE_FILE
    if not path.is_file():
        raise CheckpointError(f"nothing to resume: {path} not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any unreadable file: one clear line
        raise CheckpointError(f"{path} is not a readable resume state ({type(err).__name__}: {err})") from None
