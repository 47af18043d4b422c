"""Static int8 quantisation with ONNX Runtime (QDQ format), calibrated on real images."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from torch import Tensor

from ..fileio import atomic_write


def _reader(images: Tensor, input_name: str, batch_size: int):  # (onnxruntime base class)
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            array = images.detach().cpu().numpy().astype(np.float32)
            self.batches = iter([{input_name: array[i : i + batch_size]} for i in range(0, len(array), batch_size)])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    return Reader()


def quantize_static_file(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    calibration: Tensor,
    *,
    per_channel: bool = True,
    method: str = "minmax",
    batch_size: int = 8,
) -> Path:
    """Quantise the fp32 ONNX model ``src`` to int8 QDQ at ``dst``.

    Args:
        src: fp32 ONNX file with a batch-dynamic input.
        dst: output file.
        calibration: ``N x C x H x W`` preprocessed images (as the model takes them) for activation ranges.
        per_channel: per-output-channel weight scales (keeps accuracy; the default).
        method: calibration method: ``"minmax"``, ``"entropy"`` or ``"percentile"``.
        batch_size: calibration batch size.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    methods = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }
    input_name = onnx.load(str(src), load_external_data=False).graph.input[0].name
    with tempfile.TemporaryDirectory() as tmp:
        prepped = Path(tmp) / "prep.onnx"
        quant_pre_process(str(src), str(prepped), skip_symbolic_shape=True)
        out = Path(tmp) / "int8.onnx"
        quantize_static(
            str(prepped),
            str(out),
            _reader(calibration, input_name, batch_size),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            calibrate_method=methods[method],
        )
        data = out.read_bytes()
    return atomic_write(dst, lambda t: Path(t).write_bytes(data))


def quantize_static_bytes(model: bytes, calibration: Tensor, **options: object) -> bytes:
    """:func:`quantize_static_file` on serialised model bytes, returning the int8 model's bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(model)
        quantize_static_file(src, dst, calibration, **options)
        return dst.read_bytes()
