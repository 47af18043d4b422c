"""Inference benchmark: every back end side by side in one process, against torchvision's graph as its peers run it.

Each (model, back end) is timed in its own block (warm-up, then its repeats back to back): ONNX Runtime's and
OpenVINO's thread pools keep spinning after a call and would slow whatever ran next in an interleaved schedule.
Every row has its ratio to torchvision's eager model, to the best peer row of its own kind (float or int8:
torchvision's graph on ONNX Runtime or OpenVINO) and its share of the CPU's peak FLOP/s at the precision it ran
(:mod:`googlenet.runtime.cpu` names how the peak is derived from the flags).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from ..analysis.profile import profile_model
from ..contract import ModelContract
from ..errors import UserError
from ..runtime.backends import Forward, check_backend, make_backend
from ..runtime.cpu import cpu_info
from ..runtime.fuse_1x1 import count_fused, fuse_inception_1x1
from ..runtime.images import image_root
from .parity import relative_diff

# registered name -> torchvision builder name, for models whose topology and keys equal torchvision's
TORCHVISION_EQUIVALENT = {"googlenet_bn": "googlenet", "alexnet_tv": "alexnet"}
# GoogLeNet knobs that give torchvision's topology (batch norm, no LRN, 3x3 "5x5" branch, 2x2 pool before 5a)
_TV_GOOGLENET_KWARGS = {"batch_norm": True, "lrn": False, "ch5x5_kernel": 3, "pool4_kernel": 2}
# options that leave the inference computation as torchvision's (training-only parts, initialisation)
_SAME_COMPUTATION = {"aux_logits", "dropout", "aux_dropout", "aux_paper_pool", "init"}
FUSED_SUFFIX = "+fuse1x1"  # path label of a back end run on the model with its Inception 1x1 convolutions fused


@dataclass
class BenchRow:
    """One (model, back end, batch size) measurement."""

    model: str
    path: str
    batch: int
    median_ms: float
    min_ms: float
    max_ms: float
    images_per_s: float
    gflops_per_s: float
    max_abs_diff: float
    max_rel_diff: float
    ratio: float = float("nan")  # x the reference's eager row
    precision: str = "fp32"  # what the path computed in: fp32, bf16, int8
    peer_ratio: float = float("nan")  # x the best peer row of the same kind (float or int8)
    peak_share: float = float("nan")  # GFLOP/s / the CPU's peak at ``precision`` (0-1)


@dataclass
class BenchReport:
    """All rows plus the conditions they were measured under."""

    rows: list[BenchRow]
    threads: int
    input_size: int
    repeats: int
    macs: int
    reference: str
    environment: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**{k: v for k, v in asdict(self).items() if k != "rows"}, "rows": [asdict(r) for r in self.rows]}


def torchvision_reference(name: str, model_kwargs: dict[str, Any], num_classes: int = 1000) -> tuple[str, nn.Module]:
    """torchvision's model of the same architecture as registered ``name`` (with ``model_kwargs``), or KeyError."""
    import torchvision

    tv_name = TORCHVISION_EQUIVALENT.get(name)
    topology = dict(model_kwargs)
    if name == "googlenet" and all(topology.pop(k, None) == v for k, v in _TV_GOOGLENET_KWARGS.items()):
        tv_name = "googlenet"
    if name == "googlenet_bn":  # its defaults are the torchvision topology; restating them changes nothing
        topology = {k: v for k, v in topology.items() if _TV_GOOGLENET_KWARGS.get(k) != v}
    if tv_name is None or set(topology) - _SAME_COMPUTATION:
        raise KeyError(name)  # (any other option - width, in_chans, small_input... - is not torchvision's network)
    if tv_name == "googlenet":
        model = torchvision.models.googlenet(weights=None, init_weights=True, aux_logits=False, num_classes=num_classes)
    else:
        model = torchvision.models.get_model(tv_name, weights=None, num_classes=num_classes)
    return f"torchvision {tv_name}", model.eval()


def count_macs(model: nn.Module, input_size: int, in_chans: int = 3) -> int:
    """Multiply-accumulates of one image's forward pass (the project's profiler; torch's for what it cannot read)."""
    try:
        return int(profile_model(model, input_size, in_chans, memory=False).total_macs)
    except (AttributeError, TypeError):
        from torch.utils.flop_counter import FlopCounterMode

        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model.eval()(torch.zeros(1, in_chans, input_size, input_size))
        return counter.get_total_flops() // 2


def is_reduced_precision(path: str) -> bool:
    """Back ends that trade exactness for speed (int8): reported apart from the float32 ones."""
    return "int8" in path


def default_paths(ours: bool) -> list[str]:
    """``--paths auto`` (``ours``) and ``--reference-paths auto``: every float back end this machine can run, and the
    int8 ones where real calibration images are found (``runtime.images.DEFAULT_DATA``); a note says what is left
    out. Ours add ``channels_last`` and ``bf16``; the peers are torchvision's graph on ONNX Runtime and OpenVINO."""
    import importlib.util

    paths = ["eager", "channels_last", "bf16", "onnxruntime"] if ours else ["eager", "onnxruntime"]
    if ours and cpu_info().bf16_native:  # compiled bf16 only where the CPU has bf16 instructions (else emulated)
        paths.insert(3, "compile_bf16")
    openvino = all(importlib.util.find_spec(m) is not None for m in ("openvino", "nncf"))
    if openvino:
        paths.append("openvino")
    try:
        image_root(None, "train")
        calibration = True
    except UserError as err:
        calibration = False
        if ours:
            print(f"bench: int8 paths left out (no calibration images: {err})")
    if calibration:
        paths += (["onnxruntime_int8"] if ours else []) + (["openvino_int8"] if openvino else [])
    if not openvino and ours:
        print("bench: OpenVINO paths left out (pip install 'googlenet[openvino]')")
    return paths


def _parse_paths(paths: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(check_backend(p) for p in paths))


def run_bench(
    model: nn.Module,
    name: str,
    contract: ModelContract,
    *,
    batches: Sequence[int] = (1, 16),
    paths: Sequence[str] = ("eager", "channels_last", "compile", "onnxruntime"),
    reference: tuple[str, nn.Module] | None = None,
    reference_paths: Sequence[str] = ("eager", "onnxruntime"),
    threads: int = 2,
    warmup: int = 2,
    repeats: int = 10,
    seed: int = 0,
    file: tuple[str, Forward] | None = None,
    fuse_1x1: bool = False,
) -> BenchReport:
    """Time every back end in ``paths`` for ``model`` (and ``reference_paths`` for ``reference``); or, with
    ``file``, an exported model file on its own runtime (``model`` then only gives the multiply-adds).

    Args:
        model: the network to deploy.
        name: its display name.
        contract: its contract: the input shape timed (``input_size``, ``in_chans``), also fed to ``reference``.
        batches: batch sizes to time.
        paths: back ends (see :data:`~googlenet.runtime.backends.BACKENDS`) for ``model``.
        reference: ``(display name, module)`` whose eager speed is the ratio's denominator; ``None`` uses
            ``model``'s own eager path.
        reference_paths: back ends also timed for ``reference``.
        threads: intra-op threads for torch and ONNX Runtime (set here, and reported).
        warmup: untimed calls per back end and batch size (after compilation).
        repeats: timed calls per back end and batch size; the median is reported, with min and max.
        seed: seed of the random input batch.
        file: ``(label, forward)`` of an exported file (ONNX, TorchScript): timed instead of ``paths``, its own
            outputs the reference of its difference columns.
        fuse_1x1: also time each of ``paths`` on the model with every Inception module's three 1x1 convolutions
            fused into one (:func:`~googlenet.runtime.fuse_1x1.fuse_inception_1x1`), as rows ``PATH+fuse1x1``
            right after ``PATH``; their difference columns are against the unfused eager model.
    """
    paths = _parse_paths(paths)
    reference_paths = _parse_paths(reference_paths) if reference is not None else []
    own = file[0] if file is not None else "eager"  # the subject's own baseline path
    if file is None and "eager" not in paths:
        paths = ["eager", *paths]
    if reference is not None and "eager" not in reference_paths:
        reference_paths = ["eager", *reference_paths]
    torch.set_num_threads(threads)
    model = model.eval()
    input_size, in_chans = contract.input_size, contract.in_chans
    macs = count_macs(model, input_size, in_chans)
    subjects: list[tuple[str, str, Forward]] = [(name, file[0], file[1])] if file is not None else []
    fused = _fused_model(model, name, file is not None) if fuse_1x1 else None
    for path in paths if file is None else []:
        subjects.append((name, path, make_backend(path, model, contract, batch_size=max(batches), threads=threads)))
        if fused is not None:
            fn = make_backend(path, fused, contract, batch_size=max(batches), threads=threads)
            subjects.append((name, path + FUSED_SUFFIX, fn))
    if reference is not None:
        for path in reference_paths:
            # the peer runs as its engine makes it: no graph rewrite of ours (engine_defaults)
            fn = make_backend(
                path, reference[1], contract, batch_size=max(batches), threads=threads, engine_defaults=True
            )
            subjects.append((reference[0], path, fn))
    load_before = os.getloadavg()
    rows: list[BenchRow] = []
    generator = torch.Generator().manual_seed(seed)
    for batch in batches:
        x = torch.randn(batch, in_chans, input_size, input_size, generator=generator)
        outputs, times = {}, {}
        for subject, path, fn in subjects:  # each in its own block: warm-up, then the repeats back to back
            for _ in range(max(1, warmup)):
                outputs[(subject, path)] = fn(x)
            spans = []
            for _ in range(repeats):
                start = time.perf_counter()
                fn(x)
                spans.append(time.perf_counter() - start)
            times[(subject, path)] = spans
        for subject, path, fn in subjects:
            t = times[(subject, path)]
            median = statistics.median(t)
            eager_out = outputs[(subject, own if subject == name else "eager")]
            rows.append(
                BenchRow(
                    model=subject,
                    path=path,
                    batch=batch,
                    median_ms=median * 1e3,
                    min_ms=min(t) * 1e3,
                    max_ms=max(t) * 1e3,
                    images_per_s=batch / median,
                    gflops_per_s=2 * macs * batch / median / 1e9,
                    max_abs_diff=(outputs[(subject, path)].float() - eager_out.float()).abs().max().item(),
                    max_rel_diff=relative_diff(outputs[(subject, path)], eager_out),
                    precision="int8" if is_reduced_precision(path) else str(getattr(fn, "precision", "fp32")),
                )
            )
    base_name, base_path = (reference[0], "eager") if reference is not None else (name, own)
    info = cpu_info()
    for row in rows:
        base = next(r for r in rows if r.model == base_name and r.path == base_path and r.batch == row.batch)
        row.ratio = row.images_per_s / base.images_per_s
        peers = [
            r for r in rows
            if r.model == base_name and r.path != "eager" and r.batch == row.batch
            and is_reduced_precision(r.path) == is_reduced_precision(row.path)
        ]  # fmt: skip
        if reference is not None and peers:
            row.peer_ratio = row.images_per_s / max(r.images_per_s for r in peers)
        peak = info.peak_flops("bf16" if row.precision == "bf16" else "fp32")
        if peak > 0 and row.precision != "int8":
            row.peak_share = row.gflops_per_s * 1e9 / peak
    env = {
        "torch": torch.__version__,
        "onnxruntime": _version("onnxruntime"),
        "openvino": _version("openvino"),
        "cpu": info.model,  # the same /proc/cpuinfo read as the flags (googlenet.device.cpu_model's name)
        "cpu_flags": info.describe(),
        "cpu_count": os.cpu_count(),
        "loadavg_before": [round(v, 2) for v in load_before],
        "loadavg_after": [round(v, 2) for v in os.getloadavg()],
    }
    return BenchReport(rows, threads, input_size, repeats, macs, f"{base_name} {base_path}", env)


def _fused_model(model: nn.Module, name: str, exported: bool) -> nn.Module:
    """``model`` with its Inception 1x1 convolutions fused, or a one-line UserError when there is nothing to fuse."""
    if exported:
        raise UserError("--fuse-1x1 rewrites a PyTorch model: an exported file's graph is timed as it is")
    fused = fuse_inception_1x1(model)
    if count_fused(fused) == 0:
        raise UserError(f"--fuse-1x1: {name} has no Inception module with 1x1 reductions to fuse")
    return fused


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except ImportError:
        return "absent"


def format_report(report: BenchReport) -> str:
    """The report as a Markdown table plus one line on the conditions."""
    env = report.environment
    lines = [
        f"threads: {report.threads} (torch intra-op and ONNX Runtime intra-op), input {report.input_size} px, "
        f"{report.repeats} timed repeats (median; spread min-max), torch {env.get('torch')}, "
        f"onnxruntime {env.get('onnxruntime')}, {report.macs / 1e9:.2f} GMACs/image, "
        f"load average {env.get('loadavg_before', ['?'])[0]} -> {env.get('loadavg_after', ['?'])[0]}",
        "",
        f"CPU: {env.get('cpu_flags', env.get('cpu'))}",
        "",
        f"| model | path | precision | batch | images/s | latency ms (min-max) | GFLOP/s | % of peak "
        f"| x {report.reference} | x best peer | max abs diff | rel diff |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report.rows:
        share = "-" if r.peak_share != r.peak_share else f"{100 * r.peak_share:.1f}"
        peer = "-" if r.peer_ratio != r.peer_ratio else f"{r.peer_ratio:.2f}"
        lines.append(
            f"| {r.model} | {r.path} | {r.precision} | {r.batch} | {r.images_per_s:.1f} | {r.median_ms:.1f} "
            f"({r.min_ms:.1f}-{r.max_ms:.1f}) | {r.gflops_per_s:.1f} | {share} | {r.ratio:.2f} | {peer} "
            f"| {r.max_abs_diff:.1e} | {r.max_rel_diff:.1e} |"
        )
    lines.append("")
    for batch in dict.fromkeys(r.batch for r in report.rows):
        own = [r for r in report.rows if r.batch == batch and not r.model.startswith("torchvision")]
        ref = [r for r in report.rows if r.batch == batch and r.model.startswith("torchvision") and r.path != "eager"]
        best = max(own, key=lambda r: r.images_per_s)
        exact = [r for r in own if not is_reduced_precision(r.path)]
        for kind, row in (("fastest path", best), ("fastest float path", max(exact, key=lambda r: r.images_per_s))):
            if kind != "fastest path" and row is best:
                continue
            line = f"batch {batch}: {kind} {row.path}, {row.ratio:.2f}x {report.reference}"
            for r in ref:
                line += f", {row.images_per_s / r.images_per_s:.2f}x {r.model} {r.path}"
            lines.append(line)
        fused = [
            f"{r.path.removesuffix(FUSED_SUFFIX)} {r.images_per_s / u.images_per_s:.2f}x"
            for r in own if r.path.endswith(FUSED_SUFFIX)
            for u in own if u.path == r.path.removesuffix(FUSED_SUFFIX)
        ]  # fmt: skip
        if fused:
            lines.append(f"batch {batch}: 1x1 convolutions fused vs unfused, per path: " + ", ".join(fused))
    return "\n".join(lines)
