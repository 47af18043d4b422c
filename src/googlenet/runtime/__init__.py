"""The inference runtime: back ends (:mod:`.backends`), ONNX and ONNX Runtime (:mod:`.onnx`), exported files
(:mod:`.exported`), graph rewrites (:mod:`.fuse`, :mod:`.lrn`), int8 (:mod:`.quantize`), and the real images it
is fed, checked and calibrated with (:mod:`.images`).

eval, predict, export and bench import it; it imports none of them.
"""

from .backends import BACKENDS, Forward, UnknownBackendError, available_backends, check_backend, make_backend
from .exported import exported_contract, input_contract, load_exported, read_metadata
from .onnx import ExportError

__all__ = [
    "BACKENDS",
    "ExportError",
    "Forward",
    "UnknownBackendError",
    "available_backends",
    "check_backend",
    "exported_contract",
    "input_contract",
    "load_exported",
    "make_backend",
    "read_metadata",
]
