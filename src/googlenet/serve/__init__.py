"""``googlenet serve``: an HTTP API and a web page for predictions, with dynamic batching and Grad-CAM.

:mod:`.service` (the checkpoint, its preprocessing, the back end, Grad-CAM, the model card) and :mod:`.batching`
need no web package; :mod:`.app` (Starlette) and :mod:`.server` (uvicorn) need the ``serve`` extra
(``pip install 'googlenet[serve]'``), so this package imports neither.
"""

from .batching import BatchStats, DynamicBatcher
from .service import ServeOptions, Service, model_card

__all__ = ["BatchStats", "DynamicBatcher", "ServeOptions", "Service", "model_card"]
