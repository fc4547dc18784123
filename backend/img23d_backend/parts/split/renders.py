"""What the grounding and matting models look at: the mesh rendered from several sides, shaded grey
on white, and which face each pixel shows.

Every render goes through img23d's own rasterizer (``views.cameras.rasterize_view`` over
``clean_raster``), with orthographic cameras around +Z (Blender's up) at several heights, so that
tops (a table's) and undersides (a lamp shade's) are seen by some render. All renders share one
window, large enough for the whole mesh from any side: a part has the same size in pixels in each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image

from ...views.cameras import ViewCamera, ViewRaster, Window, rasterize_view
from .surface import Surface

# (azimuth, elevation) in degrees: four sides from a little above, four corners from higher up, and
# two from below for undersides. Azimuth counts counter-clockwise from -Y (the front), as the sides' do.
DIRECTIONS: tuple[tuple[float, float], ...] = (
    (0, 15), (90, 15), (180, 15), (270, 15),
    (45, 50), (135, 50), (225, 50), (315, 50),
    (30, -40), (210, -40),
)
RENDER_SIZE = 512      # Qwen3-VL reads it whole (within its pixel budget); matting crops from it
BACKGROUND = 255       # white, as a studio backdrop: what the matting model expects around an object
_BASE_GREY = 205.0     # the surface's colour before shading


@dataclass(frozen=True)
class PartView:
    """One render: its camera, the face under each pixel, and the picture the models read (RGB)."""

    camera: ViewCamera
    raster: ViewRaster
    picture: Image.Image


def camera_towards(azimuth: float, elevation: float, centre: np.ndarray) -> ViewCamera:
    """An orthographic camera at ``azimuth`` and ``elevation`` (degrees) looking at ``centre``, +Z up on
    the picture (the world's up tilted with the camera, so a view from above still stands upright)."""
    a, e = math.radians(azimuth), math.radians(elevation)
    toward_camera = np.array([math.sin(a) * math.cos(e), -math.cos(a) * math.cos(e), math.sin(e)])
    forward = -toward_camera
    right = np.cross(forward, np.array([0.0, 0.0, 1.0]))
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return ViewCamera(f"{azimuth:g},{elevation:g}", np.asarray(centre, dtype=np.float64), right, up, forward)


def window_of(surface: Surface, size: int) -> Window:
    """The window every render shares: the bounding sphere fits every side's, and 5 % more keeps the
    outline off the picture's edge."""
    return Window(half=max(surface.radius * 1.05, 1e-9), size=size)


def render_views(surface: Surface, size: int = RENDER_SIZE,
                 directions: tuple[tuple[float, float], ...] = DIRECTIONS,
                 check: Callable[[], None] | None = None) -> list[PartView]:
    """The mesh from each of ``directions`` at ``size`` x ``size`` pixels; ``check`` (a job's cancel check)
    runs before each render, so that a stop ends the renders at the next one."""
    low, high = surface.vertices.min(axis=0), surface.vertices.max(axis=0)
    centre = (low + high) / 2
    window = window_of(surface, size)
    views = []
    for azimuth, elevation in directions:
        if check is not None:
            check()
        camera = camera_towards(azimuth, elevation, centre)
        raster = rasterize_view(camera, surface.vertices, surface.faces, window)
        views.append(PartView(camera, raster, shade(surface, camera, raster)))
    return views


def shade(surface: Surface, camera: ViewCamera, raster: ViewRaster) -> Image.Image:
    """The render as a picture: grey, lit from over the camera's shoulder, both sides of a face alike
    (a generated mesh's winding is not always outward), white where no face is."""
    light = -camera.forward + 0.6 * camera.up + 0.3 * camera.right
    light /= np.linalg.norm(light)
    normal = surface.normals[np.where(raster.mask, raster.face, 0)]
    lit = 0.3 + 0.7 * np.abs(normal @ light)
    grey = np.where(raster.mask, _BASE_GREY * lit, BACKGROUND)
    return Image.fromarray(np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[..., None], 3, axis=2), "RGB")

