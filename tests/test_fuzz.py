"""Property-based fuzzing of image decoding and test-time crop geometry (config: test_fuzz_config.py;
checkpoints: test_fuzz_checkpoints.py).

The rule every property checks: whatever goes in, the only exception that may come out is one of the
project's own :class:`~googlenet.errors.UserError` subclasses, with a non-empty one-line message (the CLI
prints it as one line and exits 2). Examples are bounded so the file stays well under a minute on 2 cores.
Output paths, crop sizes and numbers typed on the command line are fuzzed through the CLI in test_fuzz_paths.py.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import assume, example, given
from hypothesis import strategies as st
from PIL import Image

from _fuzzing import attempt, check_message, fuzz, scratch_file
from googlenet.data.crops import center_crop, default_resize, flip_crop, make_views, paper_144_crops, ten_crop
from googlenet.data.decode import ImageDecodeError, open_image
from googlenet.errors import InputSizeError, UserError

# ---------------------------------------------------------------------------------------------------------
# image decoding
# ---------------------------------------------------------------------------------------------------------

MAGICS = [
    b"",
    b"\xff\xd8\xff\xe0",
    b"\xff\xd8\xff\xdb",
    b"\x89PNG\r\n\x1a\n",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
    b"P6\n",
    b"P5\n",
    b"P6\n3 2\n255\n",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    b"\x00\x00\x01\x00",
]
EXTENSIONS = ["", ".jpg", ".png", ".gif", ".bmp", ".tif", ".webp", ".ppm", ".txt"]


@pytest.mark.filterwarnings("ignore::UserWarning")  # PIL warns on corrupt EXIF before refusing the file
@fuzz(300)
@given(magic=st.sampled_from(MAGICS), body=st.binary(max_size=200), suffix=st.sampled_from(EXTENSIONS))
@example(magic=b"", body=b"", suffix=".jpg")
def test_open_image_random_bytes(magic: bytes, body: bytes, suffix: str) -> None:
    path = scratch_file(magic + body, suffix)
    for mode in ("RGB", "L"):
        out = attempt(open_image, path, mode)
        if isinstance(out, UserError):
            assert isinstance(out, ImageDecodeError)
        else:
            assert out.mode == mode and min(out.size) >= 1


@fuzz(100)
@given(name=st.text(alphabet=st.characters(exclude_categories=["Cc", "Cs"]), max_size=30))
@example(name="")
@example(name="\x00")
@example(name="/")
def test_open_image_any_path(name: str) -> None:
    out = attempt(open_image, Path(name))
    assert isinstance(out, ImageDecodeError) or out.mode == "RGB"


def test_open_image_path_with_a_newline() -> None:
    attempt(open_image, Path("photo\n.jpg"))


def test_open_image_name_too_long() -> None:
    attempt(open_image, Path("a" * 300 + ".jpg"))


def _encoded(fmt: str, mode: str = "RGB", size: tuple[int, int] = (29, 21), **save: Any) -> bytes:
    g = torch.Generator().manual_seed(0)
    w, h = size
    channels = {"RGB": 3, "RGBA": 4, "L": 1, "P": 1}[mode]
    pixels = torch.randint(0, 256, (h, w, channels), generator=g, dtype=torch.uint8).squeeze(-1).numpy()
    img = Image.fromarray(pixels, "L" if mode == "P" else mode)
    if mode == "P":
        img = img.convert("P")
    buf = io.BytesIO()
    img.save(buf, fmt, **save)
    return buf.getvalue()


REAL_IMAGES = {
    "jpeg": (_encoded("JPEG", quality=90), ".jpg"),
    "progressive-jpeg": (_encoded("JPEG", progressive=True), ".jpg"),
    "png": (_encoded("PNG"), ".png"),
    "png-rgba": (_encoded("PNG", "RGBA"), ".png"),
    "png-palette": (_encoded("PNG", "P"), ".png"),
    "gif": (_encoded("GIF", "P"), ".gif"),
    "bmp": (_encoded("BMP"), ".bmp"),
    "tiff": (_encoded("TIFF"), ".tif"),
    "webp": (_encoded("WEBP"), ".webp"),
}


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_open_image_truncated_everywhere(fmt: str) -> None:
    """Every proper prefix of a real JPEG and PNG: refused as truncated or (after the pixels) decoded whole."""
    data, suffix = REAL_IMAGES[fmt]
    whole = open_image(scratch_file(data, suffix))
    path = scratch_file(b"", suffix)
    for cut in range(len(data)):
        path.write_bytes(data[:cut])
        out = attempt(open_image, path)
        if isinstance(out, UserError):
            assert isinstance(out, ImageDecodeError)
        else:  # only the trailer is missing
            assert out.size == whole.size and out.tobytes() == whole.tobytes(), cut


@pytest.mark.filterwarnings("ignore::UserWarning")
@fuzz(150)
@given(fmt=st.sampled_from(sorted(REAL_IMAGES)), data=st.data())
def test_open_image_truncated_or_corrupted(fmt: str, data: st.DataObject) -> None:
    """Any real format, truncated at a random offset and/or with random bytes overwritten."""
    blob, suffix = REAL_IMAGES[fmt]
    blob = bytearray(blob[: data.draw(st.integers(0, len(blob)), label="cut")])
    for _ in range(data.draw(st.integers(0, 4), label="flips")):
        if blob:
            blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    out = attempt(open_image, scratch_file(bytes(blob), suffix))
    if isinstance(out, UserError):
        assert isinstance(out, ImageDecodeError)
    else:
        assert out.mode == "RGB"


# ---------------------------------------------------------------------------------------------------------
# test-time crops
# ---------------------------------------------------------------------------------------------------------


@st.composite
def images(draw: st.DrawFn, max_side: int = 96) -> torch.Tensor:
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    c = draw(st.sampled_from([1, 3, 4]))
    if draw(st.booleans()):
        return torch.randint(0, 256, (c, h, w), dtype=torch.uint8)
    return torch.rand(c, h, w)


def _in_range(out: torch.Tensor, img: torch.Tensor) -> bool:
    """Bilinear (antialiased) resizing and cropping never leave the input's value range."""
    lo, hi = img.min().item(), img.max().item()
    tol = 1e-4 if img.is_floating_point() else 0
    return out.min().item() >= lo - tol and out.max().item() <= hi + tol


@fuzz(80)
@given(img=images(), size=st.integers(1, 40), extra=st.one_of(st.none(), st.integers(0, 20)))
@example(img=torch.zeros(3, 1, 1, dtype=torch.uint8), size=1, extra=None)
@example(img=torch.full((3, 5, 7), 200, dtype=torch.uint8), size=1, extra=None)  # uint8 to 1 x 1: torch asserts
@example(img=torch.zeros(3, 1, 96), size=40, extra=None)
@example(img=torch.zeros(3, 40, 40), size=40, extra=0)
def test_center_and_ten_crop_shapes(img: torch.Tensor, size: int, extra: int | None) -> None:
    resize = None if extra is None else size + extra
    c = img.shape[0]
    one, ten = center_crop(img, size, resize), ten_crop(img, size, resize)
    assert one.shape == (1, c, size, size) and ten.shape == (10, c, size, size)
    assert one.dtype == ten.dtype == img.dtype
    assert torch.equal(ten[5:], ten[:5].flip(-1))  # mirrors of the first five
    assert torch.equal(ten[4], one[0])  # the 10-crop centre is the centre crop
    assert _in_range(one, img) and _in_range(ten, img)
    views = make_views(10, size, resize)(img)
    assert torch.equal(views, ten)


@fuzz(40)
@given(img=images(max_side=64), size=st.integers(1, 24), distinct=st.booleans())
@example(img=torch.zeros(1, 1, 64, dtype=torch.uint8), size=24, distinct=False)
@example(img=torch.zeros(3, 7, 7), size=24, distinct=True)
@example(img=torch.full((3, 1, 1), 9, dtype=torch.uint8), size=1, distinct=False)
def test_144_crops_shapes(img: torch.Tensor, size: int, distinct: bool) -> None:
    c, h, w = img.shape
    out = paper_144_crops(img, size, distinct=distinct)
    n = 48 if distinct and h == w else 144
    assert out.shape == (n, c, size, size) and out.dtype == img.dtype
    assert torch.equal(out[n // 2 :], out[: n // 2].flip(-1))
    assert _in_range(out, img)
    assert make_views(144, size)(img).shape == (48 if h == w else 144, c, size, size)


@pytest.mark.slow
@fuzz(25)
@given(h=st.integers(224, 420), w=st.integers(224, 420))
def test_crops_at_paper_size(h: int, w: int) -> None:
    img = torch.randint(0, 256, (3, h, w), dtype=torch.uint8)
    assert center_crop(img, 224).shape == (1, 3, 224, 224)
    assert ten_crop(img, 224).shape == (10, 3, 224, 224)
    assert paper_144_crops(img, 224, distinct=True).shape[1:] == (3, 224, 224)


@st.composite
def bad_crop_calls(draw: st.DrawFn) -> tuple[str, torch.Tensor, Any, Any]:
    """An image with an empty side or no channels, a wrong number of dimensions, a crop size below 1 or not
    a whole number, or a resize below the crop size."""
    size: Any = draw(st.integers(1, 16))
    resize: Any = None
    kind = draw(st.sampled_from(["empty", "ndim", "size", "resize", "type"]))
    if kind == "empty":
        shape = [draw(st.integers(0, 3)), draw(st.integers(0, 20)), draw(st.integers(0, 20))]
        assume(0 in shape)
    elif kind == "ndim":
        shape = draw(st.lists(st.integers(1, 6), min_size=0, max_size=5).filter(lambda s: len(s) != 3))
    else:
        shape = [3, draw(st.integers(1, 20)), draw(st.integers(1, 20))]
        if kind == "size":
            size = draw(st.integers(-(2**40), 0))
        elif kind == "resize":
            resize = draw(st.integers(-(2**40), size - 1))
        else:
            size = draw(st.one_of(st.floats(), st.text(max_size=3), st.none(), st.just(torch.tensor(8.0))))
    dtype = draw(st.sampled_from([torch.uint8, torch.float32]))
    return kind, torch.zeros(shape, dtype=dtype), size, resize


@fuzz(150)
@given(call=bad_crop_calls(), scheme=st.sampled_from([1, 2, 10, 144]))
@example(call=("empty", torch.zeros(3, 0, 5), 8, None), scheme=1)
@example(call=("empty", torch.zeros(0, 10, 10), 8, None), scheme=10)
@example(call=("size", torch.zeros(3, 10, 10), 0, None), scheme=144)
@example(call=("size", torch.zeros(3, 10, 10), -3, None), scheme=1)
def test_crops_refuse_too_small(call: tuple[str, torch.Tensor, Any, Any], scheme: int) -> None:
    """Too small (or misshapen) images and sizes: InputSizeError; a crop size that is no size: UserError."""
    kind, img, size, resize = call
    if scheme == 144 and kind == "resize":
        return  # 144 crops take no resize
    fn = {1: center_crop, 2: flip_crop, 10: ten_crop}.get(scheme)
    with pytest.raises(UserError) as info:
        if fn is None:
            paper_144_crops(img, size)
        else:
            fn(img, size, resize)
    check_message(info.value)
    if kind in ("empty", "ndim", "resize"):
        assert isinstance(info.value, InputSizeError)


@fuzz(50)
@given(
    crops=st.one_of(st.integers(-5, 200), st.sampled_from([1, 2, 10, 144])),
    size=st.integers(-3, 16),
    resize=st.one_of(st.none(), st.integers(-3, 20)),
)
def test_make_views_any_arguments(crops: int, size: int, resize: int | None) -> None:
    img = torch.zeros(3, 9, 13, dtype=torch.uint8)
    valid = crops in (1, 2, 10, 144) and size >= 1 and (resize is None or crops == 144 or resize >= size)
    fn = attempt(make_views, crops, size, resize)
    assert isinstance(fn, UserError) != valid  # refused at once, not on the first image
    if valid:
        out = fn(img)
        assert out.shape[1:] == (3, size, size)
        assert default_resize(size) >= size
