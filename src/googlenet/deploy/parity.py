"""The parity check: an exported (or otherwise rewritten) model's logits against the eager model's."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..runtime.onnx import ExportError


class ParityError(ExportError):
    """The exported file's outputs differ from the eager model's by more than the tolerance."""


def relative_diff(output: Tensor, reference: Tensor) -> float:
    """``max |output - reference| / max |reference|``: parity that means something for any logit scale.

    (A randomly initialised batch-norm GoogLeNet has logits near 1e-11, where an absolute bound says nothing.)
    """
    output, reference = output.double(), reference.double()
    scale = reference.abs().max().item()
    diff = (output - reference).abs().max().item()
    return diff / scale if scale > 0 else diff


def check_parity(
    reference: Callable[[Tensor], Tensor],
    candidate: Callable[[Tensor], Tensor],
    inputs: Tensor,
    candidate_inputs: Tensor | None = None,
    batch_size: int | None = None,
    tolerance: float = 1e-4,
    name: str = "export",
    rel_tolerance: float = 1e-3,
) -> tuple[float, float]:
    """``(max abs, relative)`` difference of ``candidate`` vs ``reference`` logits; :class:`ParityError` when
    the absolute one exceeds ``tolerance`` or the relative one (max abs difference over the largest reference
    logit) exceeds ``rel_tolerance``.

    The relative bound is what catches a broken export of a network whose logits are tiny (a randomly
    initialised batch-norm GoogLeNet gives logits near 1e-12, under any absolute tolerance).
    ``candidate_inputs`` (default ``inputs``) lets a graph with baked normalisation take raw images while the
    reference takes normalised ones. ``batch_size`` runs the candidate in chunks (a static-batch export).
    """
    candidate_inputs = inputs if candidate_inputs is None else candidate_inputs
    with torch.inference_mode():
        expected = reference(inputs)
    step = batch_size or len(candidate_inputs)
    got = torch.cat([candidate(candidate_inputs[i : i + step]) for i in range(0, len(candidate_inputs), step)])
    if got.shape != expected.shape:
        raise ParityError(f"{name}: output shape {list(got.shape)} differs from eager {list(expected.shape)}")
    diff = (got.float() - expected.float()).abs().max().item()
    if not diff <= tolerance:  # also catches NaN
        raise ParityError(f"{name}: max abs difference to the eager model is {diff:.3g} > tolerance {tolerance:g}")
    rel = relative_diff(got, expected)
    if not rel <= rel_tolerance:
        raise ParityError(
            f"{name}: max difference to the eager model is {rel:.3g} of its largest logit > {rel_tolerance:g}"
        )
    return diff, rel
