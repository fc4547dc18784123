"""Upstream's six orthographic cameras and its mesh normalisation, as matrices for ``clean_raster``.

The frame (``step1x3d_texture/utils/render.py``, ``load_mesh(mesh, rescale=True)`` as
``run_ig2mv_pipeline`` calls it): the mesh is scaled about the origin, not moved, so that its largest
absolute coordinate is 0.5, then turned from glTF's y-up (front +z) to upstream's z-up frame, in
which a point (x, y, z) becomes (x, -z, y). The position and normal maps are rendered in this frame.

The cameras (``utils/camera.py``, ``get_orthogonal_camera`` with ``run_ig2mv_pipeline``'s
arguments): distance 1.8, azimuths 0, 90, 180, 270, 180, 180 each less 90 degrees, elevations 0, 0,
0, 0, +89.99, -89.99, looking at the origin with z up, and an orthographic box of +-0.55 from
0.1 to 100 whose y row is negated, so that image row 0 is the top of the view. In the mesh's own
y-up frame the views look from +z (front), +x (right), -z (back), -x (left), +y (top; image up
is +z) and -y (bottom; image up is -z).

nvdiffrast, which upstream renders with, puts normalised device coordinate -1 on the outer edge of
the first pixel; the clean family's rasterizer (``clean_raster``) puts it on that pixel's centre.
``to_clip`` scales x and y by size / (size - 1), so each pixel of img23d's rasterizer samples the
point nvdiffrast's would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ....gltf.frame import from_gltf, to_gltf

MESH_EXTENT = 0.5                   # the largest absolute coordinate after normalisation

CAMERA_DISTANCE = 1.8
ORTHO_HALF_EXTENT = 0.55
NEAR, FAR = 0.1, 100.0
VIEW_AZIMUTHS = (0.0, 90.0, 180.0, 270.0, 180.0, 180.0)   # as upstream's baker names the views
AZIMUTH_OFFSET = -90.0                                     # what run_ig2mv_pipeline adds to each
VIEW_ELEVATIONS = (0.0, 0.0, 0.0, 0.0, 89.99, -89.99)
VIEW_NAMES = ("front", "right", "back", "left", "top", "bottom")


@dataclass(frozen=True)
class Normalisation:
    """Upstream's frame for one mesh: ``apply`` maps the mesh's points into it, ``invert`` back."""

    scale: float

    # Upstream's mesh2std for up "+y", front "+x" turns (x, y, z) y-up into (x, -z, y) z-up: glTF's axes into
    # Blender's, img23d's one turn (``gltf.frame``).
    def apply(self, points: np.ndarray) -> np.ndarray:
        return from_gltf(np.asarray(points, dtype=np.float64) * self.scale)

    def invert(self, points: np.ndarray) -> np.ndarray:
        return to_gltf(np.asarray(points, dtype=np.float64)) / self.scale

    def turn(self, directions: np.ndarray) -> np.ndarray:
        """Directions (normals) into the frame: turned, not scaled."""
        return from_gltf(np.asarray(directions, dtype=np.float64))


def normalisation(vertices: np.ndarray) -> Normalisation:
    """The normalisation upstream gives a mesh with these vertices."""
    vertices = np.asarray(vertices, dtype=np.float64)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or len(vertices) == 0:
        raise ValueError(f"the mesh's vertices are {vertices.shape}: expected a non-empty (N, 3) array")
    if not np.isfinite(vertices).all():
        raise ValueError("the mesh has vertices that are not finite numbers")
    extent = float(np.abs(vertices).max())
    if extent == 0.0:
        raise ValueError("every vertex of the mesh is at the origin: there is no surface to paint")
    return Normalisation(scale=MESH_EXTENT / extent)


@dataclass(frozen=True)
class Cameras:
    """Views' matrices in upstream's frame: ``world_to_camera`` [V, 4, 4], ``projection`` [4, 4]."""

    world_to_camera: np.ndarray
    projection: np.ndarray

    @property
    def views(self) -> int:
        return len(self.world_to_camera)

    @property
    def mvp(self) -> np.ndarray:
        """[V, 4, 4]: clip = mvp @ (x, y, z, 1)."""
        return self.projection[None] @ self.world_to_camera

    @property
    def towards_camera(self) -> np.ndarray:
        """[V, 3] unit vectors from the object to each camera (the view direction, reversed)."""
        return self.world_to_camera[:, 2, :3]


def camera_to_world(elevation_deg: float, azimuth_deg: float, distance: float) -> np.ndarray:
    """``get_c2w`` for one view: a camera at the given angles, looking at the origin, z up."""
    elevation, azimuth = math.radians(elevation_deg), math.radians(azimuth_deg)
    position = distance * np.array([math.cos(elevation) * math.cos(azimuth),
                                    math.cos(elevation) * math.sin(azimuth), math.sin(elevation)])
    lookat = -position / np.linalg.norm(position)
    right = np.cross(lookat, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, lookat)
    up /= np.linalg.norm(up)
    c2w = np.eye(4)
    c2w[:3, :3] = np.stack([right, up, -lookat], axis=1)
    c2w[:3, 3] = position
    return c2w


def orthographic(half_extent: float = ORTHO_HALF_EXTENT, near: float = NEAR, far: float = FAR) -> np.ndarray:
    """``get_orthogonal_projection_matrix`` for a symmetric box (y negated: row 0 is the top)."""
    projection = np.zeros((4, 4))
    projection[0, 0] = 1.0 / half_extent
    projection[1, 1] = -1.0 / half_extent
    projection[2, 2] = -2.0 / (far - near)
    projection[2, 3] = -(far + near) / (far - near)
    projection[3, 3] = 1.0
    return projection


def upstream_cameras() -> Cameras:
    """The six views as ``run_ig2mv_pipeline`` places them: front, right, back, left, top, bottom."""
    c2w = [camera_to_world(elevation, azimuth + AZIMUTH_OFFSET, CAMERA_DISTANCE)
           for elevation, azimuth in zip(VIEW_ELEVATIONS, VIEW_AZIMUTHS)]
    return Cameras(world_to_camera=np.stack([np.linalg.inv(m) for m in c2w]), projection=orthographic())


def to_clip(points: torch.Tensor, mvp: np.ndarray, height: int, width: int) -> torch.Tensor:
    """Points [N, 3] in upstream's frame -> [1, N, 4] clip coordinates for ``clean_raster.rasterize`` at
    ``height`` x ``width``, sampling each pixel where nvdiffrast samples it (see the module's note)."""
    matrix = torch.as_tensor(mvp, dtype=torch.float32, device=points.device)
    clip = torch.cat([points.float(), torch.ones_like(points[:, :1], dtype=torch.float32)], dim=1) @ matrix.T
    return (clip * pixel_centre_scale(height, width, points.device))[None]


def pixel_centre_scale(height: int, width: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """What x and y are multiplied by to move nvdiffrast's pixel grid onto the rasterizer's."""
    return torch.tensor([width / max(width - 1, 1), height / max(height - 1, 1), 1.0, 1.0], device=device)
