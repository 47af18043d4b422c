"""Training-step throughput: this project's training path against torchvision's ``googlenet``.

Without ``--recipe``: ``googlenet_bn`` against torchvision's googlenet with the same hand-written step (same
batch, input, SGD momentum 0.9, both aux heads at the paper's 0.3) and the same options for both.

With ``--recipe NAME``: the step that recipe really trains with (its model and builder options, class count,
training crop size, memory format, ``torch.compile`` setting, loss with label smoothing and aux weight, aux heads
as the model has them, the engine's parameter groups) against torchvision's plain eager googlenet step (same
batch, input size and class count; cross-entropy plus its aux heads at 0.3). With the recipe's data present it also
prints the recipe's loader images/s beside the step's, so a loader that cannot keep up shows.

With ``--variant "MODEL [FIELD=VALUE ...]"`` (repeatable) the recipe's step is timed once per variant instead, each
with that model (``recipe``: the recipe's own) and those overrides, all against the same torchvision step: the
classic CNNs under one recipe, or one lever such as ``precision.compile=true``, ``optim.name=adamw`` or
``model.kwargs.aux_logits=false``. Fields one timed step cannot show (batch size, mixing, resizing, EMA) are refused.

Steps alternate (A, B, A, B...) so a noisy, shared machine slows all alike; the median step time is reported.
The recipe's step runs in the precision it trains in here (``precision.amp=auto``: bf16 where the CPU has bf16
instructions), and with its data present the script projects the recipe's training minutes on this machine from
the step and loader speeds (evaluation not counted): run it on a CPU with AMX to see what a goal needs there.

    python benchmarks/train_throughput.py --batch 32 --size 224 --steps 10
    python benchmarks/train_throughput.py --recipe imagenette-128 --steps 10
    python benchmarks/train_throughput.py --recipe imagenette-compare --variant alexnet_tv --variant resnet18
    python benchmarks/train_throughput.py --recipe imagenette-128 --variant recipe \
        --variant "recipe precision.compile=true"
    python benchmarks/train_throughput.py --device cuda --batch 128 --amp bf16 --channels-last

"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from googlenet import __version__
from googlenet.cli.argtypes import non_negative_int, positive_int
from googlenet.config import TrainConfig, load_recipe, merge, parse_overrides
from googlenet.config.validate import leaves
from googlenet.data.datasets import STATS
from googlenet.errors import UserError
from googlenet.factory import create_model
from googlenet.probe import accepts_return_aux
from googlenet.runtime.cpu import auto_amp
from googlenet.runtime.machine import device_name
from googlenet.train.finetune import param_groups
from googlenet.train.levers import build_optimizer
from googlenet.train.speed import loader_speed
from googlenet.train.task import compute_loss


def ours(num_classes: int) -> tuple[str, nn.Module, Callable]:
    name, model = "googlenet_bn", create_model("googlenet_bn", num_classes=num_classes)

    def forward(x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        return model(x, return_aux=True)

    return name, model, forward


def theirs(num_classes: int) -> tuple[str, nn.Module, Callable]:
    model = torchvision.models.googlenet(num_classes=num_classes, aux_logits=True, init_weights=True)

    def forward(x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        out = model(x)  # GoogLeNetOutputs(logits, aux_logits2, aux_logits1) in training mode
        return out.logits, (out.aux_logits1, out.aux_logits2)

    return "torchvision googlenet", model, forward


def timed_step(
    loss_fn: Callable[[], torch.Tensor], opt: torch.optim.Optimizer, device: torch.device, dtype: torch.dtype | None
) -> Callable[[], float]:
    """A function doing one optimiser step on ``loss_fn()`` (under autocast to ``dtype``) and returning its seconds."""

    def step() -> float:
        t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = loss_fn()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    return step


def alternate(steps: list[Callable[[], float]], warmup: int, timed: int) -> list[list[float]]:
    """Run the steps in turn (A, B, A, B...) so a noisy machine slows all alike; the timed seconds of each."""
    times: list[list[float]] = [[] for _ in steps]
    for i in range(warmup + timed):
        for step, out in zip(steps, times, strict=True):
            t = step()
            if i >= warmup:
                out.append(t)
    return times


def make_step(model: nn.Module, forward: Callable, args: argparse.Namespace, device: torch.device) -> Callable:
    model.to(device).train()
    if args.channels_last:
        model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.amp)
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    x = torch.randn(args.batch, 3, args.size, args.size, device=device).contiguous(memory_format=fmt)
    y = torch.randint(0, args.classes, (args.batch,), device=device)

    def loss() -> torch.Tensor:
        logits, aux = forward(x)
        return F.cross_entropy(logits, y) + 0.3 * sum(F.cross_entropy(a, y) for a in aux)

    return timed_step(loss, opt, device, dtype)


def recipe_step(cfg: TrainConfig, num_classes: int, batch: int, size: int, device: torch.device) -> Callable:
    """One optimiser step of the path ``cfg`` trains with (the engine's own loss and parameter groups)."""
    model = create_model(cfg.model.name, num_classes=num_classes, **cfg.model.kwargs).to(device).train()
    fmt = torch.channels_last if cfg.precision.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = build_optimizer(param_groups(model, cfg, set()), cfg)
    net = torch.compile(model) if cfg.precision.compile else model
    aux = accepts_return_aux(model)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(step_amp(cfg, device))
    x = torch.randn(batch, 3, size, size, device=device).contiguous(memory_format=fmt)
    y = torch.randint(0, num_classes, (batch,), device=device)

    return timed_step(lambda: compute_loss(net, x, y, cfg, aux)[0], opt, device, dtype)


def step_amp(cfg: TrainConfig, device: torch.device) -> str:
    """The precision the recipe trains in on ``device``: ``precision.amp=auto`` resolved as training resolves it."""
    return auto_amp(device.type) if cfg.precision.amp == "auto" else cfg.precision.amp


# what one timed step models; other fields (batch size, mixing, resizing, EMA...) would be ignored, so refused
STEP_FIELDS = {
    "model.name", "model.kwargs", "data.input_size", "precision.channels_last", "precision.compile", "precision.amp",
    "optim.label_smoothing", "optim.aux_weight", "optim.name", "optim.lr", "optim.momentum", "optim.nesterov",
    "optim.weight_decay", "optim.no_decay_bn_bias",
}  # fmt: skip


def variant_config(recipe: str, spec: str) -> tuple[str, TrainConfig]:
    """``"MODEL [FIELD=VALUE ...]"``: the recipe with that model (its builder options only for its own model)
    and the overrides."""
    model, *overrides = spec.split()
    over = parse_overrides(overrides)
    ignored = sorted(set(leaves(over, TrainConfig)) - STEP_FIELDS)
    if ignored:
        raise UserError(
            f"--variant {spec!r}: the timed step does not model {', '.join(ignored)} (it times one optimiser step "
            f"at --batch); it models {', '.join(sorted(STEP_FIELDS))}"
        )
    fields = load_recipe(recipe).to_dict()
    if model not in ("recipe", fields["model"]["name"]):  # another model: the recipe's builder options are not its
        fields["model"] = {**fields["model"], "name": model, "kwargs": {}}
    return spec, TrainConfig.from_dict(merge(fields, over))


def compare_recipe(args: argparse.Namespace, device: torch.device) -> None:
    cfg = load_recipe(args.recipe)
    if cfg.precision.threads and not args.threads:
        torch.set_num_threads(cfg.precision.threads)
    # the recipe's crop, else its dataset's own size (CIFAR-10: 32 px), else --size
    native = STATS.get(cfg.data.dataset, (None, None, args.size))[2]
    size, batch, classes = cfg.data.input_size or native, args.batch or cfg.data.batch_size, args.classes or 10
    plain = argparse.Namespace(batch=batch, size=size, classes=classes, channels_last=False, amp="none")
    name, model, forward = theirs(classes)
    variants = [variant_config(args.recipe, v) for v in args.variant] or [
        (f"recipe {args.recipe} ({cfg.model.name})", cfg)
    ]
    labels = [label for label, _ in variants] + [f"{name}, plain eager"]
    steps = [recipe_step(c, classes, batch, c.data.input_size or size, device) for _, c in variants]
    steps.append(make_step(model, forward, plain, device))
    times = alternate(steps, args.warmup, args.steps)
    amp = cfg.precision.amp + (f" ({step_amp(cfg, device)} here)" if cfg.precision.amp == "auto" else "")
    print(
        f"googlenet {__version__}, torch {torch.__version__}, {device_name(device)}, "
        f"{torch.get_num_threads()} threads; "
        f"batch {batch}, {size} px, {classes} classes; recipe: channels_last {cfg.precision.channels_last}, "
        f"compile {cfg.precision.compile}, amp {amp}, label smoothing {cfg.optim.label_smoothing}, "
        f"aux weight {cfg.optim.aux_weight}; "
        f"{args.steps} timed steps each (median)"
    )
    rates = [batch / statistics.median(t) for t in times]
    for label, rate in zip(labels, rates, strict=True):
        print(
            f"  {label}: {rate:.1f} images/s "
            f"({rate / rates[-1]:.2f}x torchvision eager, {rate / rates[0]:.2f}x the first)"
        )
    if args.variant:
        return
    print(f"  ratio recipe / torchvision eager: {rates[0] / rates[-1]:.2f}x")
    try:
        loader = loader_speed(cfg)
    except UserError as err:
        print(f"  loader: not measured ({err})")
        return
    print(
        f"  loader ({cfg.data.augment}, {cfg.data.workers} worker(s)): {loader.rate:.0f} images/s = "
        f"{loader.rate / rates[0]:.1f}x the step"
    )
    print(f"  {projection(cfg.schedule.epochs, loader.train_images, rates[0], loader.rate, cfg.data.workers)}")


def projection(epochs: int, images: int, step_rate: float, loader_rate: float, workers: int) -> str:
    """The recipe's training minutes at these speeds (evaluation not counted): with loader workers the slower of
    step and loader bounds each image; with none the main process does both, one after the other."""
    seconds_per_image = max(1 / step_rate, 1 / loader_rate) if workers else 1 / step_rate + 1 / loader_rate
    minutes = epochs * images * seconds_per_image / 60
    return (
        f"projected training: {epochs} epoch(s) x {images:,} images at {1 / seconds_per_image:.1f} images/s = "
        f"{minutes:.1f} min on this machine (evaluation not counted)"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", help="time this recipe's own training path against torchvision's plain eager step")
    p.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar='"MODEL [FIELD=VALUE ...]"',
        help="with --recipe: time the recipe with this model (recipe: its own) and overrides; repeatable",
    )
    p.add_argument("--batch", type=positive_int, default=None, help="default: the recipe's, else 32")
    p.add_argument("--size", type=positive_int, default=224)
    p.add_argument("--steps", type=positive_int, default=10, help="timed steps per model (after --warmup)")
    p.add_argument("--warmup", type=non_negative_int, default=2)
    p.add_argument("--classes", type=positive_int, default=None, help="default: 10 with --recipe, else 1000")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=positive_int, default=None)
    p.add_argument("--amp", choices=("none", "bf16", "fp16"), default="none")
    p.add_argument("--channels-last", action="store_true")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    if args.recipe:
        try:
            compare_recipe(args, device)
        except UserError as err:
            raise SystemExit(f"train_throughput: {err}") from None
        return
    args.batch, args.classes = args.batch or 32, args.classes or 1000
    runs = []
    for build in (ours, theirs):
        name, model, forward = build(args.classes)
        params = sum(t.numel() for t in model.parameters())
        runs.append((name, params, make_step(model, forward, args, device)))
    times = alternate([step for _, _, step in runs], args.warmup, args.steps)
    print(
        f"googlenet {__version__}, torch {torch.__version__}, torchvision {torchvision.__version__}, "
        f"{device_name(device)} ({torch.get_num_threads()} threads), batch {args.batch}, {args.size} px, "
        f"amp {args.amp}, "
        f"channels_last {args.channels_last}, {args.steps} timed steps each (median)"
    )
    base = None
    for (name, params, _), timed in zip(runs, times, strict=True):
        rate = args.batch / statistics.median(timed)
        base = base or rate
        print(f"  {name}: {params / 1e6:.2f} M params, {rate:.1f} images/s ({rate / base:.2f}x)")


if __name__ == "__main__":
    main()
