"""Every subcommand through every kind of user mistake: one line on stderr, exit 2, never a traceback.

The categories (issue 30): an input size too small for the network; an output path that cannot be written (a file
where a folder must be) or that names a folder; an unsupported format; a malformed YAML file; a number that means
nothing where it is given; ``--resume`` given a file; and a closed pipe, which ends the command quietly.
Each case names the words its one line must hold, so a message that says something else fails too.
"""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from _runs import cli, env
from _synthetic import CLASSES, make_dataset
from googlenet.cli import build_parser, main
from googlenet.factory import create_model, default_contract
from googlenet.weights import save as save_weights

KWARGS = {"width": 0.125, "batch_norm": True, "lrn": False}


class Env:
    """The files the cases point at: a checkpoint, data, a file and a folder in the way, a broken YAML."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = make_dataset(root / "data", train_per_class=1, test_per_class=1)
        self.image = next((self.data / "test" / CLASSES[0]).iterdir())
        torch.manual_seed(0)
        contract = default_contract("googlenet_small", 10, **KWARGS).replace(class_names=CLASSES, input_size=16)
        self.ckpt = save_weights(
            root / "c.safetensors", create_model("googlenet_small", 10, **KWARGS), contract.to_meta()
        )
        self.file = root / "afile"
        self.file.write_text("a file where a folder must be\n")
        self.folder = root / "adir"
        (self.folder / "inside").mkdir(parents=True)
        self.plot_folder = root / "chart.png"
        self.plot_folder.mkdir()
        self.bad_yaml = root / "bad.yaml"
        self.bad_yaml.write_text("results: [\n  - model: [unclosed\n")
        self.lone_xml = root / "lone.xml"  # an OpenVINO IR's graph without the .bin beside it
        self.lone_xml.write_text('<?xml version="1.0"?>\n<net name="Model0" version="11"></net>\n')


@pytest.fixture(scope="module")
def env_(tmp_path_factory: pytest.TempPathFactory) -> Env:
    return Env(tmp_path_factory.mktemp("user_errors"))


Case = Callable[[Env], list[str]]


def _size(e: Env) -> list[str]:
    return ["--input-size", "2"]


# (id, argv, words the one line holds)
CASES: list[tuple[str, Case, tuple[str, ...]]] = [
    # ---- an input size too small for the network
    (
        "eval/size",
        lambda e: ["eval", "--checkpoint", str(e.ckpt), "--data", str(e.data), "--split", "test", *_size(e)],
        ("too small", "4 px"),
    ),
    ("predict/size", lambda e: ["predict", "--checkpoint", str(e.ckpt), str(e.image), *_size(e)], ("too small",)),
    ("bench/size", lambda e: ["bench", "--checkpoint", str(e.ckpt), *_size(e), "--paths", "eager"], ("too small",)),
    ("export/size", lambda e: ["export", "-c", str(e.ckpt), "-o", str(e.root / "x.onnx"), *_size(e)], ("too small",)),
    ("summary/size", lambda e: ["summary", "googlenet", "--input-size", "8"], ("too small", "31 px")),
    ("compare/size", lambda e: ["compare", "googlenet", "--input-size", "8"], ("too small",)),
    # ---- an output path through a file
    ("card/out-file", lambda e: ["card", str(e.ckpt), "-o", str(e.file / "c.md")], ("afile is a file",)),
    (
        "import-weights/out-file",
        lambda e: ["import-weights", "--torchvision", "resnet18", "-o", str(e.file / "w")],
        ("afile is a file",),
    ),
    ("export/out-file", lambda e: ["export", "-c", str(e.ckpt), "-o", str(e.file / "x.onnx")], ("afile is a file",)),
    (
        "eval/json-file",
        lambda e: ["eval", "--checkpoint", str(e.ckpt), "--data", str(e.data), "--json", str(e.file / "r.json")],
        ("afile is a file",),
    ),
    (
        "eval/confusion-file",
        lambda e: ["eval", "--checkpoint", str(e.ckpt), "--data", str(e.data), "--confusion", str(e.file / "c.png")],
        ("afile is a file",),
    ),
    ("train/out-file", lambda e: ["train", "--recipe", "cifar10", "--out", str(e.file / "run")], ("afile is a file",)),
    ("demo/out-file", lambda e: ["demo", "--out", str(e.file / "run")], ("afile is a file",)),
    ("compare/plot-file", lambda e: ["compare", "googlenet", "--plot", str(e.file / "c.png")], ("afile is a file",)),
    (
        "predict/cam-file",
        lambda e: ["predict", "--checkpoint", str(e.ckpt), str(e.image), "--cam", str(e.file)],
        ("afile",),
    ),
    # ---- an output path naming a folder
    ("export/out-folder", lambda e: ["export", "-c", str(e.ckpt), "-o", str(e.folder)], ("is a folder",)),
    ("card/out-folder", lambda e: ["card", str(e.ckpt), "-o", str(e.folder)], ("is a folder",)),
    (
        "import-weights/out-folder",
        lambda e: ["import-weights", "--torchvision", "resnet18", "-o", str(e.folder)],
        ("is a folder",),
    ),
    (
        "eval/json-folder",
        lambda e: ["eval", "--checkpoint", str(e.ckpt), "--data", str(e.data), "--json", str(e.folder)],
        ("is a folder",),
    ),
    ("compare/plot-folder", lambda e: ["compare", "googlenet", "--plot", str(e.plot_folder)], ("is a folder",)),
    # ---- an unsupported format
    (
        "compare/plot-format",
        lambda e: ["compare", "googlenet", "--plot", str(e.root / "c.svgz")],
        (".png", ".svg", ".pdf"),
    ),
    (
        "export/format",
        lambda e: ["export", "-c", str(e.ckpt), "-o", str(e.root / "x.bin"), "--format", "caffe"],
        ("caffe",),
    ),
    (
        "export/openvino-name",
        lambda e: ["export", "-c", str(e.ckpt), "-o", str(e.root / "x.onnx"), "--format", "openvino"],
        ("name the output .xml",),
    ),
    (
        "predict/ir-without-bin",
        lambda e: ["predict", "--checkpoint", str(e.lone_xml), str(e.image)],
        ("lone.xml", "lone.bin are missing"),
    ),
    (
        "export/evaluate-alone",
        lambda e: ["export", "-c", str(e.ckpt), "-o", str(e.root / "x.onnx"), "--evaluate"],
        ("--int8",),
    ),
    # ---- a malformed YAML
    (
        "compare/results-yaml",
        lambda e: ["compare", "googlenet", "--plot", str(e.root / "c.png"), "--results", str(e.bad_yaml)],
        ("not valid YAML", "line"),
    ),
    (
        "compare/results-shape",
        lambda e: ["compare", "googlenet", "--plot", str(e.root / "c.png"), "--results", str(e.file)],
        ("'results' list",),
    ),
    ("train/recipe-yaml", lambda e: ["train", "--recipe", str(e.bad_yaml), "--print-config"], ("bad.yaml",)),
    # ---- --resume given a file
    ("train/resume-file", lambda e: ["train", "--resume", str(e.ckpt)], ("not a file",)),
    # ---- numbers that mean nothing where they are given
    ("summary/input-0", lambda e: ["summary", "googlenet", "--input-size", "0"], ("positive", "0")),
    ("summary/classes-neg", lambda e: ["summary", "googlenet", "--num-classes", "-5"], ("non-negative", "-5")),
    ("compare/batch-0", lambda e: ["compare", "googlenet", "--batch-size", "0"], ("positive",)),
    ("compare/repeats-0", lambda e: ["compare", "googlenet", "--repeats", "0"], ("positive",)),
    ("compare/threads-0", lambda e: ["compare", "googlenet", "--threads", "0"], ("positive",)),
    ("compare/input-neg", lambda e: ["compare", "googlenet", "--input-size", "-1"], ("positive",)),
    ("compare/classes-neg", lambda e: ["compare", "googlenet", "--num-classes", "-1"], ("non-negative",)),
    ("bench/warmup-neg", lambda e: ["bench", "googlenet", "--warmup", "-1"], ("non-negative",)),
    ("bench/repeats-0", lambda e: ["bench", "googlenet", "--repeats", "0"], ("positive",)),
    ("bench/batch-0", lambda e: ["bench", "googlenet", "--batch", "1,0"], ("positive",)),
    (
        "eval/chunk-0",
        lambda e: ["eval", "--checkpoint", str(e.ckpt), "--data", str(e.data), "--chunk-size", "0"],
        ("positive",),
    ),
    (
        "eval/workers-neg",
        lambda e: ["eval", "--checkpoint", str(e.ckpt), "--data", str(e.data), "--workers", "-1"],
        ("non-negative",),
    ),
    (
        "eval/crops-7",
        lambda e: ["eval", "--checkpoint", str(e.ckpt), "--data", str(e.data), "--crops", "7"],
        ("choice",),
    ),
    (
        "eval/class-map",
        lambda e: ["eval", "--checkpoint", str(e.ckpt), "--data", str(e.data), "--class-map", "x"],
        ("choice",),
    ),
    ("predict/topk-0", lambda e: ["predict", "--checkpoint", str(e.ckpt), str(e.image), "--topk", "0"], ("positive",)),
    (
        "export/opset-0",
        lambda e: ["export", "-c", str(e.ckpt), "-o", str(e.root / "x.onnx"), "--opset", "0"],
        ("positive",),
    ),
    (
        "export/tolerance-nan",
        lambda e: ["export", "-c", str(e.ckpt), "-o", str(e.root / "x.onnx"), "--tolerance", "nan"],
        ("finite",),
    ),
    (
        "export/tolerance-neg",
        lambda e: ["export", "-c", str(e.ckpt), "-o", str(e.root / "x.onnx"), "--tolerance", "-1"],
        ("finite",),
    ),
    (
        "import-weights/classes-0",
        lambda e: [
            "import-weights",
            "x.pth",
            "--model",
            "resnet18",
            "-o",
            str(e.root / "w.safetensors"),
            "--num-classes",
            "0",
        ],
        ("positive",),
    ),
    ("explain/channels-0", lambda e: ["explain", "receptive-field", "--channels", "0"], ("positive",)),
    ("explain/size-0", lambda e: ["explain", "receptive-field", "--size", "0"], ("positive",)),
    ("explain/stack-0", lambda e: ["explain", "receptive-field", "--max-stack", "0"], ("positive",)),
    ("attribute/out-file", lambda e: ["attribute", str(e.image), "-o", str(e.file / "a.png")], ("afile is a file",)),
    ("attribute/top-0", lambda e: ["attribute", str(e.image), "--top", "0"], ("positive",)),
    ("dream/out-folder", lambda e: ["dream", str(e.image), "-o", str(e.folder)], ("is a folder",)),
    ("dream/octave-scale-0", lambda e: ["dream", str(e.image), "--octave-scale", "0"], ("finite number > 0",)),
    (
        "visualize/out-file",
        lambda e: ["visualize", "--model", "googlenet", "-o", str(e.file / "v.png")],
        ("afile is a file",),
    ),
    ("visualize/lr-nan", lambda e: ["visualize", "--model", "googlenet", "--lr", "nan"], ("finite",)),
    ("visualize/tv-neg", lambda e: ["visualize", "--model", "googlenet", "--tv", "-1"], ("finite",)),
    ("hub/dir-file", lambda e: ["hub", "save", str(e.ckpt), str(e.file / "hubdir")], ("afile",)),
    ("detect/epochs-0", lambda e: ["detect", "train", "--out", str(e.root / "d"), "--epochs", "0"], ("positive",)),
    (
        "detect/score-nan",
        lambda e: ["detect", "predict", str(e.image), "--checkpoint", str(e.ckpt), "--score-threshold", "nan"],
        ("finite",),
    ),
    ("models/family", lambda e: ["models", "--family", "nosuch"], ("'nosuch'", "googlenet")),
    ("train/epochs-0", lambda e: ["train", "--recipe", "cifar10", "--epochs", "0"], ("positive",)),
    ("serve/port-neg", lambda e: ["serve", "--checkpoint", str(e.ckpt), "--port", "-1"], ("non-negative",)),
    ("serve/batch-0", lambda e: ["serve", "--checkpoint", str(e.ckpt), "--max-batch", "0"], ("positive",)),
]


@pytest.mark.parametrize(("argv", "words"), [pytest.param(c, w, id=i) for i, c, w in CASES])
def test_a_mistake_is_one_line_and_exit_2(
    env_: Env, argv: Case, words: tuple[str, ...], capsys: pytest.CaptureFixture
) -> None:
    args = argv(env_)
    code = main(args)  # argparse's refusals too: returned, not raised
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (args, err)
    assert "Traceback" not in err and len(lines) == 1, err
    assert lines[0].startswith(f"googlenet {args[0]}") and ": error: " in lines[0], lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])


def test_every_subcommand_is_walked() -> None:
    """A new subcommand must join the table."""
    walked = {i.split("/")[0] for i, _, _ in CASES}
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) - walked == set(), set(sub.choices) - walked


def test_a_closed_pipe_ends_quietly() -> None:
    """``googlenet summary googlenet | head -1``: the reader leaves, the command stops without a traceback."""
    proc = subprocess.Popen(
        cli("summary", "googlenet"), env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    proc.stdout.close()  # before the command writes its first line (importing torch takes far longer)
    _, err = proc.communicate(timeout=120)
    assert err == "" and proc.returncode == 141, err
