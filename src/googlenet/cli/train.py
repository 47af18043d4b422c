"""``googlenet train``: train a registered model with a shipped recipe, any field overridable."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import torch

from ..data.datasets import build_data
from ..errors import UserError
from ..factory import create_model
from ..train import rundir
from ..train.config import TrainConfig, dump_yaml, list_recipes, load_recipe, merge, parse_overrides
from ..train.distributed import is_main_process
from ..train.finetune import check_options
from ..train.loop import train
from ..train.speed import loader_speed
from ..train.state import load_state
from ._common import positive_int

# fields a resumed run may change: where things are and how it runs, not what it computes (epochs extends it)
RESUME_SAFE = frozenset(
    {"out", "data", "download", "workers", "progress", "threads", "strict_data", "save_every_steps", "epochs"}
    | {"device", "save_all_ranks"}
)

HELP_EPILOG = """overrides are FIELD=VALUE pairs (YAML values), e.g. lr=0.05 epochs=3 model_kwargs.width=0.5 amp=bf16.
examples:
  googlenet train --recipe cifar10 --out runs/cifar10
  googlenet train --recipe imagenette-128 --model googlenet_bn epochs=20
  googlenet train --resume runs/cifar10          # continue exactly where it stopped
  googlenet train --recipe cifar10 --out runs/cifar10 --overwrite   # replace the run there with a new one
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
    p.add_argument("--epochs", type=positive_int)
    p.add_argument("--resume", metavar="DIR", help="continue the run saved in DIR exactly (its state.pt)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="--out may hold an earlier run: remove its files and start a new run there (default: refused)",
    )
    p.add_argument("--download", action="store_true", default=None, help="Fashion-MNIST: download when absent")
    p.add_argument("--strict-data", action="store_true", default=None, help="stop on an unreadable image")
    p.add_argument("--compile", action="store_true", default=None, help="torch.compile the model")
    p.add_argument("--loader-only", action="store_true", help="measure the training loader's images/s and exit")
    p.add_argument(
        "--print-config", action="store_true", help="print the run's whole config (YAML) and exit without training"
    )
    p.add_argument("overrides", nargs="*", metavar="FIELD=VALUE")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Recipe (or the resumed run's saved config), then explicit flags, then FIELD=VALUE overrides."""
    flags: dict[str, Any] = {
        "model": args.model,
        "out": args.out,
        "data": args.data,
        "epochs": args.epochs,
        "download": args.download,
        "strict_data": args.strict_data,
        "compile": args.compile,
    }
    over = merge({k: v for k, v in flags.items() if v is not None}, parse_overrides(args.overrides))
    if args.resume:
        if args.recipe:
            raise UserError("--resume continues the saved run with its own config; give --recipe or --resume")
        if args.overwrite:
            raise UserError("--resume continues the run in its folder; --overwrite starts a new one: give one")
        rundir.check_resume_dir(args.resume)
        base = load_state(args.resume).get("config")
        if not isinstance(base, dict):
            raise UserError(f"--resume {args.resume}: {rundir.STATE} holds no run config, so it cannot be resumed")
        cfg = TrainConfig.from_dict(merge(base, {"out": args.resume, **over}))
        asked = cfg.to_dict()
        for k, v in asked.items():
            if k not in RESUME_SAFE and v != base.get(k, v):
                raise UserError(
                    f"--resume continues the run exactly, so {k!r} cannot change (saved {base[k]!r}, asked "
                    f"{v!r}); what may change: {', '.join(sorted(RESUME_SAFE))}"
                )
        if cfg.epochs != base.get("epochs", cfg.epochs):
            print(
                f"epochs {base['epochs']} -> {cfg.epochs}: the learning-rate schedule now spans the new total; "
                "the steps already taken keep the rates they had",
                file=sys.stderr,
            )
        return cfg
    if not args.recipe:
        raise UserError("give --recipe NAME (one of " + ", ".join(list_recipes()) + ") or --resume DIR")
    cfg = load_recipe(args.recipe, over)
    if args.model and "model_kwargs" not in parse_overrides(args.overrides):
        check_recipe_options(cfg.model, dict(cfg.model_kwargs), args.recipe)
    return cfg


def check_recipe_options(model: str, kwargs: dict[str, Any], recipe: str) -> None:
    """``--model`` swapped into a recipe written for another model: its ``model_kwargs`` must be options of
    ``model`` (built on the meta device: nothing allocated), else one line naming the ones that are not."""
    if not kwargs:
        return

    def builds(options: dict[str, Any]) -> bool:
        try:
            with torch.device("meta"):
                create_model(model, num_classes=2, **options)
        except UserError:
            return False
        return True

    if builds(kwargs):
        return
    bad = [k for k in kwargs if not builds({k: kwargs[k]})] or sorted(kwargs)
    raise UserError(
        f"--model {model}: recipe {recipe!r} sets model_kwargs {', '.join(f'{k}={kwargs[k]!r}' for k in bad)}, "
        f"which {model} does not take; add model_kwargs={{}} (or options {model} takes, e.g. model_kwargs.KEY=VALUE)"
    )


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    if args.print_config:
        check_options(cfg)
        print(dump_yaml(cfg.to_dict()), end="")
        return 0
    if args.loader_only:
        print(f"{cfg.dataset} ({cfg.augment}, {cfg.workers} workers): {loader_speed(cfg):.0f} images/s (loader only)")
        return 0
    prepare_run_dir(args, cfg)
    summary = train(cfg, resume=args.resume)
    final = summary["final"]
    if final and is_main_process():  # under torchrun, rank 0 reports (the others never saw the best weights)
        print(f"final val accuracy: {100 * final['val_acc']:.2f}% (best {100 * summary['best_acc']:.2f}%)")
        print(f"checkpoint: {summary['best']}")
        print(f"curves: {summary['curves']}")
    return 0


def prepare_run_dir(args: argparse.Namespace, cfg: TrainConfig) -> None:
    """A new run never replaces one by accident (:mod:`googlenet.train.rundir`); a resume reads the run's data."""
    if not args.resume:
        rundir.check_writable_folder(cfg.out)
        if is_main_process() or not args.overwrite:  # one process of a launch clears the folder
            rundir.check_new_run(cfg.out, args.overwrite)
        return
    saved = load_state(args.resume)["config"]
    asked = cfg.to_dict()
    read = build_data(asked["dataset"], asked["data"], download=bool(asked.get("download")))
    rundir.check_provenance(args.resume, saved, asked, rundir.saved_class_names(args.resume), read.classes)
