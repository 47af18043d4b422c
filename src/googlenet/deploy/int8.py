"""int8 files: an exported fp32 ONNX model quantised (static QDQ) with its metadata, and its top-1 against fp32."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from torch import Tensor

from ..eval.evaluate import EvalOptions, run_pass
from ..eval.members import load_member
from ..runtime.quantize import quantize_static_bytes
from ..weights.onnx_file import read_onnx_metadata, save_onnx


def write_int8(fp32: str | os.PathLike, path: str | os.PathLike, calibration: Tensor) -> Path:
    """Quantise the fp32 ONNX file ``fp32`` to int8 at ``path``, calibrated on ``calibration`` (the images as the
    file takes them); the int8 file carries the fp32 file's metadata and says how it was quantised."""
    import onnx

    meta = read_onnx_metadata(fp32)
    proto = onnx.load_from_string(quantize_static_bytes(Path(fp32).read_bytes(), calibration))
    meta.update(quantization="int8 QDQ static", calibration_images=len(calibration))
    return save_onnx(proto, path, meta)


@dataclass
class Int8Comparison:
    """Top-1 of an fp32 file and its int8 file on the same images, and how often their predictions agree."""

    images: int
    fp32_top1: float
    int8_top1: float
    agreement: float

    def __str__(self) -> str:
        return (
            f"top-1 on {self.images} val images: fp32 {100 * self.fp32_top1:.2f}%, int8 {100 * self.int8_top1:.2f}% "
            f"(change {100 * (self.int8_top1 - self.fp32_top1):+.2f} points); "
            f"predictions agree on {100 * self.agreement:.1f}%"
        )


def compare_int8(
    fp32: str | os.PathLike, int8: str | os.PathLike, root: Path, limit: int | None = None
) -> Int8Comparison:
    """Evaluate both files (one centre crop, each preprocessed per its contract) on the class folders ``root``,
    at most ``limit`` images spread over the classes."""
    opts = EvalOptions(limit=limit, progress=False)
    a, b = (run_pass(load_member(p), root, 1, opts) for p in (fp32, int8))
    pred_a, pred_b = a.probs.argmax(1), b.probs.argmax(1)
    return Int8Comparison(
        images=len(a.targets),
        fp32_top1=(pred_a == a.targets).double().mean().item(),
        int8_top1=(pred_b == b.targets).double().mean().item(),
        agreement=(pred_a == pred_b).double().mean().item(),
    )
