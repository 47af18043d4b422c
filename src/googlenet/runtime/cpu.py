"""What this CPU (or GPU) can do, read at run time and never assumed: its model name and matrix-unit flags, whether
bf16 arithmetic is native, its peak FLOP/s, and the training precision ``amp=auto`` picks from those facts.

Peak FLOP/s per core per cycle, from the widest multiply-add the flags name (fp32 unless said):

- AVX2 + FMA: 2 FMA units x 8 lanes x 2 = 32;
- AVX-512 F: 2 x 16 x 2 = 64;
- AVX-512 BF16 (``vdpbf16ps``): 2 x 32 x 2 = 128 bf16;
- AMX BF16: 1,024 bf16 per cycle per core (one 16x32 by 32x16 tile multiply every 16 cycles).

Clock: ``/proc/cpuinfo``'s "cpu MHz" (the current, not the turbo, clock: a lower bound on the peak).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch

from ..device import cpu_model

MATRIX_FLAGS = ("amx_bf16", "amx_int8", "amx_tile", "avx512_bf16", "avx512_vnni", "avx512f", "avx2", "fma")


@dataclass(frozen=True)
class CpuInfo:
    model: str
    flags: frozenset[str]
    mhz: float
    cores: int  # the cores this process may use

    @property
    def bf16_native(self) -> bool:
        """bf16 matrix instructions: AMX tiles or AVX-512 BF16."""
        return bool({"amx_bf16", "avx512_bf16"} & self.flags)

    def peak_flops(self, dtype: str = "fp32") -> float:
        """FLOP/s of all :attr:`cores` at :attr:`mhz` for ``dtype`` ("fp32" or "bf16"); 0 when unknown."""
        return per_cycle(self.flags, dtype) * self.mhz * 1e6 * self.cores

    def describe(self) -> str:
        shown = sorted(f for f in self.flags if f in MATRIX_FLAGS)
        return f"{self.model} ({', '.join(shown) or 'no SIMD flags read'})"


def per_cycle(flags: frozenset[str] | set[str], dtype: str = "fp32") -> int:
    """Peak FLOP per cycle per core for ``dtype`` from the CPU ``flags`` (the table in this module's docstring)."""
    if dtype == "bf16":
        if "amx_bf16" in flags:
            return 1024
        if "avx512_bf16" in flags:
            return 128
    if "avx512f" in flags:
        return 64
    if "avx2" in flags and "fma" in flags:
        return 32
    return 8  # SSE: 4 lanes, a multiply and an add


def parse_cpuinfo(text: str, cores: int) -> CpuInfo:
    """A :class:`CpuInfo` from ``/proc/cpuinfo``'s text."""
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    flags = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
    mhz = re.search(r"^cpu MHz\s*:\s*([\d.]+)", text, re.M)
    return CpuInfo(
        model=model.group(1).strip() if model else "unknown CPU",
        flags=frozenset(flags.group(1).split()) if flags else frozenset(),
        mhz=float(mhz.group(1)) if mhz else 0.0,
        cores=cores,
    )


@cache
def cpu_info() -> CpuInfo:
    """This machine's CPU (``/proc/cpuinfo``; an empty flag set where it cannot be read)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    info = parse_cpuinfo(text, cores)
    # where /proc/cpuinfo names no model: the architecture, as googlenet.device.cpu_model gives it
    return info if text else CpuInfo(cpu_model(), info.flags, info.mhz, cores)


AMP_WORDS = {"none": "fp32", "bf16": "bf16 autocast", "fp16": "fp16 autocast"}


def amp_words(amp: str | None) -> str:
    """The precision an ``amp`` setting computes in, in words ("none" is fp32); "?" for a value no run writes."""
    return AMP_WORDS.get(amp or "", "?")


def auto_amp(device_type: str, flags: frozenset[str] | set[str] | None = None, cuda_bf16: bool | None = None) -> str:
    """The training precision ``amp=auto`` picks: "bf16" where the hardware has bf16 matrix instructions (a CUDA GPU
    with bf16, or a CPU with ``amx_bf16`` or ``avx512_bf16``), "none" (fp32) elsewhere.

    ``flags`` and ``cuda_bf16`` default to this machine's; pass them to ask about another."""
    if device_type == "cuda":
        supported = torch.cuda.is_bf16_supported() if cuda_bf16 is None else cuda_bf16
        return "bf16" if supported else "none"
    flags = cpu_info().flags if flags is None else flags
    return "bf16" if {"amx_bf16", "avx512_bf16"} & set(flags) else "none"
