"""Meshes built from known parts, each face's true part known, for the part split's tests and its
benchmark (``bench/parts_split.py``): a lamp (one connected surface of revolution: base, arm, shade),
a table (a top and four legs, separate boxes touching) and a figure (boxes joined into one surface by
marching cubes, as a generated mesh is one surface). All in Blender's axes (Z up, metres-ish).

``fused_chair``, ``fused_lamp`` and ``fused_mug`` are fused as a generated mesh is (issue 73 item 4):
each part a signed distance (boxes, cylinders, a cone, a torus), their union one watertight surface by
marching cubes, each face the part whose own surface is nearest its centre.

``truth_masks`` and ``truth_boxes`` are the benchmark's and tests' stand-ins for the models: masks and
boxes taken from the truth's own render, so the lifting and labelling are measured alone;
``spilled_masks`` grows each true mask by a few pixels (a matte that spills onto its neighbours) and
``box_masks`` fills each true box whole (a matte that keeps everything in its box: the coarse case).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import trimesh
from scipy import ndimage
from skimage import measure

from img23d_backend.parts.split.renders import PartView


@dataclass(frozen=True)
class KnownParts:
    """A mesh (Blender axes) and each face's true part (an index into ``names``)."""

    name: str
    vertices: np.ndarray
    faces: np.ndarray
    truth: np.ndarray
    names: list[str]

    def write_glb(self, path: Path) -> Path:
        """The mesh as a GLB, in glTF's axes (Y up), as an artist's file would come."""
        v = self.vertices
        mesh = trimesh.Trimesh(np.stack([v[:, 0], v[:, 2], -v[:, 1]], axis=1), self.faces, process=False)
        mesh.export(path)
        return path


def lamp(sections: int = 32) -> KnownParts:
    """A desk lamp turned on a lathe: a round base, a thin arm, a cone shade, one watertight surface."""
    profile = np.array([[0.0, 0.0], [0.5, 0.0], [0.5, 0.15], [0.05, 0.15], [0.05, 0.8], [0.4, 0.8],
                        [0.15, 1.2], [0.0, 1.2]])
    mesh = trimesh.creation.revolve(profile, sections=sections)
    z = mesh.triangles_center[:, 2]
    truth = np.where(z < 0.15 + 1e-9, 0, np.where(z > 0.8 - 1e-9, 2, 1))
    return KnownParts("lamp", np.asarray(mesh.vertices, float), np.asarray(mesh.faces, np.int64), truth,
                      ["base", "arm", "shade"])


def table() -> KnownParts:
    """A table top on four legs: five boxes, the legs' tops touching the top's underside."""
    parts = [trimesh.creation.box(extents=(1.2, 0.8, 0.08), transform=_moved(0, 0, 0.74))]
    for x in (-0.52, 0.52):
        for y in (-0.32, 0.32):
            parts.append(trimesh.creation.box(extents=(0.08, 0.08, 0.7), transform=_moved(x, y, 0.35)))
    truth = np.concatenate([np.full(len(p.faces), 0 if i == 0 else 1) for i, p in enumerate(parts)])
    mesh = trimesh.util.concatenate(parts)
    return KnownParts("table", np.asarray(mesh.vertices, float), np.asarray(mesh.faces, np.int64), truth,
                      ["top", "legs"])


# The figure's boxes: (centre, half extents), per part.
_FIGURE = {
    "head": [((0.0, 0.0, 1.62), (0.11, 0.11, 0.12))],
    "body": [((0.0, 0.0, 1.2), (0.2, 0.12, 0.3))],
    "arms": [((-0.32, 0.0, 1.25), (0.12, 0.06, 0.24)), ((0.32, 0.0, 1.25), (0.12, 0.06, 0.24))],
    "legs": [((-0.1, 0.0, 0.45), (0.08, 0.08, 0.45)), ((0.1, 0.0, 0.45), (0.08, 0.08, 0.45))],
}


def figure(cells: int = 48) -> KnownParts:
    """A standing figure of boxes (head, body, arms, legs) joined into one surface by marching cubes
    on their union; each face belongs to the box it lies on (the one whose surface is nearest)."""
    boxes = [(name, np.array(c), np.array(h)) for name, items in _FIGURE.items() for c, h in items]
    low, high = np.array([-0.6, -0.3, -0.1]), np.array([0.6, 0.3, 1.85])
    step = (high - low).max() / cells
    axes = [np.arange(low[i], high[i] + step, step) for i in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
    distance = np.min([_box_distance(grid, c, h) for _, c, h in boxes], axis=0)
    vertices, faces, _, _ = measure.marching_cubes(distance, level=0.0, spacing=(step, step, step))
    vertices = vertices + low
    if trimesh.Trimesh(vertices, faces, process=False).volume < 0:
        faces = faces[:, ::-1]  # outward, as glTF's counter-clockwise front faces
    centres = vertices[faces].mean(axis=1)
    nearest = np.argmin([np.abs(_box_distance(centres, c, h)) for _, c, h in boxes], axis=0)
    names = list(_FIGURE)
    truth = np.array([names.index(boxes[i][0]) for i in nearest])
    return KnownParts("figure", vertices.astype(float), faces.astype(np.int64), truth, names)


Distance = Callable[[np.ndarray], np.ndarray]   # points (..., 3) -> signed distance (..., ), negative inside


def fused(name: str, parts: dict[str, Distance], low: tuple[float, float, float],
          high: tuple[float, float, float], cells: int) -> KnownParts:
    """The union of ``parts`` (name -> signed distance) as one surface by marching cubes on a grid of
    ``cells`` along the longest side of the box ``low``..``high``; each face the part whose own surface
    is nearest its centre (the part it lies on; at a joint, the one it left last)."""
    start, end = np.asarray(low, float), np.asarray(high, float)
    step = float((end - start).max()) / cells
    axes = [np.arange(start[i] - step, end[i] + 2 * step, step) for i in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
    distances = list(parts.values())
    union = np.min([distance(grid) for distance in distances], axis=0)
    vertices, faces, _, _ = measure.marching_cubes(union, level=0.0, spacing=(step, step, step))
    vertices = vertices + start - step
    if trimesh.Trimesh(vertices, faces, process=False).volume < 0:
        faces = faces[:, ::-1]  # outward, as glTF's counter-clockwise front faces
    centres = vertices[faces].mean(axis=1)
    truth = np.argmin([np.abs(distance(centres)) for distance in distances], axis=0)
    return KnownParts(name, vertices.astype(float), faces.astype(np.int64), truth.astype(np.int64), list(parts))


def fused_chair(cells: int = 48) -> KnownParts:
    """A chair as one surface: a seat, a back standing on its rear edge, four round legs under it."""
    legs = [_cylinder((x, y), 0.0, 0.44, 0.035) for x in (-0.18, 0.18) for y in (-0.18, 0.18)]
    return fused("chair", {"seat": _box((0.0, 0.0, 0.45), (0.23, 0.23, 0.03)),
                           "back": _box((0.0, 0.2, 0.76), (0.23, 0.03, 0.29)),
                           "legs": lambda p: np.min([leg(p) for leg in legs], axis=0)},
                 (-0.25, -0.25, 0.0), (0.25, 0.25, 1.05), cells)


def fused_lamp(cells: int = 48) -> KnownParts:
    """A floor lamp as one surface: a cone shade on a thin post on a round base."""
    return fused("fused lamp", {"shade": _cone(0.52, 0.82, 0.26, 0.1), "post": _cylinder((0, 0), 0.03, 0.6, 0.03),
                                "base": _cylinder((0, 0), 0.0, 0.05, 0.2)},
                 (-0.26, -0.26, 0.0), (0.26, 0.26, 0.82), cells)


def fused_mug(cells: int = 48) -> KnownParts:
    """A mug as one surface: a hollow body (open at the top) and a ring handle grown into its wall."""
    outer, inner = _cylinder((0, 0), 0.0, 1.0, 0.4), _cylinder((0, 0), 0.08, 1.2, 0.34)

    def handle(p: np.ndarray) -> np.ndarray:
        ring = np.stack([np.hypot(p[..., 0] - 0.5, p[..., 2] - 0.5) - 0.27, p[..., 1]], axis=-1)
        # Cut off inside the wall, so the ring does not show in the cavity.
        return np.maximum(np.linalg.norm(ring, axis=-1) - 0.07, 0.37 - p[..., 0])

    return fused("mug", {"body": lambda p: np.maximum(outer(p), -inner(p)), "handle": handle},
                 (-0.4, -0.4, 0.0), (0.84, 0.4, 1.0), cells)


def spilled_masks(views: list[PartView], known: KnownParts, pixels: int) -> list[np.ndarray]:
    """Per render, each true part's mask grown by ``pixels`` (on the mesh only): a matte that spills."""
    grow = np.ones((2 * pixels + 1, 2 * pixels + 1), dtype=bool)
    return [np.stack([ndimage.binary_dilation(part > 0, structure=grow) & view.raster.mask for part in mask])
            .astype(np.float64) for view, mask in zip(views, truth_masks(views, known))]


def box_masks(views: list[PartView], known: KnownParts) -> list[np.ndarray]:
    """Per render, each true part's box filled whole (on the mesh only): a matte that keeps its whole box."""
    out = []
    for view, row in zip(views, truth_boxes(views, known)):
        mask = np.zeros((len(row), *view.raster.face.shape))
        for n, box in enumerate(row):
            if box is not None:
                x0, y0, x1, y1 = (int(round(v)) for v in box)
                mask[n, y0:y1, x0:x1] = 1.0
        out.append(mask * view.raster.mask)
    return out


def truth_masks(views: list[PartView], known: KnownParts) -> list[np.ndarray]:
    """Per render, (N, size, size) masks of the pixels that show each true part: perfect matting."""
    masks = []
    for view in views:
        raster = view.raster
        part = np.where(raster.mask, known.truth[np.where(raster.mask, raster.face, 0)], -1)
        masks.append(np.stack([(part == n).astype(np.float64) for n in range(len(known.names))]))
    return masks


def truth_boxes(views: list[PartView], known: KnownParts) -> list[list[tuple[float, float, float, float] | None]]:
    """Per render and part, the pixel box (x0, y0, x1, y1) of the true part's pixels: perfect grounding."""
    boxes = []
    for mask in truth_masks(views, known):
        row = []
        for part in mask:
            if not part.any():
                row.append(None)
                continue
            rows, columns = np.nonzero(part)
            row.append((float(columns.min()), float(rows.min()), float(columns.max() + 1), float(rows.max() + 1)))
        boxes.append(row)
    return boxes


def accuracy(labels: np.ndarray, known: KnownParts, areas: np.ndarray | None = None) -> float:
    """The share of faces (or of the area, with ``areas``) whose label is the true part."""
    right = labels == known.truth
    return float(right.mean()) if areas is None else float(areas[right].sum() / areas.sum())


def _moved(x: float, y: float, z: float) -> np.ndarray:
    return trimesh.transformations.translation_matrix((x, y, z))


def _box_distance(points: np.ndarray, centre: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Signed distance from ``points`` (..., 3) to a box (negative inside)."""
    q = np.abs(points - centre) - half
    outside = np.linalg.norm(np.maximum(q, 0.0), axis=-1)
    return outside + np.minimum(q.max(axis=-1), 0.0)


def _box(centre: tuple[float, float, float], half: tuple[float, float, float]) -> Distance:
    return lambda p: _box_distance(p, np.asarray(centre, float), np.asarray(half, float))


def _cylinder(axis: tuple[float, float], bottom: float, top: float, radius: float) -> Distance:
    """A round column standing on the floor plan's point ``axis``, from ``bottom`` to ``top``."""
    def distance(p: np.ndarray) -> np.ndarray:
        d = np.stack([np.hypot(p[..., 0] - axis[0], p[..., 1] - axis[1]) - radius,
                      np.abs(p[..., 2] - (bottom + top) / 2) - (top - bottom) / 2], axis=-1)
        return np.minimum(d.max(axis=-1), 0.0) + np.linalg.norm(np.maximum(d, 0.0), axis=-1)
    return distance


def _cone(bottom: float, top: float, low_radius: float, high_radius: float) -> Distance:
    """A cut cone round the Z axis, ``low_radius`` at ``bottom`` and ``high_radius`` at ``top`` (its exact
    distance, in the radius-height plane: to the slanted side or to a flat end, whichever is nearer)."""
    half = (top - bottom) / 2

    def distance(p: np.ndarray) -> np.ndarray:
        r, z = np.hypot(p[..., 0], p[..., 1]), p[..., 2] - (bottom + top) / 2
        end = np.stack([r - np.minimum(r, np.where(z < 0, low_radius, high_radius)), np.abs(z) - half], axis=-1)
        k1, k2 = np.array([high_radius, half]), np.array([high_radius - low_radius, 2 * half])
        q = np.stack([r, z], axis=-1)
        t = np.clip(((k1 - q) * k2).sum(axis=-1) / float(k2 @ k2), 0.0, 1.0)
        side = q - k1 + k2 * t[..., None]
        inside = (side[..., 0] < 0) & (end[..., 1] < 0)
        nearest = np.sqrt(np.minimum((end ** 2).sum(axis=-1), (side ** 2).sum(axis=-1)))
        return np.where(inside, -nearest, nearest)
    return distance
