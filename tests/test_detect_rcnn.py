"""The paper's R-CNN: Selective Search covers the generated objects, R-CNN's labels and warp, and the pipeline's
boxes in the original image's pixels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torchvision.ops import box_iou

from _synthetic_det import make_scenes, one_thread
from googlenet.detect.datasets import load_image
from googlenet.detect.rcnn import RCNN, SelectiveSearch, dilate_for_context, label_proposals, warp_regions

_ = one_thread  # autouse

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _image(scene):
    return torch.from_numpy(np.asarray(scene.image).copy()).permute(2, 0, 1).float() / 255


def test_selective_search_covers_the_generated_objects():
    scenes = make_scenes(8, size=80, seed=1)
    found = total = 0
    for s in scenes:
        props = SelectiveSearch()(_image(s))
        iou = box_iou(torch.tensor(s.boxes, dtype=torch.float32), props)
        found += int((iou.max(1).values >= 0.5).sum())
        total += len(s.boxes)
        assert (props[:, 0] >= 0).all() and (props[:, 2] <= s.image.size[0]).all()
    assert found / total >= 0.9, (found, total)


def test_shrunk_search_returns_boxes_in_original_pixels():
    scene = make_scenes(1, size=80, seed=4)[0]
    big = torch.nn.functional.interpolate(_image(scene)[None], scale_factor=4, mode="nearest")[0]  # 384 x 320
    props = SelectiveSearch(max_side=96)(big)  # searched at a quarter of the size
    iou = box_iou(torch.tensor(scene.boxes, dtype=torch.float32) * 4, props)
    assert (iou.max(1).values >= 0.5).all()
    assert props[:, 2].max() > 96  # scaled back, not left at the search's size


def test_label_proposals_is_rcnn_iou_rule():
    gt = torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    props = torch.tensor([[0.0, 0.0, 10.0, 5.0], [0.0, 0.0, 10.0, 4.9], [20.0, 20.0, 30.0, 30.0], [50.0, 50, 60, 60]])
    # IoUs with their best box: 0.5 exactly (positive), 0.49 (background), 1.0, 0
    assert label_proposals(props, gt, torch.tensor([1, 2])).tolist() == [1, 0, 2, 0]


def test_warp_adds_rcnn_context_and_fills_outside_with_the_mean():
    box = torch.tensor([[20.0, 10.0, 60.0, 50.0]])
    # 16 px of context at 64 px: the 40 px box fills 32 px, so it grows by 40 * 16 / 32 = 20 on each side
    assert dilate_for_context(box, 64).tolist() == [[0.0, -10.0, 80.0, 70.0]]
    image = torch.ones(3, 60, 80)
    crop = warp_regions(image, box, 64, MEAN, STD)
    white = (1 - torch.tensor(MEAN)) / torch.tensor(STD)
    torch.testing.assert_close(crop[0, :, 32, 32], white)  # inside the image: the image
    torch.testing.assert_close(crop[0, :, 1, 32], torch.zeros(3))  # above it (y < 0): the mean


class RedScorer(nn.Module):
    """A stand-in region classifier: background vs 'red', by the share of red pixels at the crop's centre."""

    def forward(self, x):
        rgb = x * torch.tensor(STD).view(1, 3, 1, 1) + torch.tensor(MEAN).view(1, 3, 1, 1)
        red = ((rgb[:, 0] > 0.7) & (rgb[:, 1] < 0.3)).float()
        n = x.shape[-1]
        share = red[:, n // 4 : -n // 4, n // 4 : -n // 4].mean((1, 2))  # the centre: the box without its context
        return torch.stack([1 - share, share], 1).clamp_min(1e-4).log()


def test_pipeline_finds_the_objects_in_original_pixels(tmp_path):
    scenes = make_scenes(3, size=80, seed=2, shapes=("rect",))
    rcnn = RCNN(RedScorer(), input_size=64, proposals=SelectiveSearch(max_side=64), score_threshold=0.5)
    for s in scenes:
        path = tmp_path / f"{s.name}.png"
        s.image.save(path)
        out = rcnn([load_image(path)])[0]
        assert set(out["labels"].tolist()) <= {1} and (out["scores"] >= 0.5).all()
        iou = box_iou(torch.tensor(s.boxes, dtype=torch.float32), out["boxes"])
        assert (iou.max(1).values >= 0.5).all(), (s.boxes, out["boxes"])  # every red rectangle found
        assert len(out["boxes"]) <= 2 * len(s.boxes)  # per-class NMS left few duplicates


def test_a_context_pad_too_large_for_the_crop_is_refused():
    with pytest.raises(ValueError, match="leaves nothing"):
        RCNN(RedScorer(), input_size=32, context_pad=16)
