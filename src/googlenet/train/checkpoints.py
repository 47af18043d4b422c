"""What a run writes to resume and to use: the resume state (``state.pt``) and the weights files
(``last``, ``ema``, ``best`` ``.safetensors``), each with the contract of the run and its metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import TrainConfig
from ..weights import CheckpointError, save
from .finetune import InitSource, InputScale
from .inputs import Inputs
from .provenance import run_contract
from .setup import Parts
from .state import rng_state, save_state, set_rng_state


@dataclass
class Progress:
    """Where the run is; saved in the resume state."""

    epoch: int = 0  # current epoch, 0-based
    step_in_epoch: int = 0  # optimiser steps done in the current epoch
    global_step: int = 0
    best_acc: float = -1.0
    history: list[dict[str, Any]] = field(default_factory=list)
    # the epoch so far; "seconds" is its training time, so a resumed epoch's images/s leaves out the time it was down
    sums: dict[str, float] = field(
        default_factory=lambda: {"loss": 0.0, "correct": 0.0, "seen": 0.0, "bad": 0.0, "seconds": 0.0}
    )


@dataclass
class RunFiles:
    """The run folder's writer: resume state on the main rank, weights with their contract and metadata."""

    cfg: TrainConfig
    data: Inputs
    parts: Parts
    scale: InputScale
    init: InitSource | None
    rank: int
    world: int
    amp: str = "none"  # the precision the run computes in (resolved from precision.amp=auto)

    @property
    def out(self) -> Path:
        return Path(self.cfg.checkpoint.out)

    def state(self, p: Progress) -> dict[str, Any]:
        """The resume state: config, model, optimiser, schedule, scaler, EMA, random generators, progress."""
        parts = self.parts
        return {
            "format": 1,
            "config": self.cfg.to_dict(),
            "amp": self.amp,
            "world_size": self.world,  # the global batch and each rank's shard depend on it
            "global_batch": self.cfg.data.batch_size * self.world,
            "model": parts.module.state_dict(),
            "optimizer": parts.optimizer.state_dict(),
            "scheduler": parts.scheduler.state_dict(),
            "scaler": parts.scaler.state_dict(),
            "ema": parts.ema.state_dict() if parts.ema is not None else None,
            "rng": rng_state(),
            "init": self.init.to_state() if self.init is not None else None,
            "progress": {
                "epoch": p.epoch,
                "step_in_epoch": p.step_in_epoch,
                "global_step": p.global_step,
                "best_acc": p.best_acc,
                "history": p.history,
                "sums": p.sums,
            },
        }

    def save_state(self, p: Progress) -> None:
        if self.rank == 0:
            save_state(self.out, self.state(p))

    def restore(self, state: dict[str, Any]) -> Progress:
        """Load ``state`` into the parts and the random generators; returns its progress."""
        world = int(state.get("world_size", 1))
        if world != self.world:
            raise CheckpointError(
                f"{self.out}: this run was trained with {world} process(es) (global batch "
                f"{state.get('global_batch', self.cfg.data.batch_size * world)}) and is resumed with {self.world}; "
                f"an exact resume needs the same number: "
                + (
                    f"torchrun --nproc_per_node {world} -m googlenet train --resume {self.out}"
                    if world > 1
                    else f"googlenet train --resume {self.out} (one process)"
                )
            )
        parts = self.parts
        try:
            parts.module.load_state_dict(state["model"])
            parts.optimizer.load_state_dict(state["optimizer"])
            parts.scheduler.load_state_dict(state["scheduler"])
            parts.scaler.load_state_dict(state["scaler"])
            if parts.ema is not None and state.get("ema") is not None:
                parts.ema.load_state_dict(state["ema"])
            set_rng_state(state["rng"])
            return Progress(**state["progress"])
        except (KeyError, RuntimeError, TypeError, ValueError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise CheckpointError(f"{self.out}: the resume state does not fit this run ({first})") from None

    def _meta(self, p: Progress, metrics: dict[str, Any], kind: str) -> dict[str, Any]:
        """Checkpoint metadata: the contract of the ``kind`` ("raw" or "ema") weights, epoch, metrics, config."""
        epoch = p.epoch + 1
        contract = run_contract(
            self.cfg, self.data.spec, self.parts.kwargs, self.data.size, epoch, kind, self.scale, self.init
        )
        meta = {**contract.to_meta(), "epoch": epoch, "metrics": metrics, "config": self.cfg.to_dict()}
        return {**meta, "amp": self.amp}

    def save_weights(self, p: Progress, metrics: dict[str, Any]) -> None:
        """``last`` (raw weights), ``ema`` and, when the val accuracy improved, ``best`` (raw or EMA)."""
        parts = self.parts
        if self.cfg.checkpoint.save_all_ranks and self.world > 1:
            save(self.out / f"last_rank{self.rank}.safetensors", parts.module, self._meta(p, metrics, "raw"))
        if self.rank != 0:
            return
        save(self.out / "last.safetensors", parts.module, self._meta(p, metrics, "raw"))
        candidates = [(metrics.get("val_acc", -1.0), "raw", parts.module)]
        if parts.ema is not None:
            save(self.out / "ema.safetensors", parts.ema.module, self._meta(p, metrics, "ema"))
            candidates.append((metrics.get("ema_val_acc", -1.0), "ema", parts.ema.module))
        acc, kind, module = max(candidates, key=lambda c: c[0])
        if acc > p.best_acc:
            p.best_acc = acc
            save(self.out / "best.safetensors", module, self._meta(p, metrics, kind))
