"""Meshes built from known parts, each face's true part known, for the part split's tests and its
benchmark (``bench/parts_split.py``): a lamp (one connected surface of revolution: base, arm, shade),
a table (a top and four legs, separate boxes touching) and a figure (boxes joined into one surface by
marching cubes, as a generated mesh is one surface). All in Blender's axes (Z up, metres-ish).

``truth_masks`` and ``truth_boxes`` are the benchmark's and tests' stand-ins for the models: masks and
boxes taken from the truth's own render, so the lifting and labelling are measured alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

from img23d_backend.part_split.renders import PartView


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
    from skimage import measure

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
