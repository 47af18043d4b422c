"""``googlenet train``: train a registered model with a shipped recipe, any field overridable."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

import torch
import yaml

from ..config import TrainConfig, dump_yaml, list_recipes, load_recipe, merge, parse_overrides
from ..config.docs import schema_markdown
from ..config.legacy import migrate
from ..config.overrides import parse_pairs
from ..config.validate import leaves
from ..data.datasets import build_data
from ..detect.recipe import is_detection_recipe
from ..detect.recipe import load_recipe as detection_recipe
from ..detect.recipe import recipe_names as detection_recipes
from ..errors import UserError
from ..factory import create_model
from ..train import rundir
from ..train.distributed import is_main_process
from ..train.loop import train
from ..train.speed import loader_speed
from ..train.state import load_state
from . import detect as detect_cli
from .argtypes import positive_int

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
  googlenet train --recipe cifar10 --out runs/cifar10 --overwrite   # replace the run there with a new one
  googlenet train --recipe pennfudan-fasterrcnn --out runs/det init_weights=runs/in128/best.safetensors  # detection
  torchrun --nproc_per_node 2 -m googlenet train --recipe cifar10   # DDP"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a model from scratch on real images (recipes: "
        + ", ".join(list_recipes() + detection_recipes())
        + ")",
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
        if args.overwrite:
            raise UserError("--resume continues the run in its folder; --overwrite starts a new one: give one")
        rundir.check_resume_dir(args.resume)
        state_config = load_state(args.resume).get("config")
        if not isinstance(state_config, dict):
            raise UserError(f"--resume {args.resume}: {rundir.STATE} holds no run config, so it cannot be resumed")
        base, _ = migrate(state_config)  # a run saved before the groups: its flat config
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
    cfg = load_recipe(args.recipe, over)
    if args.model and "kwargs" not in parse_overrides(args.overrides).get("model", {}):
        check_recipe_options(cfg.model.name, dict(cfg.model.kwargs), args.recipe)
    return cfg


def check_recipe_options(model: str, kwargs: dict[str, Any], recipe: str) -> None:
    """``--model`` swapped into a recipe written for another model: its ``model.kwargs`` must be options of
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
        f"--model {model}: recipe {recipe!r} sets model.kwargs {', '.join(f'{k}={kwargs[k]!r}' for k in bad)}, "
        f"which {model} does not take; add model.kwargs={{}} (or options {model} takes: model.kwargs.KEY=VALUE)"
    )


def run(args: argparse.Namespace) -> int:
    if args.print_schema:
        print(schema_markdown(), end="")
        return 0
    if is_detection(args):
        return train_detection(args)
    cfg = config_from_args(args)
    if args.print_config:
        print(dump_yaml(cfg.to_dict()), end="")
        return 0
    if args.loader_only:
        d = cfg.data
        print(f"{d.dataset} ({d.augment}, {d.workers} workers): {loader_speed(cfg).rate:.0f} images/s (loader only)")
        return 0
    prepare_run_dir(args, cfg)
    summary = train(cfg, resume=args.resume)
    final = summary["final"]
    if final and is_main_process():  # under torchrun, rank 0 reports (the others never saw the best weights)
        print(f"final val accuracy: {100 * final['val_acc']:.2f}% (best {100 * summary['best_acc']:.2f}%)")
        print(f"checkpoint: {summary['best']}")
        print(f"curves: {summary['curves']}")
    return 0


def is_detection(args: argparse.Namespace) -> bool:
    """A detection recipe (``pennfudan-fasterrcnn``, a YAML saying ``task: detect``) or a detection run to resume."""
    if args.recipe:
        return is_detection_recipe(args.recipe)
    state = Path(args.resume or "", rundir.STATE)
    return bool(args.resume) and state.is_file() and load_state(state).get("task") == "detect"


def train_detection(args: argparse.Namespace) -> int:
    """``googlenet train`` with a detection recipe: recipe fields as FIELD=VALUE (``lr=0.01 amp=bf16
    model_kwargs.min_size=400``), the run in :mod:`googlenet.detect.run`."""
    asked = [f for f in ("download", "strict_data", "compile", "loader_only") if getattr(args, f)]
    if asked:
        raise UserError(
            f"--{asked[0].replace('_', '-')} is a classification option; a detection recipe does not take it"
        )
    flags = {k: v for k, v in {"epochs": args.epochs, "model": args.model}.items() if v is not None}
    overrides = {**parse_pairs(args.overrides), **flags}
    if args.print_config:
        recipe = detection_recipe(args.recipe, **overrides)
        print(yaml.safe_dump(dataclasses.asdict(recipe), sort_keys=False), end="")
        return 0
    return detect_cli.train_run(args.recipe, args.out, args.data, overrides, args.resume, args.overwrite)


def prepare_run_dir(args: argparse.Namespace, cfg: TrainConfig) -> None:
    """A new run never replaces one by accident (:mod:`googlenet.train.rundir`); a resume reads the run's data."""
    out = cfg.checkpoint.out
    if not args.resume:
        rundir.check_writable_folder(out)
        if is_main_process() or not args.overwrite:  # one process of a launch clears the folder
            rundir.check_new_run(out, args.overwrite)
        return
    base, _ = migrate(load_state(args.resume)["config"])
    saved = {"dataset": base.get("data", {}).get("dataset"), "data": base.get("data", {}).get("root")}
    asked = {"dataset": cfg.data.dataset, "data": cfg.data.root}
    read = build_data(cfg.data.dataset, cfg.data.root, download=cfg.data.download)
    rundir.check_provenance(args.resume, saved, asked, rundir.saved_class_names(args.resume), read.classes)
