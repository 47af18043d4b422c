"""Pictures for the documentation site that need data or a run: ``python scripts/docs_pictures.py [--run DIR]``.

- ``docs/img/crops144.png``: the 144 test-time crops of Section 7 (:func:`googlenet.data.crops.paper_144_crops`) of
  one real photo from Imagenette (``../shared/data/imagenette2-128.tar.gz``, found by
  ``googlenet.data.sources.locate``, or ``--photo FILE``). Without the data the script says so, leaves the
  committed picture alone and exits 0.
- ``docs/img/training_curves.png``: the ``curves.png`` a training run wrote, copied from ``--run DIR``, and
  ``docs/cards/example.md``: the model card of the run's best checkpoint, as ``googlenet card`` writes it
  (nothing happens without ``--run``).

The other pictures of the site come from ``python scripts/make_docs.py`` (``docs/naive_vs_reduced.png``,
``docs/family.png``) and ``python scripts/architecture_diagram.py`` (``docs/architecture.png``). Every PNG is
written with a 256-colour palette so the committed files stay small (under ~200 KB).
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Rectangle
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from googlenet.card import checkpoint_card  # noqa: E402
from googlenet.data.crops import PAPER_SCALES, paper_144_crops, paper_scales  # noqa: E402
from googlenet.data.sources import DataNotFoundError, locate  # noqa: E402

IMG = ROOT / "docs" / "img"
CARD = ROOT / "docs" / "cards" / "example.md"
# A church (ImageNet class n03028079) from Imagenette's validation split, 128 x 128 px in imagenette2-128.
PHOTO = Path("val") / "n03028079" / "ILSVRC2012_val_00003682.jpg"
# The photo's middle 96 rows: a 4:3 landscape photo, so the left, centre and right squares differ (on a square
# photo they are one square, and each crop appears three times).
CUT_HEIGHT = 96
SQUARES = ("left", "centre", "right")
VIEWS = ("top-left", "top-right", "bottom-left", "bottom-right", "centre", "whole square")
COLOURS = ("tab:red", "tab:orange", "tab:blue")


def save_small(fig: plt.Figure, out: Path, dpi: int) -> Path:
    """Save ``fig`` as a palette PNG (256 colours): a photo grid stays around 100-200 KB."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    buf.seek(0)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.open(buf).convert("RGB").quantize(256, dither=Image.Dither.NONE).save(out, optimize=True)
    return out


def find_photo(given: str | None) -> Path | None:
    """``--photo``, else the church photo of Imagenette-128 (extracted once into the cache); None without data."""
    if given:
        return Path(given)
    try:
        root = locate("imagenette2-128")
    except DataNotFoundError as err:
        print(f"crops144: no Imagenette here ({err}); docs/img/crops144.png left as it is")
        return None
    photo = root / PHOTO
    if not photo.is_file():  # another copy of the data set: the first photo of the class
        photo = min((root / PHOTO.parent).iterdir())
    return photo


def crops_picture(photo: Path, out: Path) -> Path:
    """The photo (cut to landscape) with its three squares, and the 144 crops as a 12 x 12 grid."""
    img = Image.open(photo).convert("RGB")
    w, h = img.size
    cut = min(h, CUT_HEIGHT if w == h else h)
    top = (h - cut) // 2
    img = img.crop((0, top, w, top + cut))
    chw = torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)
    crop = round(min(img.size) * 224 / 256)  # the first scale leaves the photo as it is
    views = paper_144_crops(chw, crop)  # (144, 3, crop, crop): ((scale * 3 + square) * 6 + view), then mirrors
    scales = paper_scales(crop)

    fig = plt.figure(figsize=(11, 6.4))
    grid = fig.add_gridspec(2, 2, width_ratios=(1, 2.6), height_ratios=(1, 1.3), wspace=0.12, hspace=0.55)
    ax = fig.add_subplot(grid[0, 0])
    ax.imshow(img)
    s = min(img.size)
    lefts = (0, (img.size[0] - s) // 2, img.size[0] - s) if img.size[0] >= img.size[1] else (0, 0, 0)
    for left, colour, name in zip(lefts, COLOURS, SQUARES, strict=True):
        ax.add_patch(Rectangle((left - 0.5, -0.5), s, s, fill=False, lw=2, ec=colour, label=f"{name} square"))
    ax.set_title(f"the photo at the first scale ({img.size[0]} x {img.size[1]} px)", fontsize=8)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=3, frameon=False, handlelength=1)
    ax.axis("off")

    ax = fig.add_subplot(grid[1, 0])
    square = np.asarray(img)[:, lefts[1] : lefts[1] + s]
    ax.imshow(square)
    m = s - crop
    for i, (x, y) in enumerate(((0, 0), (m, 0), (0, m), (m, m), (m / 2, m / 2))):
        ax.add_patch(Rectangle((x - 0.5, y - 0.5), crop, crop, fill=False, lw=1.2, ec=f"C{i}", ls="--"))
    ax.set_title(f"six views of a square: 5 crops of {crop} px\nand the whole square resized to {crop} px", fontsize=8)
    ax.axis("off")

    ax = fig.add_subplot(grid[:, 1])
    tile, gap = crop, 2
    rows, cols = len(scales) * 3, 12
    canvas = np.full((rows * (tile + gap) - gap, cols * (tile + gap) + 3 * gap - gap, 3), 255, np.uint8)
    for i in range(144):
        first, mirrored = i % 72, i >= 72
        r, v = first // 6, first % 6
        c = v + 6 * mirrored
        y, x = r * (tile + gap), c * (tile + gap) + 3 * gap * mirrored
        canvas[y : y + tile, x : x + tile] = views[i].permute(1, 2, 0).numpy()
    ax.imshow(canvas)
    ax.yaxis.tick_right()
    ax.set_yticks(
        [r * (tile + gap) + tile / 2 for r in range(rows)],
        [f"{paper} px, {sq}" for paper in PAPER_SCALES for sq in SQUARES],
        fontsize=7,
    )
    for label, colour in zip(ax.get_yticklabels(), COLOURS * len(scales), strict=True):
        label.set_color(colour)
    ax.set_xticks(
        [c * (tile + gap) + 3 * gap * (c >= 6) + tile / 2 for c in range(cols)],
        [*VIEWS, *(f"{v}, mirrored" for v in VIEWS)],
        fontsize=6.5,
        rotation=50,
        ha="right",
    )
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(
        "the 144 crops: 4 scales x 3 squares x 6 views x 2 mirrors\n"
        "(rows named by the paper's shorter sides for 224 px crops; "
        f"here {crop} px crops at {', '.join(map(str, scales))} px)",
        fontsize=8,
    )
    fig.suptitle(f"paper_144_crops on an Imagenette photo ({photo.parent.name}/{photo.name})", fontsize=9)
    return save_small(fig, out, dpi=85)


def copy_curves(run: Path, out: Path) -> Path:
    """The run's ``curves.png`` (the loss and accuracy curves `googlenet train` draws), re-saved as a palette PNG."""
    src = run / "curves.png"
    if not src.is_file():
        raise SystemExit(f"training_curves: {src} not found (a run folder of `googlenet train` has one)")
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.open(src).convert("RGB").quantize(256, dither=Image.Dither.NONE).save(out, optimize=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", default=None, help="draw the 144 crops of this image instead of Imagenette's")
    parser.add_argument("--run", default=None, help="a `googlenet train` run folder: copy its curves.png")
    args = parser.parse_args(argv)
    photo = find_photo(args.photo)
    if photo is not None:
        out = crops_picture(photo, IMG / "crops144.png")
        print(f"wrote {out} ({out.stat().st_size // 1024} KB) from {photo}")
    if args.run:
        out = copy_curves(Path(args.run), IMG / "training_curves.png")
        print(f"wrote {out} ({out.stat().st_size // 1024} KB) from {args.run}")
        text, _ = checkpoint_card(Path(args.run) / "best.safetensors")
        CARD.parent.mkdir(parents=True, exist_ok=True)
        CARD.write_text(text)
        print(f"wrote {CARD} (googlenet card {Path(args.run) / 'best.safetensors'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
