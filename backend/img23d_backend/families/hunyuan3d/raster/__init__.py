"""Rasterization for Hunyuan3D-2's texture pipeline without its compiled CUDA extension.

This package owns a pure-PyTorch implementation of ``custom_rasterizer.rasterize`` and
``custom_rasterizer.interpolate`` (``torch_rasterizer``: the entry points and the semantics;
``faces``: screen-space set-up; ``grids``: bucketed dense evaluation; ``depth``: the depth test)
and the shim that registers it under the module name ``custom_rasterizer`` when the compiled
extension is not importable (``shim``).
"""

from .shim import active_rasterizer, find_compiled, install_custom_rasterizer
from .torch_rasterizer import interpolate, rasterize

__all__ = ["active_rasterizer", "find_compiled", "install_custom_rasterizer", "interpolate", "rasterize"]
