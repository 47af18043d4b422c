"""Export: ONNX / TorchScript parity with eager on real images, metadata round trip, clear errors."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from _families import REPRESENTATIVES, build
from _families import randomize_bn as randomize_bn
from googlenet.cli import main
from googlenet.contract import CAFFE_MEAN_BGR, IMAGENET_MEAN, IMAGENET_STD, ModelContract
from googlenet.deploy.export import ExportError, ParityError, export_model
from googlenet.deploy.parity import check_parity
from googlenet.factory import create_model, default_contract
from googlenet.runtime.fuse import fold_batch_norm
from googlenet.runtime.images import sample_batch
from googlenet.runtime.lrn import ConvLRN
from googlenet.weights import ModelFileError, open_model

SIZE = 80  # odd feature maps (40 -> ceil 20 ...): ceil-mode pools differ from floor mode here


def contract(model: str = "googlenet", num_classes: int = 1000, **fields) -> ModelContract:
    """A contract for ``SIZE`` px inputs (crop fraction 1: the shorter side resized to ``SIZE``, centre crop)."""
    return ModelContract(model, num_classes, input_size=SIZE, **fields)


@pytest.fixture(scope="module")
def images(imagenette128_root) -> torch.Tensor:
    """Six real Imagenette val images in [0, 1], 80 px."""
    return sample_batch(imagenette128_root, 6, contract(), normalized=False)


def normalize(x: torch.Tensor) -> torch.Tensor:
    return (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def paper_with_strong_lrn() -> nn.Module:
    """Paper GoogLeNet with alpha=1 LRN: with alpha=1e-4 and random weights LRN changes logits by < 1e-4."""
    torch.manual_seed(0)
    model = create_model("googlenet", num_classes=10, width=0.5, aux_logits=True).eval()
    model.lrn1 = nn.LocalResponseNorm(5, alpha=1.0, beta=0.75, k=1.0)
    model.lrn2 = nn.LocalResponseNorm(5, alpha=1.0, beta=0.75, k=1.0)
    return model


def test_onnx_paper_googlenet_lrn_and_ceil_pools(images, tmp_path):
    model = paper_with_strong_lrn()
    with torch.no_grad():  # the checks below can fail: LRN and ceil mode change the logits a lot
        no_lrn = create_model("googlenet", num_classes=10, width=0.5, aux_logits=True).eval()
        no_lrn.load_state_dict(model.state_dict())
        assert (no_lrn(normalize(images)) - model(normalize(images))).abs().max() > 1e-2
    out = tmp_path / "g.onnx"
    c = contract(num_classes=10, class_names=tuple(f"c{i}" for i in range(10)))
    result = export_model(model, out, "onnx", images=images, contract=c, dynamic_batch=True)
    assert result.max_abs_diff <= 1e-4 and result.images == 6
    proto = onnx.load(str(out))
    pools = [n for n in proto.graph.node if n.op_type == "MaxPool"]
    ceil = [a.i for n in pools for a in n.attribute if a.name == "ceil_mode"]
    assert len(pools) == 4 + 9 and ceil.count(1) == len(pools)  # 4 stride-2 pools + one per Inception branch
    assert not any("aux" in init.name for init in proto.graph.initializer)  # inference graph only
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("LRN") == 2 and "Pow" not in ops  # one ONNX LRN node each, not a decomposition
    # an independent run: ONNX Runtime on a batch size the export never saw
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": normalize(images[:5]).numpy()})[0]
    with torch.no_grad():
        np.testing.assert_allclose(got, model(normalize(images[:5])).numpy(), atol=1e-4, rtol=0)


def test_onnx_bn_form_matches_torchvision_with_baked_normalization(images, tmp_path):
    model = randomize_bn(create_model("googlenet_bn", num_classes=1000, aux_logits=False))
    tv = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False, transform_input=False)
    tv.load_state_dict(model.state_dict())  # identical keys: the reference is torchvision's own forward
    out = tmp_path / "bn.onnx"
    c = contract(mean=IMAGENET_MEAN, std=IMAGENET_STD, class_names=("x",) * 1000)
    result = export_model(
        model, out, "onnx", images=images, contract=c, batch_size=2, bake_normalization=True, dynamo=False
    )
    assert result.metadata["normalization"] == "baked"
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == [2, 3, SIZE, SIZE]  # static batch as asked
    got = session.run(None, {"input": images[:2].numpy()})[0]  # raw [0, 1] pixels in
    with torch.no_grad():
        np.testing.assert_allclose(got, tv.eval()(normalize(images[:2])).numpy(), atol=1e-4, rtol=0)
    assert not any(n.op_type == "BatchNormalization" for n in onnx.load(str(out)).graph.node)  # folded


def test_onnx_classic_torchvision_resnet18_and_metadata(images, tmp_path):
    model = randomize_bn(torchvision.models.resnet18(weights=None, num_classes=5))
    names = ["tench", "springer", "cassette", "chainsaw", "church"]
    c = contract("resnet18", 5, class_names=tuple(names), mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    out = tmp_path / "r18.onnx"
    result = export_model(model, out, "onnx", images=images, contract=c, dynamic_batch=True, dynamo=False)
    assert result.max_abs_diff <= 1e-4
    props = {p.key: p.value for p in onnx.load(str(out)).metadata_props}  # read with onnx, not our reader
    assert json.loads(props["class_names"]) == names
    assert json.loads(props["mean"]) == [0.5, 0.5, 0.5] and props["input_size"] == str(SIZE)
    assert open_model(out).meta["class_names"] == names
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = (images[:3] - 0.5) / 0.25  # the checkpoint's own mean/std, not ImageNet's
    with torch.no_grad():
        np.testing.assert_allclose(session.run(None, {"input": x.numpy()})[0], model(x).numpy(), atol=1e-4, rtol=0)


def test_torchscript_export_and_metadata(images, tmp_path):
    torch.manual_seed(0)
    model = randomize_bn(create_model("googlenet_bn", num_classes=10, width=0.5))
    out = tmp_path / "g.pt"
    c = contract("googlenet_bn", 10, class_names=tuple(str(i) for i in range(10)), model_kwargs={"width": 0.5})
    result = export_model(model, out, "torchscript", images=images, contract=c)
    assert result.max_abs_diff <= 1e-4
    with zipfile.ZipFile(out) as z:  # the extra file is a plain JSON member of the archive
        stored = json.loads(z.read(next(n for n in z.namelist() if n.endswith("extra/googlenet.json"))))
    assert stored["class_names"] == list(c.class_names) and stored["input_size"] == SIZE
    assert open_model(out).meta == stored
    assert open_model(out).contract == c  # the file gives its contract back


def test_fold_matches_float64_reference():
    torch.manual_seed(0)
    model = randomize_bn(create_model("googlenet_bn", num_classes=10, width=0.25, aux_logits=False))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = model.double()(x.double())
        model.float()
        folded = fold_batch_norm(model)
        assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
        assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) > 0  # the original is untouched
        torch.testing.assert_close(folded(x).double(), expected, atol=1e-5, rtol=1e-5)


def test_parity_failure_is_loud():
    model = nn.Conv2d(3, 2, 1).eval()
    x = torch.randn(2, 3, 4, 4)
    with pytest.raises(ParityError, match="max abs difference"):
        check_parity(model, lambda t: model(t) + 1e-3, x, tolerance=1e-4)
    with pytest.raises(ParityError):
        check_parity(model, lambda t: model(t) * float("nan"), x)


def test_bad_format_and_missing_checkpoint_are_one_line_errors(tmp_path, capsys):
    assert main(["export", "--model", "googlenet", "--format", "pdf", "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("googlenet export: error:") and "pdf" in err and "\n" not in err
    assert main(["export", "--checkpoint", str(tmp_path / "none.safetensors"), "-o", str(tmp_path / "x")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    with pytest.raises(ModelFileError, match="checkpoint not found"):
        open_model(tmp_path / "absent.onnx")


@pytest.mark.parametrize("beta", [0.75, 0.5])
def test_conv_lrn_matches_torch_lrn_in_float64(beta):
    x = torch.randn(2, 16, 9, 9, dtype=torch.float64) * 3
    fast = ConvLRN(16, 5, alpha=1.0, beta=beta, k=2.0).double()
    expected = F.local_response_norm(x, 5, alpha=1.0, beta=beta, k=2.0)
    torch.testing.assert_close(fast(x), expected, rtol=1e-7, atol=0)  # the band holds alpha/size as float32
    # hand check of one element: channel 0 sees channels 0..2 (the window is clipped at the edge)
    s = (x[0, 0:3, 4, 4] ** 2).sum()
    assert fast(x)[0, 0, 4, 4].item() == pytest.approx((x[0, 0, 4, 4] / (2.0 + s / 5) ** beta).item(), rel=1e-7)


def test_parity_is_relative_for_tiny_logits():
    # a randomly initialised batch-norm GoogLeNet gives logits near 1e-12: all zeros is a broken export,
    # yet within any absolute tolerance; the relative bound must catch it
    tiny = nn.Conv2d(3, 2, 1).eval()
    with torch.no_grad():
        tiny.weight.mul_(1e-11)
        tiny.bias.zero_()
    x = torch.randn(2, 3, 4, 4)
    with pytest.raises(ParityError, match="largest logit"):
        check_parity(tiny, lambda t: torch.zeros_like(tiny(t)), x, tolerance=1e-4)
    diff, rel = check_parity(tiny, tiny, x)  # the same function passes, with both figures returned
    assert diff == 0.0 and rel == 0.0


def test_static_batch_export_with_fewer_images_than_the_batch(images, tmp_path):
    torch.manual_seed(0)
    model = create_model("googlenet", num_classes=10, width=0.25, aux_logits=False).eval()
    c = contract(num_classes=10)
    out = tmp_path / "new" / "folder" / "g.onnx"  # folders that do not exist yet are created
    result = export_model(model, out, "onnx", images=images[:3], contract=c, batch_size=4, dynamo=False)
    assert result.images == 4  # 3 real images repeated up to one whole batch of 4
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == [4, 3, SIZE, SIZE]
    with pytest.raises(ExportError, match="batch size"):
        export_model(model, tmp_path / "z.onnx", "onnx", images=images, contract=c, batch_size=0, dynamo=False)


def test_failed_parity_keeps_the_previous_file(images, tmp_path):
    model = create_model("googlenet", num_classes=10, width=0.25, aux_logits=False).eval()
    out = tmp_path / "g.onnx"
    out.write_bytes(b"an earlier, good export")
    with pytest.raises(ParityError):  # no difference is <= -1: the check fails whatever the exporter did
        export_model(
            model, out, "onnx", images=images[:2], contract=contract(num_classes=10), dynamic_batch=True,
            dynamo=False, tolerance=-1.0,
        )  # fmt: skip
    assert out.read_bytes() == b"an earlier, good export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.onnx"]  # no half-checked file left beside it


def test_greyscale_export_defaults_to_half_mean_and_std(imagenette128_root, tmp_path):
    model = create_model("googlenet_small", num_classes=10, width=0.125, in_chans=1).eval()
    c = default_contract("googlenet_small", 10, width=0.125, in_chans=1)
    grey = sample_batch(imagenette128_root, 2, c, normalized=False)
    assert grey.shape == (2, 1, 32, 32)
    result = export_model(model, tmp_path / "g.pt", "torchscript", images=grey, contract=c)
    assert result.metadata["mean"] == [0.5] and result.metadata["std"] == [0.5] and result.metadata["in_chans"] == 1


def test_onnx_paper_googlenet_with_lrn_as_conv(images, tmp_path):
    model = paper_with_strong_lrn()  # alpha = 1: a wrong LRN would move the logits far beyond the tolerance
    out = tmp_path / "g.onnx"
    c = contract(num_classes=10, model_kwargs={"width": 0.5, "aux_logits": True})
    result = export_model(
        model, out, "onnx", images=images, contract=c, dynamic_batch=True, dynamo=False, lrn_as_conv=True
    )
    assert result.metadata["lrn"] == "conv"
    ops = [n.op_type for n in onnx.load(str(out)).graph.node]
    assert "LRN" not in ops and ops.count("Sqrt") == 4  # two per LRN (t^0.75 = sqrt(t) * sqrt(sqrt(t)))
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = model(normalize(images[:3])).numpy()
    np.testing.assert_allclose(session.run(None, {"input": normalize(images[:3]).numpy()})[0], expected, atol=1e-4)


@pytest.mark.parametrize(
    "family", [pytest.param(f, marks=pytest.mark.slow) if f == "vgg" else f for f in sorted(REPRESENTATIVES)]
)
def test_onnx_export_of_one_model_per_family(family, imagenette128_root, tmp_path):
    model, c = build(REPRESENTATIVES[family])  # the family's smallest model at its smallest input
    images = sample_batch(imagenette128_root, 3, c, normalized=False)
    out = tmp_path / f"{family}.onnx"
    result = export_model(model, out, "onnx", images=images, contract=c, dynamic_batch=True)  # parity-checked
    assert result.max_abs_diff <= 1e-4 and result.max_rel_diff <= 1e-3 and result.images == 3
    assert open_model(out).contract == c
    with torch.no_grad():  # an independent run on a batch size the export never saw
        x = torch.randn(2, c.in_chans, c.input_size, c.input_size)
        np.testing.assert_allclose(open_model(out).forward()(x).numpy(), model(x).numpy(), atol=1e-4, rtol=1e-4)


def test_baked_caffe_contract_takes_rgb_and_does_the_arithmetic(images, tmp_path):
    torch.manual_seed(0)
    model = create_model("googlenet", num_classes=10, width=0.25, aux_logits=False).eval()
    caffe = ModelContract(
        "googlenet", 10, {"width": 0.25, "aux_logits": False}, input_size=SIZE, pixel_range=255.0,
        channel_order="BGR", mean=CAFFE_MEAN_BGR, std=(1.0, 1.0, 1.0), resize="warp", crop_fraction=0.875,
    )  # fmt: skip
    out = tmp_path / "caffe.onnx"
    export_model(model, out, "onnx", images=images, contract=caffe, dynamic_batch=True, bake_normalization=True)
    meta = open_model(out).meta
    assert meta["normalization"] == "baked" and open_model(out).contract == caffe
    fed = open_model(out).feed_contract  # what the file itself takes: 0..1 RGB, nothing subtracted
    assert (fed.pixel_range, fed.channel_order, fed.mean, fed.std) == (1.0, "RGB", (0.0,) * 3, (1.0,) * 3)
    by_hand = images[:3].flip(1) * 255 - torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)  # RGB 0..1 -> BGR 0..255
    with torch.no_grad():
        np.testing.assert_allclose(
            open_model(out).forward()(images[:3]).numpy(), model(by_hand).numpy(), atol=1e-4, rtol=0
        )
