"""Turning a user's device name into a ``torch.device``, with one clear line when it cannot be used here."""

from __future__ import annotations

import platform
from pathlib import Path

import torch

from .errors import UserError


def checked_device(device: str | torch.device) -> torch.device:
    """``torch.device(device)``, or a one-line :class:`UserError` for a bad name or an absent accelerator."""
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise UserError(f"device {device!r}: not a torch device ({str(err).splitlines()[0]})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {device}: no CUDA device is available here; use cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise UserError(f"device {device}: only {torch.cuda.device_count()} CUDA device(s) here")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"device {device}: MPS is not available here; use cpu")
    return device


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it (``/proc/cpuinfo``), e.g. "AMD EPYC"; the architecture
    (``platform.machine()``) where that file is absent."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine() or "unknown"
