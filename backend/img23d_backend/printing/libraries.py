"""The print's two native libraries, loaded once they are needed: a backend environment without them, or whose
native code cannot load here (lib3mf's binding opens its own shared library), is one sentence (``environment``),
never a traceback in the middle of a print."""

from __future__ import annotations

import importlib
from types import ModuleType

from img23d_protocol import ErrorCode, ProtocolError

_WHAT = {"manifold3d": "manifold3d (the solid kernel)", "lib3mf": "lib3mf (the 3MF library)"}


def manifold3d() -> ModuleType:
    return _load("manifold3d")


def lib3mf() -> ModuleType:
    module = _load("lib3mf")
    try:
        module.get_wrapper()  # opens the native library: a missing or foreign one fails here
    except (OSError, AttributeError) as exc:
        raise _missing("lib3mf", exc) from exc
    return module


def _load(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except (ImportError, OSError) as exc:
        raise _missing(name, exc) from exc


def _missing(name: str, exc: BaseException) -> ProtocolError:
    return ProtocolError(ErrorCode.ENVIRONMENT, f"printing needs {_WHAT[name]}, which cannot be loaded in this "
                                                f"backend environment ({type(exc).__name__}: {exc}): reinstall the "
                                                "backend (Install Backend, or pip install -r backend/requirements.txt)")
