"""Where inference time goes: per-operator self time for torch back ends (torch.profiler) and ONNX Runtime."""

from __future__ import annotations

import collections
import json
import os
import tempfile
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..contract import ModelContract
from ..runtime.backends import make_backend, onnx_graph_bytes
from ..runtime.onnx import session_options


def torch_op_times(fn: Callable[[Tensor], Tensor], x: Tensor, runs: int = 3) -> dict[str, float]:
    """Self CPU milliseconds per aten operator, averaged over ``runs`` calls of ``fn(x)``."""
    from torch.profiler import ProfilerActivity, profile

    fn(x)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(runs):
            fn(x)
    times = {e.key: e.self_cpu_time_total / 1e3 / runs for e in prof.key_averages()}
    return {k: v for k, v in times.items() if v > 0}


def ort_op_times(model: nn.Module, contract: ModelContract, x: Tensor, threads: int, runs: int = 3) -> dict[str, float]:
    """Milliseconds per ONNX Runtime operator type (after its graph fusions) of the ``onnxruntime`` back end's
    graph, averaged over ``runs`` runs."""
    import onnxruntime as ort

    data = onnx_graph_bytes(model, contract, len(x))
    with tempfile.TemporaryDirectory() as tmp:
        options = session_options(threads)
        options.enable_profiling = True
        options.profile_file_prefix = os.path.join(tmp, "ort")
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        feed = {session.get_inputs()[0].name: x.numpy()}
        session.run(None, feed)
        for _ in range(runs):
            session.run(None, feed)
        with open(session.end_profiling()) as f:
            events = json.load(f)
    totals: dict[str, float] = collections.defaultdict(float)
    node_runs = [e for e in events if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time")]
    for e in node_runs[-(len(node_runs) // (runs + 1)) * runs :]:  # drop the first (warm-up) run
        totals[e["args"]["op_name"]] += e["dur"] / 1e3 / runs
    return dict(totals)


def op_profile(model: nn.Module, contract: ModelContract, path: str, batch: int, threads: int) -> dict[str, float]:
    """Per-operator milliseconds of one batch on back end ``path`` (``onnxruntime`` or a torch back end)."""
    torch.set_num_threads(threads)
    x = torch.randn(batch, contract.in_chans, contract.input_size, contract.input_size)
    if path == "onnxruntime":
        return ort_op_times(model, contract, x, threads)
    return torch_op_times(make_backend(path, model, contract, batch_size=batch, threads=threads), x)


def format_profile(times: dict[str, float], title: str, top: int = 10) -> str:
    """Top operators by time with their share of the total, as Markdown."""
    total = sum(times.values())
    lines = [f"{title}: {total:.1f} ms in operators", "| operator | ms | share |", "|---|---:|---:|"]
    for name, ms in sorted(times.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"| {name} | {ms:.1f} | {100 * ms / total:.0f}% |")
    return "\n".join(lines)
