"""What the layout is given for a scene, by kind, and the layout run through the product's own code.

- ``metric``: what a perfect metric depth model gives: 1 / z from depth.npy as the depth map the statistic
  reads (its kind "metric", as MoGe-2's: the layout keeps the distances) and the point map, the true field
  of view, each matte from masks.png, each box from its matte, each mesh normalised and turned as a
  single-view shape model outputs it (centred, in a unit cube, the side the camera sees as its front);
- ``relative``: the same, but the depth map is disparity a / z + b with b = ``shift`` times the nearest object's
  disparity, no point map, and no field of view: the artist's default, as Depth Anything V2 gives it.

``lay_out`` then calls what a Generate and a Re-layout call: ``layout.scene.record_statistics`` for each
target's statistic and ``layout.scene.floor_and_heights`` for a metric map's floor, each target's heights and its
own surface (a Generate's ``measure``), ``img23d_protocol.layout`` (``targets_from_records``, ``solve``) for the
camera, ``layout.scene.record_placement`` for each mesh's fit to its own points and its placement (a Generate's
export), and ``layout.standing.world_matrix``
(the add-on's import transform: the bounds' bottom centre at the location, turned about Z, scaled) to stand
each mesh in the layout's world.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
from img23d_backend.depth.driver import DepthMap
from img23d_backend.layout.scene import (MeasuredScene, floor_and_heights, record_placement, record_statistics,
                                         settle_supports)
from img23d_backend.layout.standing import world_matrix
from img23d_backend.printing.sources import Placed
from img23d_protocol.layout import DEFAULT_FOV_DEGREES, LayoutSettings, SceneLayout, solve, targets_from_records

from scene_folder import GLTF_TO_BLENDER, SceneFolder, TruthObject


@dataclass
class Target:
    name: str
    box: tuple[float, float, float, float]     # pixels: x0, y0, x1, y1 (edges)
    vertices: np.ndarray                       # the normalised mesh, glTF's frame
    faces: np.ndarray


@dataclass
class LayoutInputs:
    kind: str
    depth: DepthMap                            # what the depth model gives: a metric map with its points, or not
    fov_degrees: float                         # across the longer side
    targets: list[Target]


def facing_yaw(x: float, y: float) -> float:
    """The layout's turn for an object straight ahead of the camera at world (x, y): -Y back along the sight."""
    reach = math.hypot(x, y)
    away = (x / reach, y / reach) if reach > 1e-9 else (0.0, 1.0)
    return math.atan2(-away[0], away[1])


def shape_model_mesh(scene: SceneFolder, item: TruthObject) -> np.ndarray:
    """The true mesh as a single-view shape model gives it: turned so that the side the camera sees is its front
    (the object's own turn less the layout's facing turn at its true place), centred, in a unit cube."""
    centre = item.world.mean(axis=0) - scene.camera.location
    turn = item.yaw - facing_yaw(float(centre[0]), float(centre[1])) - math.radians(scene.camera.yaw_degrees)
    c, s = math.cos(turn), math.sin(turn)
    local = item.local_blender @ np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]).T
    low, high = local.min(axis=0), local.max(axis=0)
    unit = (local - (low + high) / 2) / float((high - low).max())
    return unit @ GLTF_TO_BLENDER  # back to glTF's axes (the inverse of a rotation is its transpose)


def box_of_mask(mask: np.ndarray) -> tuple[float, float, float, float] | None:
    rows, cols = np.nonzero(mask)
    if len(rows) == 0:
        return None
    return float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1)


def inputs_for(scene: SceneFolder, kind: str, shift: float = 0.0) -> LayoutInputs:
    inverse = np.where(np.isfinite(scene.depth) & (scene.depth > 0), 1.0 / np.maximum(scene.depth, 1e-9), 0.0)
    targets = []
    for item in scene.objects:
        box = box_of_mask(scene.mask(item))
        if box is not None:
            targets.append(Target(item.name, box, shape_model_mesh(scene, item), item.faces))
    if kind == "metric":
        points = np.where(np.isfinite(scene.depth)[..., None], point_map(scene), np.nan)
        return LayoutInputs(kind, DepthMap(inverse.astype(np.float32), "metric", points=points,
                                           mask=np.isfinite(scene.depth)), scene.camera.fov_longer_degrees, targets)
    if kind == "relative":
        nearest = max(float(np.median(inverse[scene.mask(item)])) for item in scene.objects
                      if scene.mask(item).any())
        values = np.where(inverse > 0, inverse + shift * nearest, 0.0)
        return LayoutInputs(kind, DepthMap(values.astype(np.float32)), DEFAULT_FOV_DEGREES, targets)
    raise ValueError(f"unknown inputs {kind!r}")


def point_map(scene: SceneFolder) -> np.ndarray:
    """Each pixel's point in the camera frame (metres), as a metric depth model gives it: its centre's ray at the
    true planar depth (inf where nothing is hit)."""
    width, height = scene.camera.resolution
    focal = scene.camera.focal_px
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    z = scene.depth
    return np.stack([(u - width / 2) / focal * z, (v - height / 2) / focal * z, z], axis=-1)


def lay_out(scene: SceneFolder, inputs: LayoutInputs) -> tuple[SceneLayout, dict[str, np.ndarray]]:
    """The layout's camera, and each target's placed vertices in the layout's camera frame."""
    width, height = scene.camera.resolution
    records, rects, alphas = [], {}, {}
    for target in inputs.targets:
        x0, y0, x1, y1 = rects[target.name] = tuple(int(v) for v in target.box)
        alphas[target.name] = np.where(scene.masks[y0:y1, x0:x1] == _index(scene, target.name), 255, 0).astype(np.uint8)
        records.append(SimpleNamespace(stem=target.name, box=list(target.box), depth=None, placement=None))
    # What a Generate records (``layout.scene.measure``): each statistic, then a metric map's floor and heights.
    record_statistics(inputs.depth, records, rects, alphas)  # type: ignore[arg-type]
    read = floor_and_heights(inputs.depth, records, rects, alphas)  # type: ignore[arg-type]
    floor = read.floor
    layout = solve((width, height), targets_from_records(records),
                   LayoutSettings(fov_degrees=inputs.fov_degrees, ground=True, metric=inputs.depth.kind == "metric",
                                  floor=(floor.pitch, floor.elevation) if floor is not None else None))
    measured = MeasuredScene(layout, read.seen, read.under)
    for target, record in zip(inputs.targets, records):
        record_placement(layout, record, SimpleNamespace(vertices=target.vertices, faces=target.faces),  # type: ignore
                         measured)
    settle_supports(measured, records)  # type: ignore[arg-type]
    placed = {}
    for target, record in zip(inputs.targets, records):
        blender = target.vertices @ GLTF_TO_BLENDER.T
        matrix = world_matrix(blender.min(axis=0), blender.max(axis=0), Placed.from_dict(record.placement))
        world = blender @ matrix[:, :3].T + matrix[:, 3]
        placed[target.name] = camera_frame(layout, world)
    return layout, placed


def camera_frame(layout: SceneLayout, world: np.ndarray) -> np.ndarray:
    """``layout.camera.to_camera`` over many points at once (checked against it on the first point)."""
    points = to_camera(world, layout.camera.pitch, layout.camera.elevation)
    if len(world) and not np.allclose(points[0], layout.camera.to_camera(tuple(world[0])), atol=1e-9):
        raise AssertionError("the benchmark's camera frame differs from the layout's own")
    return points


def to_camera(world: np.ndarray, pitch: float, elevation: float) -> np.ndarray:
    """World points (Blender's axes) in the camera frame of a layout's camera: at (0, 0, ``elevation``), looking
    along +Y, pitched down by ``pitch`` (``img23d_protocol.layout.Camera.to_camera``, vectorised)."""
    s, c = math.sin(pitch), math.cos(pitch)
    y, z = world[:, 1], world[:, 2] - elevation
    return np.stack([world[:, 0], -s * y - c * z, c * y - s * z], axis=1)


def _index(scene: SceneFolder, name: str) -> int:
    return next(item.index for item in scene.objects if item.name == name)
