"""Dynamic batching: requests that arrive together share one forward.

A request hands in its preprocessed views (V x C x S x S) and awaits its class probabilities. The first
request of a batch waits at most ``max_wait_ms`` for others; as soon as ``max_batch`` images are there, or the
wait is over, they go through the back end together, in one worker thread, so the event loop keeps accepting
and decoding meanwhile. Requests that arrive while a forward runs form the next batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

log = logging.getLogger(__name__)


@dataclass
class _Item:
    views: Tensor
    future: asyncio.Future
    arrived: float  # loop time


@dataclass
class BatchStats:
    """Forwards run and the images they held."""

    forwards: int = 0
    images: int = 0
    largest: int = 0
    sizes: dict[int, int] = field(default_factory=dict)  # batch size -> forwards of that size

    def add(self, n: int) -> None:
        self.forwards += 1
        self.images += n
        self.largest = max(self.largest, n)
        self.sizes[n] = self.sizes.get(n, 0) + 1

    def as_dict(self) -> dict:
        mean = self.images / self.forwards if self.forwards else 0.0
        return {"forwards": self.forwards, "images": self.images, "mean_batch": round(mean, 3), "largest": self.largest}


class DynamicBatcher:
    """Groups concurrent :meth:`submit` calls into batches of at most ``max_batch`` images.

    Args:
        probabilities: ``N x C x S x S -> N x num_classes`` class probabilities (run in the worker thread).
        max_batch: most images in one forward.
        max_wait_ms: longest a request waits for others before its batch runs, ms.
        on_batch: called after each forward with its number of requests and its time in the back end, s
            (the server's metrics).
    """

    def __init__(
        self,
        probabilities: Callable[[Tensor], Tensor],
        max_batch: int = 16,
        max_wait_ms: float = 5.0,
        on_batch: Callable[[int, float], None] | None = None,
    ):
        if max_batch < 1 or max_wait_ms < 0:
            raise ValueError("max_batch must be >= 1 and max_wait_ms >= 0")
        self.probabilities = probabilities
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.stats = BatchStats()
        self.on_batch = on_batch
        self._pending: list[_Item] = []
        self._arrived = asyncio.Event()
        self._full = asyncio.Event()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="googlenet-forward")
        self._task: asyncio.Task | None = None

    @property
    def waiting(self) -> int:
        """Requests waiting for their batch to start."""
        return len(self._pending)

    def start(self) -> None:
        """Start the batching loop on the running event loop."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="googlenet-batcher")

    async def stop(self) -> None:
        """Stop the loop; requests still waiting get an error (after a graceful shutdown there are none)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for item in self._pending:
            if not item.future.done():
                item.future.set_exception(RuntimeError("the server is shutting down"))
        self._pending.clear()
        self._executor.shutdown(wait=True)

    async def submit(self, views: Tensor) -> tuple[Tensor, int]:
        """Class probabilities of one image (the mean over its ``views``) and the size of the batch it ran in."""
        loop = asyncio.get_running_loop()
        item = _Item(views, loop.create_future(), loop.time())
        self._pending.append(item)
        self._arrived.set()
        if len(self._pending) >= self.max_batch:
            self._full.set()
        return await item.future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._arrived.wait()
            wait = self._pending[0].arrived + self.max_wait - loop.time()
            if len(self._pending) < self.max_batch and wait > 0:
                self._full.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._full.wait(), wait)
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            if not self._pending:
                self._arrived.clear()
            batch = [item for item in batch if not item.future.done()]  # a client that went away
            if batch:
                await self._forward(loop, batch)

    def collate(self, views: list[Tensor]) -> Any:
        """What the back end takes for a batch of requests' views: one ``N x C x S x S`` tensor."""
        return torch.cat(views)

    def separate(self, out: Any, views: list[Tensor]) -> list[Any]:
        """The back end's output for a batch, split per request: the mean over each request's views."""
        return [p.mean(dim=0) for p in out.split([len(v) for v in views])]

    async def _forward(self, loop: asyncio.AbstractEventLoop, batch: list[_Item]) -> None:
        views = [item.views for item in batch]
        try:
            x = self.collate(views)
            start = time.perf_counter()
            out = await loop.run_in_executor(self._executor, self.probabilities, x)
            seconds = time.perf_counter() - start
            results = self.separate(out, views)
        except Exception as err:  # the back end failed: every request of the batch hears why, the loop goes on
            log.error("the forward of a batch of %d failed", len(batch), exc_info=err)
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(err)
            return
        self.stats.add(len(batch))
        if self.on_batch is not None:
            self.on_batch(len(batch), seconds)
        for item, p in zip(batch, results, strict=True):
            if not item.future.done():
                item.future.set_result((p, len(batch)))
