"""BVLC's Caffe weights in: caffemodels written here from random weights, imported with ``import-weights``, checked
against OpenCV's DNN module running BVLC's own deploy.prototxt (tests/data/bvlc) on the same files.

OpenCV 4.x reads Caffe (5.x dropped the reader); without it the comparisons skip with the reason. The inputs are at
Caffe's scale (BGR pixels 0-255 minus the mean), where the LRN layers change the result.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from googlenet import create_model
from googlenet.cli import main
from googlenet.contract import ModelContract
from googlenet.preprocess import decode, normalizer, views
from googlenet.weights import convert, load_checkpoint
from googlenet.weights.caffe import CaffeNetworkError, write_caffemodel

DATA = Path(__file__).parent / "data" / "bvlc"
MEAN_BGR = np.array([104.0, 117.0, 123.0], dtype=np.float32)

try:
    import cv2

    OPENCV = int(cv2.__version__.split(".")[0]) == 4 and hasattr(cv2.dnn, "readNetFromCaffe")
except ImportError:
    cv2 = None
    OPENCV = False
needs_opencv = pytest.mark.skipif(not OPENCV, reason="needs OpenCV 4.x with its Caffe reader: opencv-python-headless<5")

# The test's own reading of BVLC's layer names (train_val.prototxt) onto the paper model's modules; the import's
# mapping is src/googlenet/weights/caffe/nets.py. A wrong pairing in either shows as a mismatch with OpenCV.
BRANCHES = {"1x1": "branch1", "3x3_reduce": "branch2.0", "3x3": "branch2.1", "5x5_reduce": "branch3.0",
            "5x5": "branch3.1", "pool_proj": "branch4.1"}  # fmt: skip
GOOGLENET_LAYERS = {
    "conv1/7x7_s2": "conv1.conv",
    "conv2/3x3_reduce": "conv2.conv",
    "conv2/3x3": "conv3.conv",
    **{f"inception_{m}/{b}": f"inception{m}.{p}.conv" for m in ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")
       for b, p in BRANCHES.items()},
    **{f"loss{i}/{b}": f"aux{i}.{p}" for i in (1, 2) for b, p in (("conv", "conv.conv"), ("fc", "fc1"),
                                                                     ("classifier", "fc2"))},
    "loss3/classifier": "fc",
}  # fmt: skip
ALEXNET_LAYERS = {"conv1": "features.0", "conv2": "features.4", "conv3": "features.8", "conv4": "features.10",
                  "conv5": "features.12", "fc6": "classifier.0", "fc7": "classifier.3",
                  "fc8": "classifier.6"}  # fmt: skip


def caffe_layers(model: torch.nn.Module, names: dict[str, str]) -> list[tuple[str, str, list[np.ndarray]]]:
    state = model.state_dict()
    out = []
    for layer, module in names.items():
        w, b = state[f"{module}.weight"].numpy(), state[f"{module}.bias"].numpy()
        out.append((layer, "InnerProduct" if w.ndim == 2 else "Convolution", [w, b]))
    return out


@pytest.fixture(scope="module")
def googlenet_files(tmp_path_factory) -> tuple[Path, Path]:
    """BVLC-format GoogLeNet caffemodel (V1 ``layers`` with 4-D blob shapes, as files of 2014) and its import."""
    folder = tmp_path_factory.mktemp("bvlc_googlenet")
    torch.manual_seed(0)
    src = create_model("googlenet")  # Caffe's xavier init, bias 0.2: logits of a few units, softmax not saturated
    layers = caffe_layers(src, GOOGLENET_LAYERS)
    caffemodel = write_caffemodel(folder / "bvlc_googlenet.caffemodel", "GoogleNet", layers, v1=True)
    out = folder / "googlenet-bvlc.safetensors"
    assert main(["import-weights", str(caffemodel), "--model", "googlenet", "-o", str(out)]) == 0
    return caffemodel, out


def opencv_net(model: str, caffemodel: Path):
    return cv2.dnn.readNetFromCaffe(str(DATA / f"{model}_deploy.prototxt"), str(caffemodel))


def caffe_scale_input(size: int, n: int = 2, seed: int = 0) -> np.ndarray:
    """Random BGR pixels 0-255 minus the mean: what Caffe's data layer gives the network."""
    pixels = np.random.default_rng(seed).uniform(0, 255, (n, 3, size, size)).astype(np.float32)
    return pixels - MEAN_BGR.reshape(1, 3, 1, 1)


def rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b).max() / np.abs(b).max())


@needs_opencv
def test_googlenet_logits_equal_opencv_running_bvlc_deploy(googlenet_files):
    caffemodel, out = googlenet_files
    net = opencv_net("googlenet", caffemodel)
    x = caffe_scale_input(224)
    net.setInput(x)
    expected = net.forward("loss3/classifier")
    model, _, _ = load_checkpoint(out)
    with torch.no_grad():
        got = model.eval()(torch.from_numpy(x)).numpy()
    assert expected.shape == got.shape == (2, 1000)
    assert rel_diff(got, expected) <= 1e-4
    # at this scale the LRN layers act: the same weights without them are far off
    no_lrn = create_model("googlenet", lrn=False)
    no_lrn.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert rel_diff(no_lrn.eval()(torch.from_numpy(x)).numpy(), expected) > 1e-2


def test_checkpoint_records_caffes_input_contract(googlenet_files):
    _, out = googlenet_files
    _, c, _ = load_checkpoint(out)
    assert (c.model, c.num_classes, c.input_size, c.in_chans) == ("googlenet", 1000, 224, 3)
    assert (c.channel_order, c.pixel_range, c.mean, c.std) == ("BGR", 255.0, (104.0, 117.0, 123.0), (1.0, 1.0, 1.0))
    assert (c.resize, c.crop_fraction, c.resize_size) == ("warp", 224 / 256, 256)
    assert c.weights["source"] == "caffe" and c.weights["file"] == "bvlc_googlenet.caffemodel"
    assert c.weights["format"] == "V1" and len(c.weights["sha1"]) == 40
    # sorted WordNet ids beside the names; ImageNet facts checked by hand (synset_words.txt)
    ids, names = c.class_ids, c.class_names
    assert len(ids) == len(set(ids)) == 1000 and list(ids) == sorted(ids)
    assert (ids[0], names[0]) == ("n01440764", "tench") and (ids[999], names[999]) == ("n15075141", "toilet tissue")
    assert names[ids.index("n03888257")] == "parachute" and names[ids.index("n02102040")] == "English springer"
    assert json.loads(out.with_suffix(".json").read_text())["class_ids"][0] == "n01440764"


def test_caffe_preprocessing_by_hand(googlenet_files, tmp_path):
    """Warp to 256 x 256, centre 224, BGR, minus (104, 117, 123): numpy arithmetic on the decoded pixels."""
    _, out = googlenet_files
    _, c, _ = load_checkpoint(out)
    rgb = np.random.default_rng(1).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "square.png")
    x = normalizer(c)(views(c)(decode(tmp_path / "square.png", c)))[0].numpy()  # already 256: no resampling
    by_hand = rgb[16:240, 16:240, ::-1].astype(np.float32) - MEAN_BGR
    np.testing.assert_array_equal(x, by_hand.transpose(2, 0, 1))
    # warp: a 100 x 400 image of four vertical stripes becomes four 64 px stripes (aspect not kept); the crop keeps
    # 48, 64, 64, 48 px of them
    stripes = np.repeat(np.array([[10, 80, 160, 240]], dtype=np.uint8), 100, axis=0).repeat(100, axis=1)
    Image.fromarray(np.stack([stripes] * 3, axis=-1)).save(tmp_path / "wide.png")
    nearest = c.replace(interpolation="nearest")
    x = normalizer(nearest)(views(nearest)(decode(tmp_path / "wide.png", nearest)))[0].numpy()
    row = x[0, 100] + MEAN_BGR[0]  # blue channel, one row
    assert x.shape == (3, 224, 224)
    assert list(row) == [10.0] * 48 + [80.0] * 64 + [160.0] * 64 + [240.0] * 48


def _opencv_top5(net, path: Path, size: int) -> list[int]:
    """Caffe's way with OpenCV alone: decode (BGR), warp to 256 x 256 (bilinear), centre crop, minus the mean."""
    img = cv2.imread(str(path))
    img = cv2.resize(img, (256, 256), interpolation=cv2.INTER_LINEAR)
    o = (256 - size) // 2
    crop = img[o : o + size, o : o + size]
    net.setInput(cv2.dnn.blobFromImage(crop, 1.0, (size, size), tuple(MEAN_BGR.tolist()), swapRB=False, crop=False))
    return [int(i) for i in np.argsort(-net.forward("prob")[0])[:5]]


@needs_opencv
def test_predict_on_a_photo_gives_opencvs_top5(googlenet_files, imagenette128_root, capsys):
    caffemodel, out = googlenet_files
    net = opencv_net("googlenet", caffemodel)
    photos = sorted((imagenette128_root / "val").glob("*/*.jpg"))[::500][:3]
    assert photos
    assert main(["predict", *map(str, photos), "--checkpoint", str(out), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    for photo, line in zip(photos, lines, strict=True):
        assert line["path"] == str(photo)
        assert [t["index"] for t in line["top"]] == _opencv_top5(net, photo, 224), photo


def test_eval_table3_matches_an_imagenet_folder_by_wordnet_id(googlenet_files, tmp_path, capsys):
    _, out = googlenet_files
    rng = np.random.default_rng(2)
    for wnid, n in (("n01440764", 2), ("n03888257", 1)):  # tench, parachute
        (tmp_path / "val" / wnid).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (180, 240, 3), dtype=np.uint8)).save(
                tmp_path / "val" / wnid / f"{i}.jpg"
            )
    report = tmp_path / "eval.json"
    argv = ["eval", "--checkpoint", str(out), "--data", str(tmp_path), "--table3", "--crops", "1", "--no-progress",
            "--json", str(report)]  # fmt: skip
    assert main(argv) == 0
    assert "| models | crops |" in capsys.readouterr().out
    per_class = json.loads(report.read_text())["rows"][0]["per_class"]
    assert per_class["tench"]["count"] == 2 and per_class["parachute"]["count"] == 1


@needs_opencv
@pytest.mark.slow
def test_alexnet_bvlc_logits_equal_opencv(tmp_path):
    """BVLC's AlexNet (227 px, unpadded conv1, groups, LRN k 1) in V2 ``layer`` format with BlobShape shapes."""
    torch.manual_seed(0)
    src = create_model("alexnet_bvlc")
    caffemodel = write_caffemodel(tmp_path / "bvlc_alexnet.caffemodel", "AlexNet", caffe_layers(src, ALEXNET_LAYERS))
    out, meta = convert(caffemodel, model="alexnet_bvlc", out=tmp_path / "alexnet-bvlc.safetensors")
    c = ModelContract.from_meta(meta)
    assert (c.input_size, c.resize, c.crop_fraction, c.channel_order) == (227, "warp", 227 / 256, "BGR")
    net = opencv_net("alexnet", caffemodel)
    x = caffe_scale_input(227, n=1)
    net.setInput(x)
    expected = net.forward("fc8")
    model, _, _ = load_checkpoint(out)
    with torch.no_grad():
        got = model.eval()(torch.from_numpy(x)).numpy()
    assert rel_diff(got, expected) <= 1e-4
    for other in ("alexnet", "alexnet_grouped"):  # the paper's forms: other LRN, padded conv1 (or no groups)
        try:
            m = create_model(other)
            m.load_state_dict(model.state_dict())
        except RuntimeError:
            continue  # alexnet: other weight shapes (no groups)
        with torch.no_grad():
            assert rel_diff(m.eval()(torch.from_numpy(x)).numpy(), expected) > 1e-2


def test_not_a_caffemodel_or_not_this_network_is_one_line(googlenet_files, tmp_path, capsys):
    caffemodel, _ = googlenet_files
    junk = tmp_path / "junk.caffemodel"
    junk.write_bytes(b"\xff\xfe this is not protobuf")
    assert main(["import-weights", str(junk), "--model", "googlenet", "-o", str(tmp_path / "a.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "is not a Caffe model" in err and len(err.strip().splitlines()) == 1
    # GoogLeNet's file imported as AlexNet: the first layer AlexNet needs is not there
    assert main(["import-weights", str(caffemodel), "--model", "alexnet_bvlc", "-o", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "not BVLC's alexnet_bvlc: layer 'fc8' is missing" in err and len(err.strip().splitlines()) == 1
    # a mis-shaped layer is named with both shapes
    torch.manual_seed(0)
    layers = caffe_layers(create_model("googlenet"), GOOGLENET_LAYERS)
    name, kind, (w, b) = layers[5]
    layers[5] = (name, kind, [w[:, :, :1, :1].copy(), b])
    bad = write_caffemodel(tmp_path / "bad.caffemodel", "GoogleNet", layers)
    with pytest.raises(CaffeNetworkError, match=rf"layer '{name}' weight has shape \(\d+, \d+, 1, 1\)"):
        convert(bad, model="googlenet", out=tmp_path / "c.safetensors")
    assert not (tmp_path / "b").exists() and not (tmp_path / "c.safetensors").exists()
    assert main(["import-weights", str(caffemodel), "--model", "resnet18", "-o", str(tmp_path / "d")]) == 2
    assert "import it into googlenet or alexnet_bvlc" in capsys.readouterr().err
