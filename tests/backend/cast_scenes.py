"""Point maps with a known answer: world meshes (Blender's axes, Z up, the floor at Z = 0) ray-cast pixel by pixel
through a pitched pinhole, as a perfect metric depth model would see them (the layout's tests, issue 98)."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Callable

import numpy as np
import trimesh
from img23d_protocol.frame import from_gltf, to_gltf
from img23d_protocol.layout import LayoutSettings, SceneLayout, solve, targets_from_records

from img23d_backend.depth.driver import DepthMap
from img23d_backend.layout.scene import (MeasuredScene, floor_and_heights, record_placement, record_statistics,
                                         settle_supports)
from img23d_backend.layout.standing import world_matrix
from img23d_backend.printing.sources import Placed


def standing_box(size: tuple[float, float, float], bottom: tuple[float, float, float], yaw_degrees: float = 0.0
                 ) -> trimesh.Trimesh:
    """A box of ``size`` (x, y, z) turned ``yaw_degrees`` about Z, its bottom centre at ``bottom``."""
    box = trimesh.creation.box(extents=size)
    box.apply_translation((0.0, 0.0, size[2] / 2))
    box.apply_transform(trimesh.transformations.rotation_matrix(math.radians(yaw_degrees), (0, 0, 1)))
    box.apply_translation(bottom)
    return box


def cast(meshes: list[trimesh.Trimesh], size: tuple[int, int], focal: float, pitch: float, height: float
         ) -> tuple[np.ndarray, np.ndarray]:
    """(point map in the camera frame: x right, y down, z forward, NaN where nothing is hit; labels: 1 + the mesh's
    index, 0 the floor) of world ``meshes`` on a floor, seen from (0, 0, ``height``) looking along +Y, pitched down
    by ``pitch`` radians, through a pinhole of ``focal`` pixels over a picture of ``size`` (width, height)."""
    floor = trimesh.creation.box(extents=(200, 200, 0.01))
    floor.apply_translation((0, 0, -0.005))
    scene = trimesh.util.concatenate([*meshes, floor])
    owner = np.concatenate([np.full(len(m.faces), i + 1) for i, m in enumerate(meshes)] + [np.zeros(len(floor.faces))])
    width, rows = size
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(rows) + 0.5)
    rays = np.stack([(u - width / 2) / focal, (v - rows / 2) / focal, np.ones_like(u)], axis=-1).reshape(-1, 3)
    tilt = math.pi / 2 - pitch
    turn = np.array([[1, 0, 0], [0, math.cos(tilt), -math.sin(tilt)], [0, math.sin(tilt), math.cos(tilt)]])
    origins = np.tile([0.0, 0.0, height], (len(rays), 1))
    where, ray, face = scene.ray.intersects_location(origins, (rays * [1, -1, -1]) @ turn.T, multiple_hits=False)
    points = np.full((len(rays), 3), np.nan)
    labels = np.zeros(len(rays), dtype=np.int32)
    points[ray] = (where - origins[ray]) @ turn @ np.diag([1, -1, -1])
    labels[ray] = owner[face]
    return points.reshape(rows, width, 3), labels.reshape(rows, width)


def _facing(x: float, y: float) -> float:
    """The layout's turn for an object at world (x, y): its -Y back along the horizontal line of sight."""
    reach = math.hypot(x, y)
    return math.atan2(-x / reach, y / reach)


def _shape_model_mesh(world: trimesh.Trimesh, yaw: float) -> SimpleNamespace:
    """The true mesh as a shape model gives it: unturned by the layout's facing turn at its place, centred, in a
    unit cube, in glTF's axes."""
    centre = world.bounds.mean(axis=0)
    local = world.vertices - centre
    c, s = math.cos(-yaw), math.sin(-yaw)
    local = local @ np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]).T
    return SimpleNamespace(vertices=to_gltf(local / np.ptp(local, axis=0).max()), faces=np.asarray(world.faces))


def lay_out(world: list[trimesh.Trimesh], size: tuple[int, int], focal: float, pitch: float, height: float,
            fit: bool = True, settle: bool = True, adjust: Callable[[list[SimpleNamespace]], None] | None = None
            ) -> tuple[list[SimpleNamespace], SceneLayout, list[np.ndarray]]:
    """The records (stems o0, o1...), the layout and each mesh's placed world vertices of world ``meshes`` cast
    through this camera, through what a Generate calls: each statistic, the floor and heights, the layout, each
    placement (fitted to its points with ``fit``), and who rests on whom (with ``settle``). ``adjust`` may change
    the records before the layout is solved (a foot read too high)."""
    points, labels = cast(world, size, focal, pitch, height)
    inverse = np.where(np.isfinite(points[..., 2]), 1.0 / np.nan_to_num(points[..., 2], nan=1.0), 0.0)
    depth = DepthMap(inverse.astype(np.float32), "metric", points=points.astype(np.float32),
                     mask=np.isfinite(points[..., 2]))
    records, rects, alphas = [], {}, {}
    for n in range(len(world)):
        rows, columns = np.nonzero(labels == n + 1)
        box = (int(columns.min()), int(rows.min()), int(columns.max()) + 1, int(rows.max()) + 1)
        rects[f"o{n}"] = box
        alphas[f"o{n}"] = np.where(labels[box[1]:box[3], box[0]:box[2]] == n + 1, 255, 0).astype(np.uint8)
        records.append(SimpleNamespace(stem=f"o{n}", box=[float(v) for v in box], depth=None, placement=None))
    record_statistics(depth, records, rects, alphas)  # type: ignore[arg-type]
    read = floor_and_heights(depth, records, rects, alphas)  # type: ignore[arg-type]
    assert read.floor is not None, "the cast floor was not measured"
    if adjust is not None:
        adjust(records)
    layout = solve(size, targets_from_records(records), LayoutSettings(fov_degrees=2 * math.degrees(
        math.atan(size[0] / 2 / focal)), metric=True, floor=(read.floor.pitch, read.floor.elevation)))
    measured = MeasuredScene(layout, read.seen if fit else {}, read.under if settle else {})
    made = []
    for record, mesh in zip(records, world):
        centre = mesh.bounds.mean(axis=0)
        made.append(_shape_model_mesh(mesh, _facing(centre[0], centre[1])))
        record_placement(layout, record, made[-1], measured)  # type: ignore[arg-type]
    settle_supports(measured, records)  # type: ignore[arg-type]
    placed = []
    for record, mesh in zip(records, made):
        blender = from_gltf(mesh.vertices)
        matrix = world_matrix(blender.min(axis=0), blender.max(axis=0), Placed.from_dict(record.placement))
        placed.append(blender @ matrix[:, :3].T + matrix[:, 3])
    return records, layout, placed
