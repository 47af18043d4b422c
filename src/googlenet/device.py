"""Turning a user's device name into a ``torch.device``, with one clear line when it cannot be used here."""

from __future__ import annotations

import platform
import sys
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


def peak_memory_mib(device: torch.device | None = None) -> float:
    """This process's peak memory so far, MiB: the resident set's high-water mark (``ru_maxrss``) on the CPU,
    ``torch.cuda.max_memory_allocated`` on a CUDA device. DataLoader workers are separate processes, not counted."""
    if device is not None and device.type == "cuda":
        return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    try:
        import resource
    except ImportError:  # Windows
        return float("nan")
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux (bytes on macOS)
    return round(kib / (2**20 if sys.platform == "darwin" else 2**10), 1)
