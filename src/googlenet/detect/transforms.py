"""Transforms v2 for detection: the boxes move with the image.

Faster R-CNN resizes and normalises inside the model (``GeneralizedRCNNTransform``), so the data pipeline only
augments: a horizontal flip, a random zoom out / IoU crop, then ``SanitizeBoundingBoxes`` drops the boxes a crop
left empty (with their labels). ``max_size`` caps the longer side first, for speed on a CPU.
"""

from __future__ import annotations

from torchvision.transforms import v2


def detection_transforms(
    train: bool, max_size: int | None = None, flip: float = 0.5, crop: bool = True, zoom_out: bool = False
) -> v2.Compose:
    """The pair transform for training (``train=True``: augmentation) or evaluation (resize only).

    Args:
        train: augment (flip, zoom, crop) or not.
        max_size: resize so the longer side is at most this many pixels (None: keep the size).
        flip: probability of a horizontal flip.
        crop: a random IoU crop (SSD's, ``RandomIoUCrop``), then sanitize.
        zoom_out: a random zoom out (``RandomZoomOut``, fill 0.5) before the crop.
    """
    steps: list[v2.Transform] = []
    if max_size is not None:
        steps.append(v2.Resize(size=None, max_size=max_size))  # longer side max_size (torchvision >= 0.18)
    if train:
        if zoom_out:
            steps.append(v2.RandomZoomOut(fill=0.5, side_range=(1.0, 2.0), p=0.5))
        if crop:
            steps.append(v2.RandomApply([v2.RandomIoUCrop()], p=0.5))
        if flip > 0:
            steps.append(v2.RandomHorizontalFlip(flip))
    steps.append(v2.ClampBoundingBoxes())
    steps.append(v2.SanitizeBoundingBoxes(min_size=1.0))
    return v2.Compose(steps)
