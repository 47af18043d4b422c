"""Training-step throughput: this project's ``googlenet_bn`` against torchvision's ``googlenet``.

Same batch, same input, same optimiser (SGD momentum 0.9), both with their two auxiliary heads and the
paper's 0.3 aux-loss weight. Steps alternate between the two models (A, B, A, B...) so a noisy, shared
machine slows both alike; the median step time is reported.

    python benchmarks/train_throughput.py --batch 32 --size 224 --steps 10
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
from googlenet.factory import create_model


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


def make_step(model: nn.Module, forward: Callable, args: argparse.Namespace, device: torch.device) -> Callable:
    model.to(device).train()
    if args.channels_last:
        model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.amp)
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    x = torch.randn(args.batch, 3, args.size, args.size, device=device).contiguous(memory_format=fmt)
    y = torch.randint(0, args.classes, (args.batch,), device=device)

    def step() -> float:
        t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            logits, aux = forward(x)
            loss = F.cross_entropy(logits, y) + 0.3 * sum(F.cross_entropy(a, y) for a in aux)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    return step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--steps", type=int, default=10, help="timed steps per model (after --warmup)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--amp", choices=("none", "bf16", "fp16"), default="none")
    p.add_argument("--channels-last", action="store_true")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    runs = []
    for build in (ours, theirs):
        name, model, forward = build(args.classes)
        params = sum(t.numel() for t in model.parameters())
        runs.append((name, params, make_step(model, forward, args, device), []))
    for i in range(args.warmup + args.steps):
        for _, _, step, times in runs:
            t = step()
            if i >= args.warmup:
                times.append(t)
    print(
        f"googlenet {__version__}, torch {torch.__version__}, torchvision {torchvision.__version__}, "
        f"device {device} ({torch.get_num_threads()} threads), batch {args.batch}, {args.size} px, amp {args.amp}, "
        f"channels_last {args.channels_last}, {args.steps} timed steps each (median)"
    )
    base = None
    for name, params, _, times in runs:
        rate = args.batch / statistics.median(times)
        base = base or rate
        print(f"  {name}: {params / 1e6:.2f} M params, {rate:.1f} images/s ({rate / base:.2f}x)")


if __name__ == "__main__":
    main()
