"""Model families. Every module in this package registers its builders on import.

Modules are discovered automatically, so adding a family is adding a file.
"""

import importlib
import pkgutil

for _mod in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if not _mod.startswith("_"):
        importlib.import_module(f"{__name__}.{_mod}")
