"""Faster R-CNN on the project's GoogLeNet: built by name, its pyramid fed by the classifier's own stages, its
backbone started from a classification checkpoint, detection and classification checkpoints not confused."""

from __future__ import annotations

import pytest
import torch

from _synthetic_det import SMALL_DETECTOR, one_thread
from googlenet import create_model, list_models, model_info
from googlenet.contract import CAFFE_MEAN_BGR
from googlenet.detect.fasterrcnn import load_classification_backbone
from googlenet.detect.serving import _input_size
from googlenet.detect.store import detector_meta, load_detector, save_detector, set_test_size
from googlenet.errors import UserError
from googlenet.factory import default_contract
from googlenet.weights import save

SMALL = SMALL_DETECTOR
_ = one_thread  # autouse


def test_detectors_are_registered_apart_from_the_classifiers():
    assert list_models(task="detect") == ["fasterrcnn_googlenet", "fasterrcnn_resnet18"]
    assert not set(list_models()) & set(list_models(task="detect"))  # classification listings unchanged
    assert set(list_models(task=None)) == set(list_models()) | set(list_models(task="detect"))
    assert model_info("fasterrcnn_googlenet").task == "detect" and model_info("googlenet").task == "classify"


def test_pyramid_levels_are_the_inception_stages_of_the_classifier():
    torch.manual_seed(0)
    model = create_model("fasterrcnn_googlenet", num_classes=3, **SMALL).eval()
    assert model.task == "detect" and model.num_classes == 3
    assert list(model.stage_names) == ["inception3b", "inception4e", "inception5b"]
    # the body is the classification network itself: hook its stage outputs and compare
    body = model.backbone.body
    classifier = create_model("googlenet", num_classes=0, width=0.25).eval()
    classifier.load_state_dict({k: v for k, v in body.state_dict().items()}, strict=False)
    seen = {}
    for name in model.stage_names:
        getattr(classifier, name).register_forward_hook(lambda _m, _i, y, n=name: seen.__setitem__(n, y))
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        classifier(x)
        feats = body(x)
    for i, name in enumerate(model.stage_names):
        torch.testing.assert_close(feats[str(i)], seen[name])
    assert [f.shape[-1] for f in feats.values()] == [96 // 8, 96 // 16, 96 // 32]  # strides 8, 16, 32


def test_training_returns_the_four_losses_and_eval_boxes_in_image_pixels():
    torch.manual_seed(0)
    model = create_model("fasterrcnn_googlenet", num_classes=2, **SMALL)
    images = [torch.rand(3, 70, 90), torch.rand(3, 64, 64)]
    targets = [{"boxes": torch.tensor([[5.0, 5.0, 40.0, 60.0]]), "labels": torch.tensor([1])}] * 2
    losses = model.train()(images, targets)
    assert set(losses) == {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"}
    sum(losses.values()).backward()
    with torch.no_grad():
        out = model.eval()(images)
    for o, im in zip(out, images, strict=True):
        b = o["boxes"]
        assert (b[:, 0] >= 0).all() and (b[:, 2] <= im.shape[-1]).all() and (b[:, 3] <= im.shape[-2]).all()


def test_box_deltas_are_decoded_in_float32_under_bf16_autocast():
    """bf16 has 8 significant bits: deltas decoded in bf16 would put box edges on a 2 px grid near x = 400."""
    torch.manual_seed(0)
    model = create_model("fasterrcnn_googlenet", num_classes=2, **SMALL).eval()
    seen = {}
    model.rpn.box_coder.decode = _spy(model.rpn.box_coder.decode, seen, "rpn")
    model.roi_heads.box_coder.decode = _spy(model.roi_heads.box_coder.decode, seen, "roi")
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        model([torch.rand(3, 96, 128)])
    assert seen == {"rpn": torch.float32, "roi": torch.float32}


def _spy(decode, seen, name):
    def wrapped(rel_codes, boxes):
        seen[name] = rel_codes.dtype
        return decode(rel_codes, boxes)

    return wrapped


def _classifier_ckpt(tmp_path, name="googlenet", **kwargs):
    torch.manual_seed(1)
    model = create_model(name, num_classes=5, **kwargs)
    meta = default_contract(name, 5, **kwargs).to_meta()
    return save(tmp_path / f"{name}.safetensors", model, meta), model


def test_backbone_starts_from_a_classification_checkpoint(tmp_path):
    path, trained = _classifier_ckpt(tmp_path, width=0.25)
    model = create_model("fasterrcnn_googlenet", num_classes=2, backbone_weights=path, min_size=64, max_size=96)
    body = model.backbone.body.state_dict()
    expected = trained.state_dict()
    assert any(k.startswith("inception5b.") for k in body)
    for k, v in body.items():
        torch.testing.assert_close(v, expected[k], msg=k)  # every kept tensor is the checkpoint's
    assert not any(k.startswith(("aux1", "aux2", "fc")) for k in body)
    assert not model.backbone.body.conv1.conv.weight.requires_grad  # the stem is frozen by default from a checkpoint


def test_a_caffe_contract_backbone_sees_the_pixels_it_was_trained_on(tmp_path):
    """BVLC's contract (BGR, 0..255, mean 104/117/123) rewritten for the detector's RGB 0..1 images: the stage
    outputs equal the classifier's on the image preprocessed by hand the Caffe way."""
    torch.manual_seed(1)
    trained = create_model("googlenet", num_classes=5, width=0.25).eval()
    contract = default_contract("googlenet", 5, width=0.25).replace(
        pixel_range=255.0, channel_order="BGR", mean=CAFFE_MEAN_BGR, std=(1.0, 1.0, 1.0)
    )
    path = save(tmp_path / "bvlc.safetensors", trained, contract.to_meta())
    model = create_model("fasterrcnn_googlenet", num_classes=2, backbone_weights=path, min_size=64, max_size=96).eval()
    image = torch.rand(1, 3, 64, 64)  # RGB 0..1, as the detector takes it
    by_hand = image.flip(1) * 255 - torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)
    seen = {}
    for name in model.stage_names:
        getattr(trained, name).register_forward_hook(lambda _m, _i, y, n=name: seen.__setitem__(n, y))
    with torch.no_grad():
        trained(by_hand)
        feats = model.backbone.body(model.transform.normalize(image[0])[None])
    for i, name in enumerate(model.stage_names):
        torch.testing.assert_close(feats[str(i)], seen[name], rtol=1e-4, atol=1e-4)


def test_a_resnet18_checkpoint_starts_the_comparison_backbone(tmp_path):
    path, trained = _classifier_ckpt(tmp_path, "resnet18")
    model = create_model("fasterrcnn_resnet18", num_classes=2, backbone_weights=path, min_size=64, max_size=96)
    bn = model.backbone.body.layer4[1].bn2  # frozen batch norm carrying the checkpoint's statistics
    torch.testing.assert_close(bn.running_var, trained.layer4[1].bn2.running_var)
    with pytest.raises(UserError, match="holds a 'resnet18' network, not the 'googlenet'"):
        create_model("fasterrcnn_googlenet", num_classes=2, backbone_weights=path)


def test_a_detection_checkpoint_is_not_a_backbone(tmp_path):
    model = create_model("fasterrcnn_googlenet", num_classes=2, **SMALL)
    path = save(tmp_path / "det.safetensors", model, {"model": "fasterrcnn_googlenet", "num_classes": 2})
    with pytest.raises(UserError, match="detection checkpoint, not a classification network"):
        load_classification_backbone(path)


def test_a_detector_needs_a_background_and_a_class():
    with pytest.raises(UserError, match="num_classes >= 2"):
        create_model("fasterrcnn_googlenet", num_classes=1)


def test_a_detector_checkpoint_round_trips_through_its_json_metadata(tmp_path):
    kwargs = {**SMALL, "aspect_ratios": (0.5, 1.0, 2.5), "box_score_thresh": 0.0}
    torch.manual_seed(0)
    model = create_model("fasterrcnn_googlenet", num_classes=2, **kwargs).eval()
    path = save_detector(
        tmp_path / "d.safetensors", model, detector_meta("fasterrcnn_googlenet", 2, kwargs, ["bg", "p"])
    )
    loaded, meta = load_detector(path)  # the options come back from JSON (tuples as lists)
    assert meta["class_names"] == ["bg", "p"] and meta["task"] == "detect"
    x = [torch.rand(3, 70, 90)]
    with torch.no_grad():
        a, b = model(x)[0], loaded(x)[0]
    assert len(a["boxes"]) > 0
    torch.testing.assert_close(a["boxes"], b["boxes"])
    torch.testing.assert_close(a["scores"], b["scores"])


def test_several_min_sizes_train_at_a_random_one_and_predict_at_the_last():
    torch.manual_seed(0)
    model = create_model("fasterrcnn_googlenet", num_classes=2, **{**SMALL, "min_size": [48, 64], "max_size": 200})
    image = [torch.rand(3, 80, 100)]
    seen = {tuple(model.train().transform(image)[0].image_sizes[0]) for _ in range(20)}
    assert seen == {(48, 60), (64, 80)}  # the shorter side 80 -> 48 or 64, the longer scaled alike
    assert model.eval().transform(image)[0].image_sizes[0] == (64, 80)
    assert _input_size(model) == 64  # the card of `googlenet serve`


def test_a_test_scale_resizes_the_shorter_side_and_scales_the_cap():
    model = create_model("fasterrcnn_googlenet", num_classes=2, **{**SMALL, "min_size": [48, 64], "max_size": 100})
    image = [torch.rand(3, 80, 200)]
    assert model.eval().transform(image)[0].image_sizes[0] == (40, 100)  # capped: 200 -> 100, so 80 -> 40
    set_test_size(model, 96)  # x1.5 of the last min_size: the cap 100 -> 150
    assert model.transform(image)[0].image_sizes[0] == (60, 150)  # the cap still binds: 200 -> 150, 80 -> 60
    assert model.transform([torch.rand(3, 80, 100)])[0].image_sizes[0] == (96, 120)  # 80 -> 96, 100 -> 120
    seen = {tuple(model.train().transform([torch.rand(3, 80, 100)])[0].image_sizes[0]) for _ in range(20)}
    assert seen == {(48, 60), (64, 80)}  # training keeps its own sizes
    assert _input_size(model) == 96  # the card of `googlenet serve`: the test scale
    built = create_model("fasterrcnn_googlenet", num_classes=2, **{**SMALL, "min_size": [48, 64], "max_size": 100,
                                                                    "test_size": 96}).eval()  # fmt: skip
    assert built.transform(image)[0].image_sizes[0] == (60, 150)  # the builder's test_size: the same scale
    assert set_test_size(model.eval(), None).transform.test_scale() == (96, 150)  # None keeps what the model has
    with pytest.raises(UserError, match="at least 32 px"):
        set_test_size(model, 8)
    with pytest.raises(UserError, match="R-CNN warps each proposal"):
        set_test_size(create_model("googlenet", num_classes=2, width=0.125), 96)
