"""The inference runtime: back ends (:mod:`.backends`), ONNX and ONNX Runtime (:mod:`.onnx`), graph rewrites
(:mod:`.fuse`, :mod:`.lrn`), int8 (:mod:`.quantize`), and the real images it is fed, checked and calibrated with
(:mod:`.images`).

eval, predict, export and bench import it; it imports none of them. Model files (checkpoints and exported
graphs) are read by :mod:`googlenet.weights`.
"""

from .backends import BACKENDS, Forward, UnknownBackendError, available_backends, check_backend, make_backend
from .onnx import ExportError

__all__ = [
    "BACKENDS",
    "ExportError",
    "Forward",
    "UnknownBackendError",
    "available_backends",
    "check_backend",
    "make_backend",
]
