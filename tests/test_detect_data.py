"""Detection data: the three layouts read into torchvision's conventions, boxes that move with the image, the
fixed-seed split, and every bad input refused in one line."""

from __future__ import annotations

import json
import re
import shutil

import pytest
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from _synthetic_det import CLASSES, make_scenes, write_coco, write_pennfudan, write_voc
from googlenet.data.sources import DataNotFoundError
from googlenet.detect.annotations import DetectionDataError, parse_pennfudan
from googlenet.detect.datasets import CocoFolder, PennFudan, VOCFolder, open_detection_data, split_indices
from googlenet.detect.transforms import detection_transforms

SCENES = make_scenes(4, size=64, seed=3)


def _expected(scene):
    return torch.tensor(scene.boxes, dtype=torch.float32).reshape(-1, 4)


def test_pennfudan_layout_reads_the_boxes_written(tmp_path):
    ds = PennFudan(write_pennfudan(tmp_path / "pf", SCENES))
    assert len(ds) == 4 and ds.class_names == ["background", "person"]
    for (image, target), scene in zip(ds, SCENES, strict=True):
        assert isinstance(image, tv_tensors.Image) and image.dtype == torch.float32
        assert tuple(image.shape[-2:]) == scene.image.size[::-1]
        assert isinstance(target["boxes"], tv_tensors.BoundingBoxes) and target["boxes"].format.name == "XYXY"
        torch.testing.assert_close(target["boxes"].as_subclass(torch.Tensor), _expected(scene))
        assert target["labels"].tolist() == [1] * len(scene.boxes)


def test_pennfudan_text_format_is_pascal_one_based_inclusive():
    text = (
        'Objects with ground truth : 1 { "PASpersonWalking" }\n'
        'Bounding box for object 1 "PASpersonWalking" (Xmin, Ymin) - (Xmax, Ymax) : (160, 182) - (302, 431)\n'
    )
    ann = parse_pennfudan(text)
    assert ann.boxes == [(159.0, 181.0, 302.0, 431.0)]  # 143 pixels wide: 302 - 160 + 1


def test_voc_layout_names_classes_in_sorted_order(tmp_path):
    ds = VOCFolder(write_voc(tmp_path / "voc", SCENES))
    assert ds.class_names == ["background", "ellipse", "rect"]
    for (_, target), scene in zip(ds, SCENES, strict=True):
        torch.testing.assert_close(target["boxes"].as_subclass(torch.Tensor), _expected(scene))
        assert [ds.class_names[k] for k in target["labels"].tolist()] == scene.names


def test_coco_json_through_torchvision_wrapper(tmp_path):
    ds = CocoFolder(tmp_path / "coco" / "images", write_coco(tmp_path / "coco", SCENES))
    assert ds.class_names == ["background", *CLASSES]
    for i, ((_, target), scene) in enumerate(zip(ds, SCENES, strict=True)):
        assert target["image_id"] == i + 1
        torch.testing.assert_close(target["boxes"].as_subclass(torch.Tensor), _expected(scene))
        assert [ds.class_names[k] for k in target["labels"].tolist()] == scene.names


def test_open_detection_data_finds_each_layout(tmp_path):
    write_pennfudan(tmp_path / "pf", SCENES)
    write_voc(tmp_path / "voc", SCENES)
    write_coco(tmp_path / "coco", SCENES)
    assert isinstance(open_detection_data(tmp_path / "pf"), PennFudan)
    assert isinstance(open_detection_data(tmp_path / "voc"), VOCFolder)
    assert isinstance(open_detection_data(tmp_path / "coco"), CocoFolder)


def _pair(w=80, h=60, box=(10.0, 5.0, 30.0, 45.0)):
    image = tv_tensors.Image(torch.rand(3, h, w))
    target = {
        "boxes": tv_tensors.BoundingBoxes(torch.tensor([box]), format="XYXY", canvas_size=(h, w)),
        "labels": torch.tensor([1]),
    }
    return image, target


def test_flip_moves_the_box_with_the_image():
    image, target = _pair()
    out_img, out = v2.RandomHorizontalFlip(p=1.0)(image, target)
    # by hand: x' = W - x, so (10, 30) -> (80 - 30, 80 - 10)
    assert out["boxes"].tolist() == [[50.0, 5.0, 70.0, 45.0]]
    torch.testing.assert_close(out_img, image.flip(-1))


def test_resize_scales_the_box():
    image, target = _pair()
    _, out = detection_transforms(train=False, max_size=40)(image, target)  # 80 x 60 -> 40 x 30: half
    assert out["boxes"].tolist() == [[5.0, 2.5, 15.0, 22.5]]
    assert out["boxes"].canvas_size == (30, 40)


def test_crop_shifts_and_clips_the_box_and_sanitize_drops_the_empty_ones():
    image = tv_tensors.Image(torch.rand(3, 60, 80))
    boxes = torch.tensor([[10.0, 5.0, 30.0, 45.0], [70.0, 50.0, 78.0, 58.0]])
    target = {
        "boxes": tv_tensors.BoundingBoxes(boxes, format="XYXY", canvas_size=(60, 80)),
        "labels": torch.tensor([1, 2]),
    }
    img2, out = v2.functional.crop(image, 20, 15, 40, 50), v2.functional.crop(target["boxes"], 20, 15, 40, 50)
    out = v2.ClampBoundingBoxes()(out)
    # by hand: shift by (-15, -20), clamp to 50 x 40: (10-15, 5-20, 30-15, 45-20) -> (0, 0, 15, 25); box 2 -> empty
    assert out.tolist()[0] == [0.0, 0.0, 15.0, 25.0]
    _, sane = v2.SanitizeBoundingBoxes()(img2, {"boxes": out, "labels": target["labels"]})
    assert sane["labels"].tolist() == [1]


def test_training_transforms_keep_boxes_on_their_objects(tmp_path):
    """Whatever the random flip/crop does, each box still frames its coloured shape."""
    ds = PennFudan(write_pennfudan(tmp_path / "pf", make_scenes(6, size=64, seed=5, shapes=("rect",))))
    ds.transforms = detection_transforms(train=True, zoom_out=True)
    torch.manual_seed(0)
    for _ in range(3):
        for image, target in ds:
            for x1, y1, x2, y2 in target["boxes"].round().int().tolist():
                inside = image[:, y1:y2, x1:x2]
                red = (inside[0] > 0.7) & (inside[1] < 0.3)
                assert red.float().mean() > 0.9  # the box is (almost) all the red rectangle


def test_split_is_fixed_by_the_seed_and_disjoint():
    a = split_indices(150, 0.2, seed=0)
    assert a == split_indices(150, 0.2, seed=0) and a != split_indices(150, 0.2, seed=1)
    train, val = a
    assert len(val) == 30 and sorted(train + val) == list(range(150))


def _bad_pennfudan(tmp_path, edit):
    root = write_pennfudan(tmp_path / "pf", SCENES[:2])
    edit(root)
    return root


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: (r / "Annotation" / "img000.txt").write_text("hello\n"), "not a Penn-Fudan annotation"),
        (
            lambda r: (r / "Annotation" / "img000.txt").write_text(
                (r / "Annotation" / "img000.txt").read_text().replace("(Xmax, Ymax) : (", "(Xmax, Ymax) : (x")
            ),
            "does not parse",
        ),
        (
            lambda r: (r / "Annotation" / "img001.txt").write_text(
                re.sub(r"\) - \((\d)", r") - (90\1", (r / "Annotation" / "img001.txt").read_text(), count=1)
            ),
            "lies outside its 64x64 image",
        ),
        (lambda r: (r / "Annotation" / "img001.txt").unlink(), "image has no annotation file"),
        (lambda r: [p.unlink() for p in (r / "PNGImages").iterdir()], "empty folder"),
    ],
    ids=["not-pennfudan", "bad-box-line", "outside", "no-annotation", "empty"],
)
def test_bad_pennfudan_data_is_one_line(tmp_path, edit, message):
    root = _bad_pennfudan(tmp_path, edit)
    with pytest.raises(DetectionDataError, match=message) as err:
        PennFudan(root)
    assert "\n" not in str(err.value)


def test_zero_area_box_is_refused(tmp_path):
    root = write_voc(tmp_path / "voc", SCENES[:1])
    xml = next((root / "Annotations").iterdir())
    text = xml.read_text()
    x1 = text.split("<xmin>")[1].split("<")[0]
    xml.write_text(text.replace(text.split("<xmax>")[1].split("<")[0], str(int(x1) - 1), 1))
    with pytest.raises(DetectionDataError, match="zero area"):
        VOCFolder(root)


def test_coco_json_whose_image_is_missing(tmp_path):
    ann = write_coco(tmp_path / "coco", SCENES)
    (tmp_path / "coco" / "images" / "img002.png").unlink()
    with pytest.raises(DetectionDataError, match=r"image .img002\.png. .* is missing"):
        CocoFolder(tmp_path / "coco" / "images", ann)
    ann.write_text(json.dumps({"images": 3}))
    with pytest.raises(DetectionDataError, match="not a COCO annotation file"):
        CocoFolder(tmp_path / "coco" / "images", ann)


def test_an_empty_folder_is_refused(tmp_path):
    with pytest.raises(DetectionDataError, match="empty folder"):
        open_detection_data(tmp_path)


def test_real_pennfudan_reads_every_annotation(tmp_path):
    """Optional: the database's own files, when present (counted with grep on the archive)."""
    from googlenet.detect.sources import locate_pennfudan

    try:
        root = locate_pennfudan()
    except DataNotFoundError as err:
        pytest.skip(f"real data not on this machine: {err}")
    ds = PennFudan(root)
    assert len(ds) == 150
    assert sum(len(r.boxes) for r in ds.records) == 369
    shutil.rmtree(tmp_path, ignore_errors=True)
