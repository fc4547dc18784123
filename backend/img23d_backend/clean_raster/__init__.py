"""The licence-clean family's rasterizer, img23d's own (``rasterizer``: coverage, depth,
barycentrics and interpolation; ``edges``: the triangles' fixed-point set-up). It shares no code
with ``raster`` (Hunyuan3D's semantics, for the Hunyuan family) and imports nothing but torch."""

from .rasterizer import interpolate, rasterize

__all__ = ["interpolate", "rasterize"]
