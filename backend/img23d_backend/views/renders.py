"""What a side's camera sees of a textured mesh: its colour texture, unlit, on a transparent ground.

The projection's measure and pictures (the benchmark, the tests, the guide's before/after) look at
meshes through this one renderer: the licence-clean family's rasterizer, the side cameras of
``cameras`` (also at any azimuth between them), each pixel's UV looked up bilinearly in the texture.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage

from .cameras import ViewCamera, Window, rasterize_view


def camera_at(azimuth_degrees: float, centre: np.ndarray) -> ViewCamera:
    """An orthographic camera at ``azimuth_degrees`` around +Z, counter-clockwise from -Y (the sides'
    ``SIDE_AZIMUTH_DEGREES`` convention), looking at ``centre``; named by its azimuth."""
    azimuth = math.radians(azimuth_degrees)
    forward = -np.array([math.sin(azimuth), -math.cos(azimuth), 0.0])
    up = np.array([0.0, 0.0, 1.0])
    return ViewCamera(f"{azimuth_degrees:g}", np.asarray(centre, dtype=np.float64), np.cross(forward, up), up, forward)


def render(mesh: Any, texture: Image.Image, camera: ViewCamera, window: Window) -> np.ndarray:
    """The mesh seen by ``camera`` in ``window``: float RGBA (size, size, 4), alpha 1 on the mesh."""
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    faces = np.asarray(mesh.faces, dtype=np.int64)
    raster = rasterize_view(camera, vertices, faces, window)
    corners = faces[np.where(raster.mask, raster.face, 0)]
    pixel_uv = (raster.barycentrics[..., None] * np.asarray(mesh.visual.uv, dtype=np.float64)[corners]).sum(axis=2)
    image = np.asarray(texture.convert("RGB"), dtype=np.float64) / 255.0
    height, width = image.shape[:2]
    rows, columns = (1 - pixel_uv[..., 1]) * (height - 1), pixel_uv[..., 0] * (width - 1)
    colour = np.stack([ndimage.map_coordinates(image[..., c], [rows, columns], order=1, mode="nearest")
                       for c in range(3)], axis=-1)
    mask = raster.mask[..., None]
    return np.concatenate([colour * mask, mask.astype(np.float64)], axis=-1)


def to_image(rgba: np.ndarray) -> Image.Image:
    """A float RGBA render as an 8-bit RGBA picture."""
    return Image.fromarray((np.clip(rgba, 0, 1) * 255 + 0.5).astype(np.uint8), "RGBA")
