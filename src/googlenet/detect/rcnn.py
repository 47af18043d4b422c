"""The paper's own detector (Section 8), for study: R-CNN (Girshick et al. 2014) with GoogLeNet as the region
classifier.

What Section 8 says, and where it is here:

- "similar to R-CNN": proposals, each warped to the classifier's input and classified; no CNN features shared
  between regions (:class:`RCNN`);
- "the Inception model as the region classifier": any classification network of this project with K + 1 outputs,
  index 0 the background (:func:`label_proposals`: positives at IoU >= 0.5 with a ground-truth box, as R-CNN
  fine-tunes; everything else background);
- "Selective Search ... with the superpixel size increased by 2x": OpenCV's ``ximgproc.segmentation`` Selective
  Search (Uijlings et al.), fast mode, its graph-segmentation ``k`` doubled from OpenCV's defaults (150 -> 300: a
  larger ``k`` gives larger superpixels) (:class:`SelectiveSearch`);
- "combined with multi-box predictions": NOT built (MultiBox is a separately trained proposal network);
- "no bounding box regression": none; the boxes returned are the proposals themselves;
- "ensemble of 6 ConvNets": not built (one classifier);
- per-class non-maximum suppression (R-CNN's, IoU 0.3), by ``torchvision.ops.batched_nms``.

R-CNN's warp is kept: each proposal is dilated so that the warped crop has 16 pixels of context around the box
at the classifier's input size, then warped (anisotropically) to that size; outside the image the crop is the
mean (zero after normalisation, as R-CNN fills it). The warp is ``torchvision.ops.roi_align`` (bilinear).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn
from torchvision.ops import batched_nms, box_iou, clip_boxes_to_image, roi_align

from ..contract import IMAGENET_MEAN, IMAGENET_STD

# Section 8: "superpixel size was increased by 2x": OpenCV's fast-mode k (150, step 150), doubled
PAPER_BASE_K = 300
PAPER_INC_K = 300
SIGMA = 0.8  # Felzenszwalb-Huttenlocher smoothing, OpenCV's and Selective Search's default
CONTEXT_PAD = 16  # R-CNN: 16 pixels of warped context around each proposal
NMS_IOU = 0.3  # R-CNN's per-class NMS overlap
POSITIVE_IOU = 0.5  # R-CNN fine-tuning: a proposal with IoU >= 0.5 with a ground-truth box is that box's class


class SelectiveSearch:
    """Selective Search proposals (OpenCV ``ximgproc``), XYXY in the pixels of the image given.

    Args:
        base_k, inc_k, sigma: the graph segmentation's parameters (defaults: the paper's doubled superpixel size).
        quality: OpenCV's "quality" mode (more strategies, slower) instead of "fast".
        max_side: run on the image shrunk so its longer side is at most this (speed); boxes are scaled back.
        min_side: drop proposals narrower or lower than this many pixels (of the original image).
        max_proposals: keep the first N (OpenCV returns them in its hierarchical order).
    """

    def __init__(
        self,
        base_k: int = PAPER_BASE_K,
        inc_k: int = PAPER_INC_K,
        sigma: float = SIGMA,
        quality: bool = False,
        max_side: int | None = 500,
        min_side: float = 4.0,
        max_proposals: int = 2000,
    ) -> None:
        self.base_k, self.inc_k, self.sigma, self.quality = base_k, inc_k, sigma, quality
        self.max_side, self.min_side, self.max_proposals = max_side, min_side, max_proposals

    def __call__(self, image: Tensor) -> Tensor:
        """Proposals for an RGB image (C x H x W, float 0-1 or uint8): an N x 4 float tensor, XYXY."""
        import cv2  # the detect extra: opencv-contrib-python-headless

        h, w = image.shape[-2:]
        scale = 1.0
        if self.max_side is not None and max(h, w) > self.max_side:
            scale = self.max_side / max(h, w)
        pixels = image if image.dtype == torch.uint8 else (image.clamp(0, 1) * 255).round().to(torch.uint8)
        bgr = np.ascontiguousarray(pixels.permute(1, 2, 0).numpy()[..., ::-1])
        if scale != 1.0:
            bgr = cv2.resize(bgr, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        ss = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
        ss.setBaseImage(bgr)
        if self.quality:
            ss.switchToSelectiveSearchQuality(self.base_k, self.inc_k, self.sigma)
        else:
            ss.switchToSelectiveSearchFast(self.base_k, self.inc_k, self.sigma)
        rects = torch.as_tensor(np.asarray(ss.process()).reshape(-1, 4), dtype=torch.float32)
        boxes = torch.cat([rects[:, :2], rects[:, :2] + rects[:, 2:]], 1) / scale
        boxes = clip_boxes_to_image(boxes, (h, w))
        keep = ((boxes[:, 2] - boxes[:, 0]) >= self.min_side) & ((boxes[:, 3] - boxes[:, 1]) >= self.min_side)
        return boxes[keep][: self.max_proposals]


def label_proposals(
    proposals: Tensor, gt_boxes: Tensor, gt_labels: Tensor, positive_iou: float = POSITIVE_IOU
) -> Tensor:
    """R-CNN's fine-tuning labels: the class of the ground-truth box a proposal overlaps most if that IoU is at
    least ``positive_iou``, else 0 (background)."""
    if len(gt_boxes) == 0 or len(proposals) == 0:
        return torch.zeros(len(proposals), dtype=torch.int64)
    iou, best = box_iou(proposals, gt_boxes.to(proposals.dtype)).max(1)
    return torch.where(iou >= positive_iou, gt_labels[best], torch.zeros_like(best))


def dilate_for_context(boxes: Tensor, size: int, pad: int = CONTEXT_PAD) -> Tensor:
    """Boxes grown so that, warped to ``size`` x ``size``, the original box fills the centre ``size - 2 pad`` and
    ``pad`` pixels of context surround it (R-CNN's warp)."""
    if pad <= 0:
        return boxes
    if 2 * pad >= size:
        raise ValueError(f"a context pad of {pad} px leaves nothing of a {size} px crop for the box")
    wh = (boxes[:, 2:] - boxes[:, :2]) * pad / (size - 2 * pad)
    return torch.cat([boxes[:, :2] - wh, boxes[:, 2:] + wh], 1)


def warp_regions(
    image: Tensor, boxes: Tensor, size: int, mean: Sequence[float], std: Sequence[float], pad: int = CONTEXT_PAD
) -> Tensor:
    """Each box of ``image`` (3 x H x W, 0-1) with its context, normalised, warped to 3 x size x size; outside the
    image the crop is the mean (0 after normalisation)."""
    m = torch.tensor(mean, dtype=image.dtype).view(3, 1, 1)
    s = torch.tensor(std, dtype=image.dtype).view(3, 1, 1)
    normed = ((image - m) / s)[None].contiguous()  # roi_align reads the memory as NCHW-contiguous
    rois = torch.cat([torch.zeros(len(boxes), 1), dilate_for_context(boxes, size, pad)], 1)
    return roi_align(
        normed, rois.to(image.dtype).contiguous(), output_size=size, spatial_scale=1.0, sampling_ratio=2, aligned=True
    )


class RCNN(nn.Module):
    """Proposals -> warp -> classify -> per-class NMS. ``forward(images)`` takes a list of 3 x H x W 0-1 images and
    returns torchvision-style dicts (``boxes`` XYXY in each image's pixels, ``scores``, ``labels``).

    Args:
        classifier: a classification network with num_classes = K + 1 (0: background).
        input_size: the side the regions are warped to (the classifier's input size).
        mean, std: the classifier's input normalisation (RGB, 0-1 pixels).
        proposals: a proposal function (default :class:`SelectiveSearch` with the paper's settings).
        score_threshold: keep detections scoring at least this.
        nms_iou: per-class NMS overlap (R-CNN: 0.3).
        batch_size: regions classified per forward pass.
        detections_per_image: keep the best N after NMS.
        context_pad: pixels of context around each box in the warped crop (R-CNN: 16 at 227 px).
    """

    def __init__(
        self,
        classifier: nn.Module,
        input_size: int = 224,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        proposals: SelectiveSearch | None = None,
        score_threshold: float = 0.05,
        nms_iou: float = NMS_IOU,
        batch_size: int = 64,
        detections_per_image: int = 100,
        context_pad: int = CONTEXT_PAD,
    ) -> None:
        super().__init__()
        dilate_for_context(torch.zeros(0, 4), input_size, context_pad)  # refuses a pad too large for the size
        self.context_pad = context_pad
        self.classifier = classifier
        self.input_size, self.mean, self.std = input_size, tuple(mean), tuple(std)
        self.proposals = proposals or SelectiveSearch()
        self.score_threshold, self.nms_iou = score_threshold, nms_iou
        self.batch_size, self.detections_per_image = batch_size, detections_per_image

    @torch.no_grad()
    def detect(self, image: Tensor) -> dict[str, Tensor]:
        """Detections in one image."""
        boxes = self.proposals(image)
        if len(boxes) == 0:
            empty = torch.zeros(0)
            return {"boxes": empty.reshape(0, 4), "scores": empty, "labels": empty.long()}
        probs = []
        for chunk in boxes.split(self.batch_size):
            crops = warp_regions(image, chunk, self.input_size, self.mean, self.std, self.context_pad)
            probs.append(torch.softmax(self.classifier(crops), dim=1))
        p = torch.cat(probs)[:, 1:]  # no background detections
        k = p.shape[1]
        scores = p.reshape(-1)
        labels = torch.arange(1, k + 1).repeat(len(boxes))
        all_boxes = boxes.repeat_interleave(k, 0)
        keep = scores >= self.score_threshold
        all_boxes, scores, labels = all_boxes[keep], scores[keep], labels[keep]
        keep = batched_nms(all_boxes, scores, labels, self.nms_iou)[: self.detections_per_image]
        return {"boxes": all_boxes[keep], "scores": scores[keep], "labels": labels[keep]}

    def forward(self, images: list[Tensor]) -> list[dict[str, Tensor]]:
        self.classifier.eval()
        return [self.detect(im.as_subclass(Tensor)) for im in images]
