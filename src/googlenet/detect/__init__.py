"""Detection, the paper's Section 8: data in Penn-Fudan / COCO / VOC layouts, COCO metrics by pycocotools,
Faster R-CNN on a GoogLeNet backbone (:mod:`.fasterrcnn`) and the paper's R-CNN pipeline (:mod:`.rcnn`).

Submodules are imported on demand: ``pycocotools`` and OpenCV's contrib modules are the ``detect`` extra.
"""
