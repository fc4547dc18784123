"""Makes ``import custom_rasterizer`` work for hy3dgen's ``MeshRender`` without the compiled build.

This module owns the one ``sys.modules`` entry ``custom_rasterizer``: when the real compiled
extension imports cleanly (and is preferred) it is left alone; otherwise a module object exposing
the pure-PyTorch ``rasterize`` and ``interpolate`` is registered under that name. hy3dgen's files
are never edited: ``MeshRender`` does ``import custom_rasterizer as cr`` in its constructor, and
that import finds whichever module is registered here. Call ``install_custom_rasterizer()`` before
constructing a ``MeshRender``.
"""

from __future__ import annotations

import importlib
import sys
import types

from . import torch_rasterizer

MODULE_NAME = "custom_rasterizer"
_SHIM_FLAG = "__img23d_torch_rasterizer__"


def _is_shim(module: object) -> bool:
    return bool(getattr(module, _SHIM_FLAG, False))


def _is_usable(module: object) -> bool:
    return callable(getattr(module, "rasterize", None)) and callable(getattr(module, "interpolate", None))


def find_compiled() -> types.ModuleType | None:
    """The real compiled ``custom_rasterizer`` if it imports and has the two functions, else None.

    Never returns the PyTorch shim; imports the extension if nothing is registered yet.
    """
    loaded = sys.modules.get(MODULE_NAME)
    if loaded is not None:
        return None if _is_shim(loaded) or not _is_usable(loaded) else loaded
    try:
        module = importlib.import_module(MODULE_NAME)
    except (ImportError, OSError, RuntimeError):
        # Not installed, or built against another torch/CUDA (undefined symbols, missing libs).
        return None
    return module if _is_usable(module) else None


def _make_shim() -> types.ModuleType:
    module = types.ModuleType(MODULE_NAME, "Pure-PyTorch custom_rasterizer (img23d_backend.families.hunyuan3d.raster).")
    module.rasterize = torch_rasterizer.rasterize
    module.interpolate = torch_rasterizer.interpolate
    module.__all__ = ["rasterize", "interpolate"]
    setattr(module, _SHIM_FLAG, True)
    return module


def install_custom_rasterizer(prefer_compiled: bool = True) -> str:
    """Make ``custom_rasterizer`` importable; return which implementation it now is.

    Returns ``"compiled"`` when the real extension is importable and ``prefer_compiled`` is set
    (nothing is changed), else registers the PyTorch implementation and returns ``"torch"``.
    Safe to call many times: once the PyTorch module is registered it stays.
    """
    if _is_shim(sys.modules.get(MODULE_NAME)):
        return "torch"
    if prefer_compiled and find_compiled() is not None:
        return "compiled"
    sys.modules[MODULE_NAME] = _make_shim()
    return "torch"


def active_rasterizer() -> str:
    """Which ``custom_rasterizer`` an import gets now: ``"torch"``, ``"compiled"`` or ``"none"``.

    Looks only at what is already registered; it imports nothing.
    """
    current = sys.modules.get(MODULE_NAME)
    if current is None:
        return "none"
    return "torch" if _is_shim(current) else "compiled"
