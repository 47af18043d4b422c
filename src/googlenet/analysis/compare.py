"""Side-by-side figures for a set of registered models, and CPU latency/throughput measured in the same run."""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass

import torch

from ..factory import create_model, model_info
from ..probe import check_input_size, meta_model
from .accuracy import project_results, torchvision_accuracy
from .plot import ChartPoint
from .profile import profile_model


@dataclass
class ModelStats:
    """What ``googlenet compare`` prints for one model (inference network: auxiliary heads excluded)."""

    model: str
    input_size: int
    params: int
    macs: int
    depth: int  # layers with weights on the longest path (the paper's count: 22 for GoogLeNet)
    weighted_layers: int  # conv + linear layers in all
    peak_forward_bytes: int  # one image, inference
    train_saved_bytes: int  # one image, training (aux heads included)
    receptive_field: float | None  # of the logits, in px (theoretical; may exceed the image)
    latency_ms: float | None = None  # batch 1, median
    images_per_s: float | None = None  # batch ``batch_size``, median
    batch_size: int | None = None
    threads: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def module_stats(label: str, model: torch.nn.Module, size: int) -> ModelStats:
    """Stats of any module (build it on the meta device to count without memory or arithmetic)."""
    prof = profile_model(model, size)
    rf = prof.final_rf.size[0] if prof.final_rf is not None else None
    return ModelStats(
        model=label,
        input_size=size,
        params=prof.main_params,
        macs=prof.main_macs,
        depth=prof.depth,
        weighted_layers=prof.weighted_layers,
        peak_forward_bytes=prof.peak_forward_bytes,
        train_saved_bytes=prof.train_saved_bytes,
        receptive_field=rf,
    )


def model_stats(name: str, input_size: int | None = None, num_classes: int = 1000, **kwargs) -> ModelStats:
    """Count ``name`` on the meta device (no memory, no arithmetic) at ``input_size`` (default: the model's)."""
    size = input_size or model_info(name).default_input_size
    check_input_size(name, size, **kwargs)
    return module_stats(name, meta_model(name, num_classes, **kwargs), size)


def _median_seconds(fn, repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure_cpu(
    name: str,
    input_size: int,
    batch_size: int = 8,
    repeats: int = 5,
    warmup: int = 1,
    num_classes: int = 1000,
    **kwargs,
) -> tuple[float, float]:
    """CPU inference: median batch-1 latency (ms) and median images/s at ``batch_size``, random weights.

    Uses the current ``torch.get_num_threads()``; the model runs in eval mode under ``torch.inference_mode``.
    """
    model = create_model(name, num_classes=num_classes, **kwargs).eval()
    in_chans = model.in_chans
    one = torch.randn(1, in_chans, input_size, input_size)
    batch = torch.randn(batch_size, in_chans, input_size, input_size)
    with torch.inference_mode():
        latency = _median_seconds(lambda: model(one), repeats, warmup)
        per_batch = _median_seconds(lambda: model(batch), repeats, warmup)
    return latency * 1e3, batch_size / per_batch


def compare_models(
    names: list[str],
    input_size: int | None = None,
    measure: bool = False,
    batch_size: int = 8,
    repeats: int = 5,
    num_classes: int = 1000,
) -> list[ModelStats]:
    """Stats for each model; with ``measure``, CPU latency and throughput measured now, one model after another."""
    out = []
    for name in names:
        st = model_stats(name, input_size, num_classes)
        if measure:
            st.latency_ms, st.images_per_s = measure_cpu(
                name, st.input_size, batch_size, repeats, num_classes=num_classes
            )
            st.batch_size, st.threads = batch_size, torch.get_num_threads()
        out.append(st)
    return out


def _counts(name: str, size: int, num_classes: int, model_args: dict) -> tuple[int, int]:
    prof = profile_model(meta_model(name, num_classes, **model_args), size, memory=False)
    return prof.main_macs, prof.main_params


def chart_points(names: list[str], results: str | None = None):
    """Accuracy points for ``names``: torchvision's published ones and this project's (``results.yaml``).

    Each point's MACs and parameters are counted at the input size and options its accuracy was measured with
    (224 px for torchvision's ImageNet evaluations).
    """
    accs = [a for a in (torchvision_accuracy(n) for n in names) if a is not None]
    accs += [a for a in project_results(results) if a.model in names]
    points = []
    for a in accs:
        macs, params = _counts(a.model, a.input_size, a.num_classes, a.model_args)
        points.append(ChartPoint(a, macs, params))
    return points
