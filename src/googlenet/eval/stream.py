"""Softmax over many views per image, in bounded memory: views of consecutive images share chunks.

Views are cut per image, queued, and forwarded ``chunk_size`` at a time; each image's probabilities are
reduced (mean or max over its views) as its chunks come back and yielded in input order. Peak memory is
one image's views plus one chunk, whatever the number of views or images.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import torch
from torch import Tensor

from ..errors import UserError

K = TypeVar("K")
REDUCTIONS = ("mean", "max")


def stream_probabilities(
    forward: Callable[[Tensor], Tensor],
    items: Iterable[tuple[K, Tensor]],
    *,
    chunk_size: int = 128,
    reduce: str = "mean",
    preprocess: Callable[[Tensor], Tensor] | None = None,
) -> Iterator[tuple[K, Tensor]]:
    """Yield ``(key, probs)`` for each ``(key, views)`` item, in order.

    Args:
        forward: batch NCHW float -> logits ``(B, K)``.
        items: ``(key, views)`` with views ``(V, C, H, W)``; ``V`` may differ between items.
        chunk_size: most views forwarded at once.
        reduce: ``"mean"`` averages softmax over an image's views (the paper); ``"max"`` takes the per-class
            maximum, renormalised to sum to 1.
        preprocess: applied to each chunk before ``forward`` (:func:`googlenet.preprocess.normalizer`).

    Returns:
        An iterator of ``(key, probs)`` with ``probs`` a float32 ``(K,)`` CPU tensor.
    """
    if reduce not in REDUCTIONS:
        raise UserError(f"--reduce must be one of {', '.join(REDUCTIONS)}, not {reduce!r}")
    if chunk_size < 1:
        raise UserError(f"chunk size must be at least 1, not {chunk_size}")
    keys: list[Any] = []
    left: list[int] = []  # views still to come back, per queued image
    counts: list[int] = []  # views per queued image
    acc: list[Tensor | None] = []
    pieces: list[Tensor] = []
    owners: list[int] = []  # queued image index of each queued view
    first = 0  # index (in keys) of the oldest image not yet yielded

    def flush() -> None:
        x = torch.cat(pieces)
        if preprocess is not None:
            x = preprocess(x)
        with torch.inference_mode():
            probs = forward(x).float().softmax(dim=1).cpu()
        own = torch.tensor(owners)
        for i in own.unique().tolist():
            p = probs[own == i]
            part = p.sum(dim=0) if reduce == "mean" else p.amax(dim=0)
            prev = acc[i - first]
            acc[i - first] = part if prev is None else (prev + part if reduce == "mean" else torch.maximum(prev, part))
            left[i - first] -= len(p)
        pieces.clear()
        owners.clear()

    def ready() -> Iterator[tuple[Any, Tensor]]:
        nonlocal first
        while keys and left[0] == 0:
            a, n = acc.pop(0), counts.pop(0)
            p = a / n if reduce == "mean" else a / a.sum()
            left.pop(0)
            first += 1
            yield keys.pop(0), p

    queued = 0
    for key, views in items:
        if len(views) == 0:
            raise UserError(f"no views for {key!r}")
        idx = first + len(keys)
        keys.append(key)
        left.append(len(views))
        counts.append(len(views))
        acc.append(None)
        start = 0
        while start < len(views):
            take = min(chunk_size - queued, len(views) - start)
            pieces.append(views[start : start + take])
            owners.extend([idx] * take)
            queued += take
            start += take
            if queued == chunk_size:
                flush()
                queued = 0
                yield from ready()
    if pieces:
        flush()
    yield from ready()
