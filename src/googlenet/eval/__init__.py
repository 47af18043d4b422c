"""Evaluation as the paper does it (Section 7): multi-crop softmax averaging, ensembles, top-1/top-5."""

from .backends import BACKENDS, Forward, available_backends, make_forward, register_backend
from .crops import center_crop, make_views, paper_144_crops, paper_scales, ten_crop
from .metrics import confusion_matrix, nll, per_class_accuracy, save_confusion_png, summarize, topk_accuracy
from .stream import normalizer, stream_probabilities

__all__ = [
    "BACKENDS",
    "Forward",
    "available_backends",
    "center_crop",
    "confusion_matrix",
    "make_forward",
    "make_views",
    "nll",
    "normalizer",
    "paper_144_crops",
    "paper_scales",
    "per_class_accuracy",
    "register_backend",
    "save_confusion_png",
    "stream_probabilities",
    "summarize",
    "ten_crop",
    "topk_accuracy",
]
