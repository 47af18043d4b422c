"""Crop geometry: counts, scales, and crops compared with pixels cut by hand from a position-coded image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from googlenet.data.crops import center_crop, flip_crop, make_views, paper_144_crops, paper_scales, ten_crop
from googlenet.errors import UserError


def ramp(h: int, w: int) -> torch.Tensor:
    """3 x h x w float image whose channel 0 is the row index, channel 1 the column index, channel 2 constant 7."""
    rows = torch.arange(h, dtype=torch.float32)[:, None].expand(h, w)
    cols = torch.arange(w, dtype=torch.float32)[None, :].expand(h, w)
    return torch.stack([rows, cols, torch.full((h, w), 7.0)])


def test_paper_scales_by_hand() -> None:
    assert paper_scales(224) == (256, 288, 320, 352)
    # 256*128/224 = 146.29, 288*128/224 = 164.57, 320*128/224 = 182.86, 352*128/224 = 201.14
    assert paper_scales(128) == (146, 165, 183, 201)


@pytest.mark.parametrize("hw", [(60, 90), (90, 60), (70, 70), (37, 200)])
def test_counts_and_shapes(hw: tuple[int, int]) -> None:
    img = torch.randint(0, 256, (3, *hw), dtype=torch.uint8)
    assert paper_144_crops(img, 32).shape == (144, 3, 32, 32)
    assert ten_crop(img, 32).shape == (10, 3, 32, 32)
    assert center_crop(img, 32).shape == (1, 3, 32, 32)
    for n in (1, 2, 10, 144):
        out = make_views(n, 32)(img)
        distinct = 48 if n == 144 and hw[0] == hw[1] else n  # a square image's 3 squares are one square
        assert out.shape == (distinct, 3, 32, 32) and out.dtype == torch.uint8


def test_distinct_144_on_a_square_image_are_the_144_without_repeats() -> None:
    img = torch.randint(0, 256, (3, 50, 50), dtype=torch.uint8)
    full, distinct = paper_144_crops(img, 32), paper_144_crops(img, 32, distinct=True)
    # crop (scale s, square q, view v) equals crop (s, 0, v) for every square q, mirrored or not
    for mirror in (0, 72):
        for s in range(4):
            for q in range(3):
                for v in range(6):
                    d = mirror // 72 * 24 + s * 6 + v
                    assert torch.equal(full[mirror + (s * 3 + q) * 6 + v], distinct[d])


def test_144_crops_at_native_scale_are_hand_cut_pixels() -> None:
    # landscape 256 x 400, 224 crops: the first scale (256) needs no resize, so its crops are exact copies
    img = ramp(256, 400)
    crops = paper_144_crops(img, 224)
    squares = {0: 0, 1: 72, 2: 144}  # left, centre ((400-256)/2), right (400-256)
    corners = {0: (0, 0), 1: (0, 32), 2: (32, 0), 3: (32, 32), 4: (16, 16)}  # tl, tr, bl, br, centre
    for sq, x0 in squares.items():
        for view, (dy, dx) in corners.items():
            expected = img[:, dy : dy + 224, x0 + dx : x0 + dx + 224]
            torch.testing.assert_close(crops[sq * 6 + view], expected, rtol=0, atol=0)
            # the mirror of crop k is crop 72 + k: column j holds the column 223 - j
            torch.testing.assert_close(crops[72 + sq * 6 + view], expected.flip(-1), rtol=0, atol=0)


def test_144_whole_square_is_the_square_resized() -> None:
    # reference: Pillow's own antialiased bilinear resize of each hand-cut 256 x 256 square (float "F" images)
    img = ramp(256, 400)
    crops = paper_144_crops(img, 224)
    for sq, x0 in {0: 0, 1: 72, 2: 144}.items():
        for c in range(3):
            square = Image.fromarray(img[c, :, x0 : x0 + 256].numpy(), mode="F")
            expected = torch.from_numpy(np.asarray(square.resize((224, 224), Image.BILINEAR)).copy())
            torch.testing.assert_close(crops[sq * 6 + 5][c], expected, rtol=0, atol=1e-3)
            torch.testing.assert_close(crops[72 + sq * 6 + 5][c], expected.flip(-1), rtol=0, atol=1e-3)


def test_144_crop_at_a_larger_scale() -> None:
    # scale 288: the 256 x 400 image becomes 288 x 450 (both exact); crop 33 = scale 1, right square, bottom-right
    img = ramp(256, 400)
    crop = paper_144_crops(img, 224)[(1 * 3 + 2) * 6 + 3].double()
    rows = torch.arange(288 - 224, 288, dtype=torch.float64)  # bottom-right corner of the square: rows 64..287
    cols = torch.arange(450 - 224, 450, dtype=torch.float64)  # square x0 = 450-288 = 162, + 64: cols 226..449
    exp_r = ((rows + 0.5) * 256 / 288 - 0.5).clamp(0, 255)
    exp_c = ((cols + 0.5) * 400 / 450 - 0.5).clamp(0, 399)
    inner = slice(0, -2)  # the last pixels touch the image border
    torch.testing.assert_close(crop[0, inner, inner], exp_r[inner, None].expand(222, 222), rtol=0, atol=1e-3)
    torch.testing.assert_close(crop[1, inner, inner], exp_c[None, inner].expand(222, 222), rtol=0, atol=1e-3)


def test_144_portrait_uses_top_centre_bottom() -> None:
    img = ramp(400, 256)  # portrait: squares at rows 0, 72, 144
    crops = paper_144_crops(img, 224)
    torch.testing.assert_close(crops[0], img[:, 0:224, 0:224], rtol=0, atol=0)  # top square, top-left
    torch.testing.assert_close(crops[6 + 4], img[:, 72 + 16 : 72 + 240, 16:240], rtol=0, atol=0)  # centre, centre
    torch.testing.assert_close(crops[12 + 3], img[:, 144 + 32 : 400, 32:256], rtol=0, atol=0)  # bottom, bottom-right


def test_ten_crop_by_hand() -> None:
    img = ramp(40, 60)  # resize=40 keeps the image as it is; 32 px crops
    crops = ten_crop(img, 32, resize=40)
    cuts = [img[:, :32, :32], img[:, :32, 28:], img[:, 8:, :32], img[:, 8:, 28:], img[:, 4:36, 14:46]]
    for i, cut in enumerate(cuts):
        torch.testing.assert_close(crops[i], cut, rtol=0, atol=0)
        torch.testing.assert_close(crops[5 + i], cut.flip(-1), rtol=0, atol=0)


def test_flip_crop_by_hand() -> None:
    img = ramp(40, 60)  # resize=40 keeps the image; the centre 32 square, then its columns reversed
    cut = img[:, 4:36, 14:46]
    crops = flip_crop(img, 32, resize=40)
    assert crops.shape == (2, 3, 32, 32)
    torch.testing.assert_close(crops[0], cut, rtol=0, atol=0)
    torch.testing.assert_close(crops[1, 1], (45 - torch.arange(32.0)).expand(32, 32), rtol=0, atol=0)  # columns


def test_center_crop_default_resize() -> None:
    img = ramp(146, 200)  # 146 = 256/224 * 128: no resize, then the centre 128 square
    torch.testing.assert_close(center_crop(img, 128)[0], img[:, 9:137, 36:164], rtol=0, atol=0)


def test_bad_arguments() -> None:
    with pytest.raises(UserError, match="crops must be one of"):
        make_views(5, 32)
    with pytest.raises(UserError, match="cannot take"):
        ten_crop(ramp(40, 40), 32, resize=20)
    with pytest.raises(UserError, match="one CHW image"):
        paper_144_crops(torch.zeros(2, 3, 40, 40), 32)
