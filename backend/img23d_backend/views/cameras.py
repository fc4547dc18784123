"""The cameras a view was taken from, and what each sees of a mesh.

A side's camera looks at the mesh's centre from ``img23d_protocol.camera_direction(side)`` with +Z
up (Blender's axes, the one convention of ``img23d_protocol.views``), or from a little off it (turned
about +Z by a yaw, raised by a pitch: a photo is never taken exactly from its side): orthographic, or
perspective from a distance when a photo was clearly taken close up. Its picture plane has ``right`` and ``up``
axes in the mesh's units, so a photo is placed on it by a scale and an offset
(``silhouette_fit``). What the camera sees is rasterized by the licence-clean family's rasterizer
(``clean_raster``, img23d's own), orthographic clip coordinates with ``w = 1`` after the perspective
divide has been made here, so one code path serves both kinds of camera.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from img23d_protocol import camera_direction

from ..clean_raster import rasterizer

_DEPTH_SPAN = 0.8   # the mesh's depths are put in clip z [-0.8, 0.8], inside the near and far planes


@dataclass(frozen=True)
class ViewCamera:
    """A camera looking at ``centre`` from ``side``; ``distance`` None is orthographic."""

    side: str
    centre: np.ndarray       # (3,) the point the camera looks at
    right: np.ndarray        # (3,) picture x, in the mesh's units
    up: np.ndarray           # (3,) picture y
    forward: np.ndarray      # (3,) from the camera toward the object
    distance: float | None = None
    yaw: float = 0.0         # degrees turned from the side's own direction, counter-clockwise about +Z
    pitch: float = 0.0       # degrees raised above the side's level (looking down on the object)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points (N, 3) on the picture plane (N, 2; at the centre's depth a perspective camera's
        scale is the orthographic one) and their depth along the view (N,)."""
        relative = np.asarray(points, dtype=np.float64) - self.centre
        depth = relative @ self.forward
        plane = np.stack([relative @ self.right, relative @ self.up], axis=1)
        if self.distance is None:
            return plane, depth
        along = np.maximum(depth + self.distance, 1e-6 * self.distance)  # the camera stands outside the mesh
        return plane * (self.distance / along)[:, None], depth


def camera_for(side: str, centre: np.ndarray, distance: float | None = None, yaw: float = 0.0,
               pitch: float = 0.0) -> ViewCamera:
    """The camera of ``side`` (front, left, back, right) looking at ``centre``; ``yaw`` and ``pitch``
    (degrees) turn it about +Z and raise it from there, as a photo taken a little off its side is."""
    level = np.asarray(camera_direction(side), dtype=np.float64)
    turn, rise = np.radians(yaw), np.radians(pitch)
    turned = np.array([level[0] * np.cos(turn) - level[1] * np.sin(turn),
                       level[0] * np.sin(turn) + level[1] * np.cos(turn), 0.0])
    forward = -(np.cos(rise) * turned + np.array([0.0, 0.0, np.sin(rise)]))
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return ViewCamera(side, np.asarray(centre, dtype=np.float64), right, up, forward, distance, float(yaw),
                      float(pitch))


@dataclass(frozen=True)
class Window:
    """A square of the picture plane, ``half`` wide either side of its centre, seen at ``size`` pixels
    (row 0 at the top); pixel centres lie on its edges, as the rasterizer places them."""

    half: float
    size: int

    @property
    def pixel(self) -> float:
        return 2 * self.half / (self.size - 1)

    def to_pixels(self, plane: np.ndarray) -> np.ndarray:
        """Picture-plane points (N, 2) as (column, row) floats."""
        columns = (plane[:, 0] / self.half + 1) * 0.5 * (self.size - 1)
        rows = (1 - plane[:, 1] / self.half) * 0.5 * (self.size - 1)
        return np.stack([columns, rows], axis=1)

    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        """The picture-plane x and y of every pixel centre, (size, size) each."""
        steps = np.linspace(-self.half, self.half, self.size)
        return np.meshgrid(steps, steps[::-1])


@dataclass(frozen=True)
class ViewRaster:
    """What a camera sees of a mesh in a window: the face per pixel (-1: nothing) and its depth."""

    window: Window
    face: np.ndarray         # (size, size) int, -1 where no face
    depth: np.ndarray        # (size, size) float, +inf where no face
    barycentrics: np.ndarray  # (size, size, 3) float, on the face at each pixel (zeros where none)

    @property
    def mask(self) -> np.ndarray:
        return self.face >= 0


def window_for(camera: ViewCamera, vertices: np.ndarray, size: int, margin: float = 1.1) -> Window:
    """The window that holds the whole mesh as ``camera`` sees it, with a margin."""
    plane, _ = camera.project(vertices)
    half = float(np.abs(plane).max()) * margin if len(plane) else 1.0
    return Window(half=max(half, 1e-6), size=size)


def rasterize_view(camera: ViewCamera, vertices: np.ndarray, faces: np.ndarray, window: Window) -> ViewRaster:
    """The nearest face at each pixel of ``window`` and its depth along the view."""
    plane, depth = camera.project(vertices)
    low, high = float(depth.min()), float(depth.max())
    span = max(high - low, 1e-9)
    clip = np.empty((len(vertices), 4), dtype=np.float32)
    clip[:, 0] = plane[:, 0] / window.half
    clip[:, 1] = -plane[:, 1] / window.half  # the rasterizer's row 0 is clip y = -1: the picture's top
    clip[:, 2] = ((depth - low) / span * 2 - 1) * _DEPTH_SPAN
    clip[:, 3] = 1.0
    findices, bary = rasterizer.rasterize(torch.from_numpy(clip), torch.as_tensor(faces, dtype=torch.int64),
                                          (window.size, window.size))
    face = findices.numpy().astype(np.int64) - 1
    seen = face >= 0
    corners = np.asarray(faces, dtype=np.int64)[np.where(seen, face, 0)]
    pixel_depth = (bary.numpy().astype(np.float64) * depth[corners]).sum(axis=-1)
    return ViewRaster(window, face, np.where(seen, pixel_depth, np.inf), bary.numpy().astype(np.float64))
