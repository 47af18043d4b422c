"""Ensembles of detectors (Section 8's six networks): weighted boxes fusion checked by hand, an ensemble of a
detector with itself equal to the detector, and members that do not match refused in one line."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from googlenet.detect.ensemble import DetectorEnsemble, ensemble_meta, fuse
from googlenet.errors import UserError


def _dets(boxes, scores, labels=None):
    labels = labels or [1] * len(scores)
    return {"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4), "scores": torch.tensor(scores),
            "labels": torch.tensor(labels, dtype=torch.int64)}  # fmt: skip


def test_overlapping_boxes_become_their_score_weighted_mean_and_lone_boxes_lose_half_their_score():
    a = _dets([[0, 0, 10, 20], [50, 50, 60, 60]], [0.8, 0.6])
    b = _dets([[2, 0, 12, 20]], [0.4])  # IoU with a's first: 8x20 / (12x20) = 0.67 > 0.55
    out = fuse([a, b], width=100, height=100)
    # by hand: x1 = (0 * 0.8 + 2 * 0.4) / 1.2, x2 = (10 * 0.8 + 12 * 0.4) / 1.2; score = mean(0.8, 0.4) over 2
    # members; the lone box at (50, 50) was found by one member of two: 0.6 / 2
    torch.testing.assert_close(out["boxes"], torch.tensor([[0.8 / 1.2, 0, 12.8 / 1.2, 20], [50, 50, 60, 60]]))
    torch.testing.assert_close(out["scores"], torch.tensor([0.6, 0.3]))
    assert out["labels"].tolist() == [1, 1]


def test_other_classes_and_distant_boxes_are_not_merged():
    out = fuse([_dets([[0, 0, 10, 20]], [0.9], [1]), _dets([[0, 0, 10, 20]], [0.5], [2])], width=40, height=40)
    pairs = sorted(zip(out["labels"].tolist(), out["scores"].tolist(), strict=True))
    assert pairs == [(1, pytest.approx(0.45)), (2, pytest.approx(0.25))]  # each alone in its class: half its score
    empty = fuse([_dets([], []), _dets([], [])], width=40, height=40)
    assert empty["boxes"].shape == (0, 4) and empty["labels"].dtype == torch.int64


class _Fixed(nn.Module):
    def __init__(self, dets):
        super().__init__()
        self.dets = dets

    def forward(self, images):
        return [self.dets for _ in images]


def test_an_ensemble_of_a_detector_with_itself_is_that_detector():
    dets = _dets([[5, 5, 30, 40], [1, 2, 3, 4]], [0.9, 0.2])
    (out,) = DetectorEnsemble([_Fixed(dets), _Fixed(dets)])([torch.zeros(3, 50, 60)])
    torch.testing.assert_close(out["boxes"], dets["boxes"])
    torch.testing.assert_close(out["scores"], dets["scores"])
    with pytest.raises(UserError, match="at least two"):
        DetectorEnsemble([_Fixed(dets)])


def test_members_must_share_classes_and_split():
    a = {"model": "fasterrcnn_googlenet", "class_names": ["background", "person"], "config": {"split": {"seed": 0}}}
    assert ensemble_meta([a, dict(a)], ["a", "b"])["members"] == ["a", "b"]
    with pytest.raises(UserError, match="detects"):
        ensemble_meta([a, {**a, "class_names": ["background", "car"]}], ["a", "b"])
    with pytest.raises(UserError, match="other images"):
        ensemble_meta([a, {**a, "config": {"split": {"seed": 1}}}], ["a", "b"])


def test_eval_and_predict_ensemble_checkpoints(tmp_path, capsys):
    from _synthetic_det import make_scenes, write_pennfudan, write_tiny_recipe
    from googlenet.cli import main

    data = write_pennfudan(tmp_path / "PennFudanPed", make_scenes(6, size=64, seed=3, shapes=("rect",)))
    write_tiny_recipe(tmp_path / "tiny.yaml", epochs=1, split={"val_fraction": 0.34, "seed": 0})
    out = tmp_path / "run"
    assert main(["detect", "train", "--recipe", str(tmp_path / "tiny.yaml"), "--data", str(data), "--out", str(out),
                 "--max-steps", "1"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(out), "--data", str(data), "--json", "-"]) == 0
    alone = json.loads(capsys.readouterr().out)
    assert (
        main(["eval", "--checkpoint", str(out), str(out / "best.safetensors"), "--data", str(data), "--json", "-"]) == 0
    )
    twice = json.loads(capsys.readouterr().out)
    assert twice["ensemble"]["fusion"] == "weighted boxes fusion" and len(twice["ensemble"]["members"]) == 2
    for k in ("ap", "ap50", "ap75", "ar100"):  # fusing a detector with itself changes nothing
        assert twice[k] == pytest.approx(alone[k], abs=1e-6), k
    image = sorted((data / "PNGImages").iterdir())[0]
    argv = ["predict", str(image), "--json", "--score-threshold", "0", "--checkpoint", str(out)]
    assert main(argv) == 0 and main([*argv, "--checkpoint", str(out)]) == 0  # predict repeats --checkpoint
    one, two = (json.loads(line) for line in capsys.readouterr().out.strip().splitlines())
    assert one["boxes"] and len(one["boxes"]) == len(two["boxes"])
    assert two["scores"] == pytest.approx(one["scores"], abs=1e-4)


def test_a_cluster_grows_against_its_fused_box_and_its_score_is_capped_at_the_member_count():
    # one member found the object twice, the other once: three boxes, two members
    a = _dets([[0, 0, 10, 10], [1, 0, 11, 10]], [0.9, 0.3])
    b = _dets([[0, 1, 10, 11]], [0.6])
    out = fuse([a, b], width=50, height=50)
    # by hand: all three overlap the fused box at IoU > 0.55, so one cluster; box = score-weighted mean
    # (x1 = (0 * 0.9 + 0 * 0.6 + 1 * 0.3) / 1.8, y1 = (0.6 * 1) / 1.8); score = mean(0.9, 0.6, 0.3) * min(2, 3) / 2
    torch.testing.assert_close(out["boxes"], torch.tensor([[0.3 / 1.8, 0.6 / 1.8, 10 + 0.3 / 1.8, 10 + 0.6 / 1.8]]))
    torch.testing.assert_close(out["scores"], torch.tensor([0.6]))


def test_fusion_equals_the_ensemble_boxes_package_on_random_clusters():
    ensemble_boxes = pytest.importorskip("ensemble_boxes", reason="ensemble-boxes (the reference) is not installed")
    import numpy as np

    from googlenet.detect.ensemble import weighted_boxes_fusion

    rng = np.random.default_rng(1)
    for _ in range(40):
        centre, size = rng.uniform(0.2, 0.8, (4, 2)), rng.uniform(0.1, 0.3, (4, 2))
        boxes, scores, labels = [], [], []
        for _ in range(rng.integers(2, 5)):
            k = rng.integers(0, 4, rng.integers(1, 8))
            c, wh = centre[k] + rng.normal(0, 0.02, (len(k), 2)), size[k] * rng.uniform(0.85, 1.15, (len(k), 2))
            boxes.append(np.clip(np.concatenate([c - wh / 2, c + wh / 2], 1), 0, 1))
            scores.append(rng.uniform(0.05, 1, len(k)))
            labels.append(rng.integers(1, 3, len(k)))
        want_b, want_s, want_l = ensemble_boxes.weighted_boxes_fusion(boxes, scores, labels, iou_thr=0.55)
        tensors = ([torch.from_numpy(x) for x in xs] for xs in (boxes, scores, labels))
        got_b, got_s, got_l = weighted_boxes_fusion(*tensors)
        assert len(got_b) == len(want_b)
        np.testing.assert_allclose(got_s.numpy(), want_s, atol=1e-6)  # both sorted by falling score
        np.testing.assert_allclose(got_b.numpy(), want_b, atol=1e-6)
        assert got_l.tolist() == want_l.astype(int).tolist()
