"""``googlenet train``: train a registered model with a shipped recipe, any field overridable."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..config import TrainConfig, dump_yaml, list_recipes, load_recipe, merge, parse_overrides
from ..config.docs import schema_markdown
from ..config.legacy import migrate
from ..config.validate import leaves
from ..errors import UserError
from ..train.loop import train
from ..train.speed import loader_speed
from ..train.state import load_state

# fields a resumed run may change: where things are and how it runs, not what it computes (epochs extends it)
RESUME_SAFE = frozenset(
    {"checkpoint.out", "checkpoint.save_every_steps", "checkpoint.save_all_ranks", "schedule.epochs"}
    | {"data.root", "data.download", "data.workers", "data.strict_data", "log.progress"}
    | {"precision.threads", "precision.device"}
)

HELP_EPILOG = """overrides are FIELD=VALUE pairs, the field's dotted path and a YAML value, e.g. optim.lr=0.05
schedule.epochs=3 model.kwargs.width=0.5 precision.amp=bf16 (every field: --print-schema or docs/config.md).
examples:
  googlenet train --recipe cifar10 --out runs/cifar10
  googlenet train --recipe imagenette-128 --model googlenet_bn schedule.epochs=20
  googlenet train --resume runs/cifar10          # continue exactly where it stopped
  torchrun --nproc_per_node 2 -m googlenet train --recipe cifar10   # DDP"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a model from scratch on real images (recipes: " + ", ".join(list_recipes()) + ")",
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--recipe", help="a shipped recipe name or a YAML file")
    p.add_argument("--model", help="registered model name (overrides the recipe's)")
    p.add_argument("--out", help="output folder for checkpoints, metrics and plots")
    p.add_argument("--data", help="dataset folder or the folder holding its archive (default: $GOOGLENET_DATA)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--resume", metavar="DIR", help="continue the run saved in DIR exactly (its state.pt)")
    p.add_argument("--download", action="store_true", default=None, help="Fashion-MNIST: download when absent")
    p.add_argument("--strict-data", action="store_true", default=None, help="stop on an unreadable image")
    p.add_argument("--compile", action="store_true", default=None, help="torch.compile the model")
    p.add_argument("--loader-only", action="store_true", help="measure the training loader's images/s and exit")
    p.add_argument(
        "--print-config",
        action="store_true",
        help="print the run's whole config (YAML), every value checked, and exit without training",
    )
    p.add_argument(
        "--print-schema", action="store_true", help="list every config field with its type, default and help, and exit"
    )
    p.add_argument("overrides", nargs="*", metavar="FIELD=VALUE")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Recipe (or the resumed run's saved config), then explicit flags, then FIELD=VALUE overrides."""
    flags: dict[str, Any] = {
        "model": {"name": args.model},
        "checkpoint": {"out": args.out},
        "data": {"root": args.data, "download": args.download, "strict_data": args.strict_data},
        "schedule": {"epochs": args.epochs},
        "precision": {"compile": args.compile},
    }
    flags = {g: {k: v for k, v in f.items() if v is not None} for g, f in flags.items()}
    over = merge({g: f for g, f in flags.items() if f}, parse_overrides(args.overrides))
    if args.resume:
        if args.recipe:
            raise UserError("--resume continues the saved run with its own config; give --recipe or --resume")
        base, _ = migrate(load_state(args.resume)["config"])  # a run saved before the groups: its flat config
        cfg = TrainConfig.from_dict(merge(base, merge({"checkpoint": {"out": args.resume}}, over)))
        saved = leaves(TrainConfig.from_dict(base).to_dict(), TrainConfig)
        for k, v in leaves(cfg.to_dict(), TrainConfig).items():
            if k not in RESUME_SAFE and v != saved[k]:
                raise UserError(
                    f"--resume continues the run exactly, so {k!r} cannot change (saved {saved[k]!r}, asked "
                    f"{v!r}); what may change: {', '.join(sorted(RESUME_SAFE))}"
                )
        if cfg.schedule.epochs != saved["schedule.epochs"]:
            print(
                f"schedule.epochs {saved['schedule.epochs']} -> {cfg.schedule.epochs}: the learning-rate schedule "
                "now spans the new total; the steps already taken keep the rates they had",
                file=sys.stderr,
            )
        return cfg
    if not args.recipe:
        raise UserError("give --recipe NAME (one of " + ", ".join(list_recipes()) + ") or --resume DIR")
    return load_recipe(args.recipe, over)


def run(args: argparse.Namespace) -> int:
    if args.print_schema:
        print(schema_markdown(), end="")
        return 0
    cfg = config_from_args(args)
    if args.print_config:
        print(dump_yaml(cfg.to_dict()), end="")
        return 0
    if args.loader_only:
        d = cfg.data
        print(f"{d.dataset} ({d.augment}, {d.workers} workers): {loader_speed(cfg):.0f} images/s (loader only)")
        return 0
    summary = train(cfg, resume=args.resume)
    final = summary["final"]
    if final:
        print(f"final val accuracy: {100 * final['val_acc']:.2f}% (best {100 * summary['best_acc']:.2f}%)")
        print(f"checkpoint: {summary['best']}")
        print(f"curves: {summary['curves']}")
    return 0
