"""Are a run's validation swings the batch norms' running statistics? Evaluate the same weights with the running
statistics training collected, and again with statistics recomputed on training batches (precise BN), at the
evaluation size and at the training size.

    python benchmarks/bn_statistics.py --recipe imagenette-128 --train-epochs 1     # train, then evaluate
    python benchmarks/bn_statistics.py --recipe imagenette-128 --checkpoint RUN/last.safetensors [FIELD=VALUE ...]

With ``--train-epochs N`` the recipe trains its first N epochs exactly as ``googlenet train`` does (its schedule
spans all its epochs); with ``--checkpoint`` the weights are a finished run's (give the run's overrides too).
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time

import torch
from safetensors.torch import load_file

from googlenet.cli.argtypes import positive_int
from googlenet.config import TrainConfig, load_recipe, merge, parse_overrides
from googlenet.data.loader import ResumableSampler, build_loader
from googlenet.device import cpu_model
from googlenet.train.inputs import prepare_data
from googlenet.train.loop import Trainer
from googlenet.weights import load_checkpoint


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", required=True)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--train-epochs", type=positive_int, help="train the recipe's first N epochs, then evaluate")
    source.add_argument("--checkpoint", help="evaluate these weights (a run's last.safetensors)")
    parser.add_argument("--batches", type=positive_int, default=50, help="training batches for the statistics")
    parser.add_argument("overrides", nargs="*", metavar="FIELD=VALUE")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as out:
        flags = {"checkpoint": {"out": out}, "log": {"progress": False}, "optim": {"precise_bn_batches": args.batches}}
        cfg = load_recipe(args.recipe, merge(flags, parse_overrides(args.overrides)))
        t = Trainer(cfg)
        print(
            f"{cpu_model()}, {torch.get_num_threads()} thread(s); {cfg.model.name} on {cfg.data.dataset}",
            file=sys.stderr,
        )
        if args.checkpoint:
            saved_config = load_checkpoint(args.checkpoint)[2].get("config") or {}
            saved = TrainConfig.from_dict(saved_config).optim.precise_bn_batches
            if saved:
                print(
                    f"note: this run recomputed its statistics ({saved} batches) before saving these weights, so "
                    "'running statistics from training' are precise BN's already",
                    file=sys.stderr,
                )
            t.parts.module.load_state_dict(load_file(args.checkpoint))
            t.progress.epoch = cfg.schedule.epochs - 1
            print(f"weights: {args.checkpoint}")
        else:
            for e in range(args.train_epochs):
                t0 = time.perf_counter()
                t.run_epoch()
                print(f"epoch {e + 1} of {cfg.schedule.epochs} trained ({time.perf_counter() - t0:.0f} s)", flush=True)
                if e + 1 < args.train_epochs:
                    t.progress.epoch, t.progress.step_in_epoch = t.progress.epoch + 1, 0

        train_size = cfg.data.input_size or t.data.spec.native_size
        small, _ = prepare_data(cfg.model_copy(update={"data": cfg.data.model_copy(update={"eval_size": train_size})}))
        sampler = ResumableSampler(len(small.val), cfg.seed, False, 0, 1, with_seeds=False)
        loaders = {
            t.data.size: t.data.val_loader,
            train_size: build_loader(small.val, cfg.data.batch_size, sampler, 0, False, "cpu"),
        }

        def report(label: str, model: torch.nn.Module) -> None:
            for size, loader in loaders.items():
                r = t.task.validate(model, loader, t.device, t.autocast, t.dist)
                print(
                    f"{label}, eval {size} px: val loss {r['val_loss']:.3f}, top-1 {100 * r['val_acc']:.2f} %, "
                    f"top-5 {100 * r['val_top5']:.2f} % ({r['val_count']} images)",
                    flush=True,
                )

        collected = copy.deepcopy(t.parts.module)
        report("running statistics from training", collected)
        t.recompute_bn()
        report(f"statistics recomputed on {args.batches} training batches", t.parts.module)
        gaps = [
            ((a - b).abs() / b.clamp_min(1e-5)).mean().item()
            for (name, a), (_, b) in zip(collected.named_buffers(), t.parts.module.named_buffers(), strict=True)
            if name.endswith("running_var")
        ]
        gaps.sort()
        median, worst = 100 * gaps[len(gaps) // 2], 100 * gaps[-1]
        print(f"running_var off by a mean {median:.0f} % (median layer), {worst:.0f} % (worst)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
