"""The paper GoogLeNet in ONNX Runtime with LRN written five ways, timed side by side (round-robin, one process).

    python benchmarks/lrn_forms.py [--batch 16] [--repeats 8] [--threads 2]

Forms: ``conv`` (the back end's choice: banded 1x1 conv + sqrt, :class:`googlenet.runtime.lrn.ConvLRN`),
``node`` (one ONNX ``LRN`` node, ONNX Runtime's own kernel), ``pool`` (squares average-pooled across channels,
torch's own decomposition), ``slices`` (five shifted channel slices summed), and ``none`` (LRN removed: what
LRN costs at all). Every form is checked against torch's LRN before timing.
"""

from __future__ import annotations

import argparse
import copy
import io
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from googlenet import create_model
from googlenet.cli.argtypes import positive_int
from googlenet.runtime.fuse import fold_batch_norm
from googlenet.runtime.lrn import register_legacy_symbolic, use_conv_lrn, use_onnx_lrn
from googlenet.runtime.onnx import session_options


class PoolLRN(nn.Module):
    """x / (k + alpha * avgpool_channels(x^2)) ^ beta, the pooling spelled on a (N, 1, C, H*W) view."""

    def __init__(self, lrn: nn.LocalResponseNorm) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = lrn.size, lrn.alpha, lrn.beta, lrn.k

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        sq = (x * x).reshape(n, 1, c, h * w)
        avg = F.avg_pool2d(sq, (self.size, 1), stride=1, padding=(self.size // 2, 0), count_include_pad=True)
        return x * (avg.reshape(n, c, h, w) * self.alpha + self.k).pow(-self.beta)


class SliceLRN(PoolLRN):
    """The channel-window sum as ``size`` shifted slices of the zero-padded squares."""

    def forward(self, x: Tensor) -> Tensor:
        c, half = x.shape[1], self.size // 2
        sq = F.pad(x * x, (0, 0, 0, 0, half, half))
        acc = sq[:, 0:c]
        for i in range(1, self.size):
            acc = acc + sq[:, i : i + c]
        return x * (acc * (self.alpha / self.size) + self.k).pow(-self.beta)


def replace_lrn(model: nn.Module, make) -> nn.Module:
    model = copy.deepcopy(model)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.LocalResponseNorm):
                setattr(parent, name, make(child))
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=positive_int, default=16)
    parser.add_argument("--repeats", type=positive_int, default=8)
    parser.add_argument("--threads", type=positive_int, default=2)
    args = parser.parse_args()
    import onnxruntime as ort

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    base = fold_batch_norm(create_model("googlenet", aux_logits=False).eval())
    x = torch.randn(args.batch, 3, 224, 224)
    forms = {
        "conv": use_conv_lrn(base, x),
        "node": use_onnx_lrn(base),
        "pool": replace_lrn(base, PoolLRN),
        "slices": replace_lrn(base, SliceLRN),
        "none": replace_lrn(base, lambda _: nn.Identity()),
    }
    with torch.no_grad():
        expected = base(x).numpy()
    register_legacy_symbolic(18)
    sessions = {}
    for name, model in forms.items():
        buf = io.BytesIO()
        torch.onnx.export(model, x, buf, opset_version=18, dynamo=False, input_names=["x"])
        session = ort.InferenceSession(buf.getvalue(), session_options(args.threads), ["CPUExecutionProvider"])
        diff = float(np.abs(session.run(None, {"x": x.numpy()})[0] - expected).max())
        if name != "none" and diff > 1e-4:
            raise SystemExit(f"LRN form {name!r} differs from torch's LRN by {diff:.2e}")
        sessions[name] = session
    times: dict[str, list[float]] = {n: [] for n in sessions}
    for _ in range(args.repeats):
        for name, session in sessions.items():
            start = time.perf_counter()
            session.run(None, {"x": x.numpy()})
            times[name].append(time.perf_counter() - start)
    conv = statistics.median(times["conv"])
    print(f"paper googlenet, batch {args.batch}, {args.threads} threads, median of {args.repeats} round-robin repeats")
    print("| LRN form | ms per batch | images/s | time / conv form |")
    print("|---|---:|---:|---:|")
    for name, t in times.items():
        median = statistics.median(t)
        print(f"| {name} | {median * 1e3:.1f} | {args.batch / median:.1f} | {median / conv:.2f} |")


if __name__ == "__main__":
    main()
