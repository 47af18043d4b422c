"""``googlenet bench``: inference speed of every back end, side by side, against torchvision's eager model."""

from __future__ import annotations

import argparse
import os

from ..deploy.bench import BenchReport, default_paths, format_report, run_bench, torchvision_reference
from ..deploy.loading import resolve_model
from ..deploy.opprofile import format_profile, op_profile
from ..errors import UserError
from ..factory import create_model
from ..weights import ModelFile, model_format, open_model
from ._common import add_model_args, check_contract_size, parse_model_args, print_json, stdout_to_stderr
from .argtypes import non_negative_int, positive_int


def _ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="time inference back ends side by side (images/s, latency, GFLOP/s, ratio to torchvision)",
        description="Times each back end round-robin in one process (warm-up, then --repeats timed batches; "
        "median with min-max spread) and prints the ratio to torchvision's eager model of the same "
        "architecture when one exists, else to the model's own eager path.",
    )
    p.add_argument("model", nargs="?", help="registered model name (or use --checkpoint)")
    p.add_argument(
        "--checkpoint",
        "-c",
        help="a model file instead of a random-weight model: a .safetensors checkpoint (timed on every --paths back "
        "end), or an exported .onnx, TorchScript or OpenVINO .xml file (timed on its own runtime)",
    )
    add_model_args(p)
    p.add_argument("--batch", type=_ints, default=[1, 16], help="batch sizes, comma-separated (default 1,16)")
    p.add_argument(
        "--input-size", type=positive_int, default=None, help="image side (default: the checkpoint's or the model's)"
    )
    p.add_argument(
        "--paths", default="auto", help="back ends, comma-separated (auto: every one this machine runs, but compile)"
    )
    p.add_argument(
        "--reference",
        default="auto",
        choices=("auto", "none", "self"),
        help="ratios against torchvision's twin when there is one (auto), or the model's own eager (none, self)",
    )
    p.add_argument(
        "--reference-paths",
        default="auto",
        help="back ends timed for the reference (auto: eager, ONNX Runtime, OpenVINO and its NNCF int8)",
    )
    p.add_argument("--threads", type=positive_int, default=min(2, os.cpu_count() or 1), help="intra-op threads")
    p.add_argument("--repeats", type=positive_int, default=10, help="timed batches per back end (default 10)")
    p.add_argument("--warmup", type=non_negative_int, default=2, help="untimed batches per back end (default 2)")
    p.add_argument(
        "--fuse-1x1",
        action="store_true",
        help="also time each --paths back end on the model with every Inception module's three 1x1 convolutions on "
        "its input fused into one (rows PATH+fuse1x1), and print the fused/unfused ratio per path",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--profile", action="store_true", help="also print per-operator time of each path (largest batch)")
    p.set_defaults(func=run)


def _exported(checkpoint: str | None, model: str | None, model_args: dict) -> ModelFile | None:
    """The exported file ``checkpoint`` names (ONNX, TorchScript, OpenVINO IR), or None for a checkpoint or a model
    name."""
    if not checkpoint or model or model_format(checkpoint) == "safetensors":
        return None
    mf = open_model(checkpoint)
    if model_args:
        raise UserError(f"{checkpoint} is an exported graph: --set options cannot change it")
    return mf


def run(args: argparse.Namespace) -> int:
    # with --json, stdout holds the report alone; notes (threads, options, profiles) go to stderr
    with stdout_to_stderr(args.json):
        report = _bench(args)
    if args.json:
        print_json(report.to_dict())
    return 0


def _bench(args: argparse.Namespace) -> BenchReport:
    model_args = parse_model_args(args.model_args)
    exported = _exported(args.checkpoint, args.model, model_args)
    if exported is not None and args.profile:
        raise UserError(f"--profile times PyTorch operators: {args.checkpoint} is an exported graph")
    if exported is not None:
        contract = exported.feed_contract
        model = create_model(contract.model, contract.num_classes, **dict(contract.model_kwargs))  # for MACs only
    else:
        model, contract = resolve_model(args.checkpoint, args.model, model_args)
    if args.input_size:
        contract = contract.replace(input_size=args.input_size)
    check_contract_size(contract)
    name = contract.model + ("*" if model_args else "")
    if model_args:
        print(f"{name}: {contract.model} with " + ", ".join(f"{k}={v}" for k, v in model_args.items()))
    reference = None
    if args.reference == "auto":
        try:
            reference = torchvision_reference(contract.model, dict(contract.model_kwargs), contract.num_classes)
        except KeyError:
            reference = None
    print(
        f"threads: torch.set_num_threads({args.threads}), onnxruntime intra_op_num_threads={args.threads}", flush=True
    )
    paths = default_paths(True) if args.paths == "auto" else [p.strip() for p in args.paths.split(",") if p.strip()]
    peer_paths = args.reference_paths.split(",") if args.reference_paths != "auto" else default_paths(False)
    report = run_bench(
        model,
        name,
        contract,
        batches=args.batch,
        paths=paths,
        reference=reference,
        reference_paths=[p.strip() for p in peer_paths if p.strip()],
        threads=args.threads,
        warmup=args.warmup,
        repeats=args.repeats,
        file=(f"{exported.format} file", exported.forward(threads=args.threads)) if exported is not None else None,
        fuse_1x1=args.fuse_1x1,
    )
    if not args.json:
        print(format_report(report))
    if args.profile:
        for path in dict.fromkeys(["eager", *paths]):
            if path in ("eager", "channels_last", "compile", "onnxruntime"):
                times = op_profile(model, contract, path, max(args.batch), args.threads)
                print("\n" + format_profile(times, f"{name} {path}, batch {max(args.batch)}"))
    return report
