"""Evaluation: chunked streaming, ensembles against an independent pipeline, back ends, and a real Imagenette run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from _eval_kit import IMAGENETTE, make_checkpoint, reference_probs
from googlenet.cli import main
from googlenet.contract import ModelContract
from googlenet.errors import UserError
from googlenet.eval.evaluate import EvalOptions, ensemble, evaluate, run_pass, target_map
from googlenet.eval.members import load_members
from googlenet.eval.stream import stream_probabilities
from googlenet.runtime.backends import BACKENDS, UnknownBackendError, make_backend, register_backend
from googlenet.weights import load_checkpoint

IDENTITY = ModelContract("identity", num_classes=3)  # a contract for a bare module the tests wrap


class Recorder(nn.Module):
    """A tiny float64 conv net that records the batch sizes it is given."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5))
        self.net.double()
        self.batches: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.batches.append(len(x))
        return self.net(x) * 20  # sharpen so the softmax is far from uniform


def views_of(n_images: int, n_views: int, seed: int = 1) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(n_views, 3, 8, 8, generator=g, dtype=torch.float64) for _ in range(n_images)]


@pytest.mark.parametrize("chunk", [7, 144, 1000])
def test_chunked_144_equals_unchunked(chunk: int) -> None:
    model = Recorder()
    views = views_of(3, 144)
    with torch.no_grad():
        expected = [model.net(v * 1.0).mul(20).softmax(1).mean(0) for v in views]  # each image in one batch
    got = list(stream_probabilities(model, enumerate(views), chunk_size=chunk))
    assert [k for k, _ in got] == [0, 1, 2]
    for (_, p), e in zip(got, expected, strict=True):
        torch.testing.assert_close(p.double(), e, rtol=0, atol=1e-6)
    assert max(model.batches) <= chunk and sum(model.batches) == 3 * 144


def test_stream_bounded_lookahead_and_max() -> None:
    model = Recorder()
    views = views_of(5, 144)
    pulled: list[int] = []

    def items():
        for i, v in enumerate(views):
            pulled.append(i)
            yield i, v

    stream = stream_probabilities(model, items(), chunk_size=50, reduce="max")
    key, p = next(stream)
    assert key == 0 and len(pulled) <= 2  # one image's views and one chunk in memory, not the whole data set
    with torch.no_grad():
        m = model.net(views[0]).mul(20).softmax(1).amax(0)
    torch.testing.assert_close(p.double(), m / m.sum(), rtol=0, atol=1e-6)
    assert [k for k, _ in stream] == [1, 2, 3, 4]


def test_stream_mixed_view_counts_keep_order() -> None:
    model = Recorder()
    views = [views_of(1, n, seed=n)[0] for n in (1, 10, 3, 144, 1)]
    got = list(stream_probabilities(model, zip("abcde", views, strict=True), chunk_size=4))
    assert [k for k, _ in got] == list("abcde")
    with torch.no_grad():
        torch.testing.assert_close(
            got[3][1].double(), model.net(views[3]).mul(20).softmax(1).mean(0), atol=1e-6, rtol=0
        )


def test_distinct_144_gives_the_same_probabilities() -> None:
    from googlenet.data.crops import paper_144_crops

    model = Recorder()
    img = torch.rand(3, 40, 40, dtype=torch.float64)
    full, distinct = paper_144_crops(img, 32), paper_144_crops(img, 32, distinct=True)
    assert len(distinct) == 48
    for reduce in ("mean", "max"):
        (_, a), (_, b) = (next(stream_probabilities(model, [(0, v)], reduce=reduce)) for v in (full, distinct))
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_target_map() -> None:
    assert target_map(["a", "b"], ["a", "b"]) is None
    assert target_map(["a", "b", "c"], ["c", "a", "b"]) == [1, 2, 0]
    assert target_map(["b", "d"], ["a", "b", "c", "d"]) == [1, 3]  # a folder with some of the classes
    with pytest.raises(UserError, match="3 classes"):
        target_map(["a", "b", "c"], ["a", "b"])
    # folders named otherwise: refused naming them (they were once matched by order, with a Python warning)
    with pytest.raises(UserError, match=r"'0_x', '1_y' are not among.*--class-map by-position"):
        target_map(["0_x", "1_y"], ["x", "y"])
    assert target_map(["0_x", "1_y"], ["x", "y"], class_map="by-position") is None  # asked for: by order
    with pytest.raises(UserError, match="3 classes, the checkpoint 2"):
        target_map(["a", "b", "c"], ["a", "b"], class_map="by-position")


@pytest.fixture(scope="module")
def tiny_val(imagenette128_root: Path, tmp_path_factory) -> tuple[Path, list[Path], list[int]]:
    """One real val image per Imagenette class (symlinked), plus one truncated JPEG the evaluation must skip."""
    root = tmp_path_factory.mktemp("tiny") / "val"
    files, targets = [], []
    for t, wnid in enumerate(IMAGENETTE):
        src = sorted((imagenette128_root / "val" / wnid).iterdir())[0]
        (root / wnid).mkdir(parents=True)
        (root / wnid / src.name).symlink_to(src)
        files.append(root / wnid / src.name)
        targets.append(t)
    (root / IMAGENETTE[0] / "zz_truncated.jpg").write_bytes(files[1].read_bytes()[:500])
    return root, files, targets


@pytest.fixture(scope="module")
def two_checkpoints(tmp_path_factory) -> list[Path]:
    """Two different architectures (width and input size) predicting the same 10 classes; the first written in
    the flat metadata of checkpoints older than the contract."""
    d = tmp_path_factory.mktemp("ckpt")
    return [
        make_checkpoint(d / "a.safetensors", seed=1, legacy=True),
        make_checkpoint(d / "b.safetensors", 2, 0.125, 40),
    ]


@pytest.fixture(scope="module")
def generated_val(tmp_path_factory) -> tuple[Path, list[Path], list[int]]:
    """``tiny_val`` made here, for a clone without ``../shared``: one noise JPEG per class, each of its own size
    and aspect (so the resize and centre crop matter, and no image is its own mirror), plus a truncated one."""
    from PIL import Image

    root = tmp_path_factory.mktemp("generated") / "val"
    g = torch.Generator().manual_seed(7)
    files, targets = [], []
    for t, wnid in enumerate(IMAGENETTE):
        h, w = 96 + 8 * t, 150 - 5 * t
        ramp = torch.linspace(0, 1, w).expand(h, w)  # bright on the right: the mirror sees a different image
        colour = torch.rand(3, generator=g)
        noise = torch.rand(h, w, 3, generator=g) * 0.3
        pixels = ((ramp[..., None] * colour + noise).clamp(0, 1) * 255).to(torch.uint8).numpy()
        (root / wnid).mkdir(parents=True)
        files.append(root / wnid / f"img{t}.jpg")
        Image.fromarray(pixels).save(files[-1], quality=90)
        targets.append(t)
    (root / IMAGENETTE[0] / "zz_truncated.jpg").write_bytes(files[1].read_bytes()[:500])
    return root, files, targets


def test_centre_and_flip_passes_match_independent_pipeline_on_generated_images(generated_val, tmp_path) -> None:
    """The eval pass with one view and with ``--crops 2`` (the crop and its mirror) against torchvision v2 and a
    float64 model, on images the test makes: runs in a fresh clone, beside the real-data ensemble test below."""
    root, files, targets = generated_val
    checkpoint = make_checkpoint(tmp_path / "sharp.safetensors", seed=3, fc_scale=10.0)
    member = load_members([checkpoint])[0]
    opts = EvalOptions(progress=False)
    single = run_pass(member, root, 1, opts)
    assert single.targets.tolist() == targets and len(single.skipped) == 1 and "truncated" in single.skipped[0][1]
    ref = reference_probs(checkpoint, files).float()
    torch.testing.assert_close(single.probs, ref, rtol=0, atol=2e-4)
    flip_ref = reference_probs(checkpoint, files, flip=True).float()
    assert (flip_ref - ref).abs().max() > 25 * 2e-4  # the mirror changes the answer beyond the tolerance below
    torch.testing.assert_close(run_pass(member, root, 2, opts).probs, flip_ref, rtol=0, atol=2e-4)


def test_ensemble_matches_independent_pipeline(tiny_val, two_checkpoints) -> None:
    root, files, targets = tiny_val
    members = load_members(two_checkpoints)
    opts = EvalOptions(progress=False)
    results = [run_pass(m, root, 1, opts) for m in members]
    refs = [reference_probs(c, files).float() for c in two_checkpoints]
    for r, ref in zip(results, refs, strict=True):
        assert r.targets.tolist() == targets and len(r.skipped) == 1 and "truncated" in r.skipped[0][1]
        torch.testing.assert_close(r.probs, ref, rtol=0, atol=2e-4)
    assert not torch.allclose(refs[0], refs[1], atol=1e-3)  # the models differ, so averaging is tested
    flipped = run_pass(members[0], root, 2, opts).probs  # test-time flip: the crop and its mirror
    flip_ref = reference_probs(two_checkpoints[0], files, flip=True).float()
    torch.testing.assert_close(flipped, flip_ref, rtol=0, atol=2e-4)
    mean = (refs[0] + refs[1]) / 2
    torch.testing.assert_close(ensemble(results), mean, rtol=0, atol=2e-4)

    rows = evaluate(members, root, [1], opts)
    assert [len(r["models"]) for r in rows] == [1, 1, 2]
    t = torch.tensor(targets)
    expected_loss = -mean[torch.arange(10), t].double().log().mean().item()
    assert math.isclose(rows[2]["loss"], expected_loss, rel_tol=1e-4)
    assert rows[2]["n"] == 10 and len(rows[2]["skipped"]) == 1
    assert rows[2]["top1"] == (mean.argmax(1) == t).double().mean().item()


def test_channels_last_backend_matches_eager(two_checkpoints) -> None:
    model, contract, _ = load_checkpoint(two_checkpoints[1])
    x = torch.randn(2, 3, 40, 40)
    with torch.no_grad():
        eager = make_backend("eager", model, contract)(x)
        cl = make_backend("channels_last", model, contract)(x)
    torch.testing.assert_close(cl, eager, rtol=1e-4, atol=1e-5)


def test_backend_registry_hook() -> None:
    @register_backend("test_double")
    def _double(model, contract, device, **_):
        return lambda x: 2 * model(x)

    try:
        out = make_backend("test_double", nn.Identity(), IDENTITY)(torch.ones(1, 3))
        assert out.tolist() == [[2.0, 2.0, 2.0]]
    finally:
        del BACKENDS["test_double"]
    with pytest.raises(UnknownBackendError, match="unknown backend 'no_such_backend'; available: eager,"):
        make_backend("no_such_backend", nn.Identity(), IDENTITY)
    assert issubclass(UnknownBackendError, UserError)


def test_eval_cli_table3_on_imagenette(imagenette128_root: Path, two_checkpoints, tmp_path, capsys) -> None:
    out = tmp_path / "eval.json"
    argv = ["eval", "--checkpoint", str(two_checkpoints[0]), "--data", str(imagenette128_root), "--split", "val"]
    argv += ["--limit", "3", "--table3", "--json", str(out), "--no-progress"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    report = json.loads(out.read_text())
    rows = report["rows"]
    assert [r["crops"] for r in rows] == [1, 10, 144]
    for r in rows:
        assert r["n"] == 3 and r["skipped"] == []  # one image from each of the first 3 classes
        assert [pc["count"] for pc in r["per_class"].values()] == [1, 1, 1] + [0] * 7
        assert 0 <= r["top1"] <= r["top5"] <= 1 and sum(map(sum, r["confusion"])) == 3
    assert text.count("| 1: ") == 3 and "top-5 error" in text
    assert out.with_suffix(".confusion.png").stat().st_size > 1000


def test_eval_resize_follows_training_crop_fraction(two_checkpoints) -> None:
    def resize(meta: dict) -> int:
        return ModelContract.from_meta({"model": "googlenet", **meta}).resize_size

    assert resize({"config": {"crop_fraction": 0.875}, "input_size": 112}) == 128  # 112 / 0.875
    assert resize({"config": {"crop_fraction": 1.0}, "input_size": 56}) == 56
    assert resize({"crop_fraction": 0.875, "input_size": 224}) == 256  # the contract's own field
    assert resize({"input_size": 112}) == 112  # no crop fraction saved: the contract's default, 1.0
    # both checkpoint formats give the evaluation the same rule: 32 / 0.875 -> 37 and 40 / 0.875 -> 46
    assert [m.contract.resize_size for m in load_members(two_checkpoints)] == [37, 46]
    assert load_members(two_checkpoints[:1], input_size=64)[0].contract.resize_size == 73  # follows --input-size


def test_onnxruntime_backend_matches_eager(two_checkpoints) -> None:
    pytest.importorskip("onnxruntime")
    from googlenet.runtime.backends import available_backends

    assert "onnxruntime" in available_backends()
    model, contract, _ = load_checkpoint(two_checkpoints[1])
    assert contract.input_size == 40
    x = torch.randn(3, 3, 40, 40)
    with torch.no_grad():
        eager = make_backend("eager", model, contract)(x)
    ort = make_backend("onnxruntime", model, contract)(x)
    assert (ort - eager).abs().max().item() <= 1e-4


def test_unnamed_checkpoint_with_more_folders_than_classes() -> None:
    assert target_map(["a", "b"], None, num_classes=10) is None  # fewer folders: taken in order
    with pytest.raises(UserError, match="the data has 11 classes, the checkpoint 10"):
        target_map([str(i) for i in range(11)], None, num_classes=10)


@pytest.mark.parametrize("device", ["bogus", "cuda:7"])
def test_bad_device_is_one_line(device: str) -> None:
    with pytest.raises(UserError, match="device"):
        make_backend("eager", nn.Identity(), IDENTITY, device=device)


@pytest.mark.parametrize(
    "option", [["--workers", "-1"], ["--input-size", "0"], ["--resize", "0"], ["--chunk-size", "0"]]
)
def test_eval_numeric_options_are_checked(option: list[str], capsys) -> None:
    assert main(["eval", "--checkpoint", "c.safetensors", "--data", "x", *option]) == 2
    assert option[0] in capsys.readouterr().err


def test_eval_json_into_a_folder_fails_before_evaluating(two_checkpoints, tmp_path, capsys) -> None:
    argv = ["eval", "--checkpoint", str(two_checkpoints[0]), "--data", "nowhere-at-all", "--json", str(tmp_path)]
    assert main(argv) == 2  # the folder is refused first, before --data is even looked at
    assert "is a folder" in capsys.readouterr().err
