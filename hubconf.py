"""torch.hub entry points: one per registered model, from a clone of this repository.

    import torch
    model = torch.hub.load("path/to/googlenet", "googlenet", source="local")  # random weights
    model = torch.hub.load("path/to/googlenet", "googlenet", source="local", pretrained="runs/x/best.safetensors")
    model = torch.hub.load("path/to/googlenet", "googlenet_bn", source="local", pretrained=True)  # torchvision's
    torch.hub.list("path/to/googlenet", source="local")  # every model name

``pretrained``: False (random weights), True (torchvision's published weights, for models with a torchvision
twin), a checkpoint path or Hub directory, or an ``http(s)://`` URL of a .safetensors checkpoint; builder options
(``num_classes``, ``width``...) go as keywords. See :func:`googlenet.hub.hub_model`.

torch.hub finds an entry with ``getattr(hubconf, name)`` and lists the public callables of this module, so the
entries are module attributes, made from the registry by the loop at the bottom; everything else here starts
with an underscore so that ``torch.hub.list`` shows model names only.
"""

import os as _os
import sys as _sys

dependencies = ["torch", "torchvision", "numpy", "safetensors", "yaml", "PIL"]  # checked by torch.hub first

_SRC = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "src")
if _SRC not in _sys.path:  # the clone's own package, installed or not
    _sys.path.insert(0, _SRC)

from googlenet.hub import hub_entries as _hub_entries  # noqa: E402

for _name, _entry in _hub_entries().items():  # one module attribute per registered model: googlenet, resnet50...
    globals()[_name] = _entry
del _name, _entry
