"""Where the add-on finds the backend's code, and the two modules both sides share.

The protocol lives once, in the backend package (``img23d_backend/protocol.py``, standard
library only), and so does the layout math (``img23d_backend/layout.py``: camera, distances,
floor, placements; standard library only, importing nothing else of the package). The built
extension carries the backend's source in ``backend/`` beside this file; a source checkout has it
one folder up. Either way the add-on loads those very files, so the two sides can never disagree
about message shapes or about where an object stands.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

_HERE = Path(__file__).resolve().parent


def backend_source_dir() -> Path:
    """The folder that contains the ``img23d_backend`` package."""
    for candidate in (_HERE / "backend", _HERE.parent / "backend"):
        if (candidate / "img23d_backend" / "protocol.py").is_file():
            return candidate
    raise FileNotFoundError(f"the backend package is missing next to {_HERE}; reinstall the add-on")


def _load(module: str) -> ModuleType:
    name = f"{__package__ or 'img23d'}._{module}"
    if name in sys.modules:
        return sys.modules[name]
    path = backend_source_dir() / "img23d_backend" / f"{module}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded  # dataclasses look their module up while the class is built
    spec.loader.exec_module(loaded)
    return loaded


protocol = _load("protocol")
layout = _load("layout")
