"""An input's materials carried onto its finished mesh: a mug's body and handle stay two material slots.

The remesh sees one surface (the materials' parts joined where they touch), so its faces know no
material. Each finished face takes the material of the input surface nearest its middle (a quad's
two triangles together), and the faces are put in order of material, stably: quads first as
before (quad k is still triangles 2k and 2k + 1), so the GLB can carry one primitive per material
in one mesh (``glb``) and Blender's import gives one object with one slot per material. A border
between materials follows the new faces' edges, not the input's exact line; the baked colour,
which is read from the input itself, keeps the exact line.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.spatial import cKDTree

from .coverage import grid_points
from .retopo import RetopoResult

SAMPLE_SHARE = 0.5  # input samples this share of a finished face's median side apart


@dataclass(frozen=True)
class FaceMaterials:
    """The input's materials: ``names`` (M), and for each of its triangles (``vertices``, ``faces``,
    in the finished mesh's frame) the index of its material, ``of_face`` (F,)."""

    names: tuple[str, ...]
    vertices: np.ndarray
    faces: np.ndarray
    of_face: np.ndarray


@dataclass(frozen=True)
class Slots:
    """The finished faces' materials: ``names`` of the slots used, in order, and ``counts`` (how many
    of the finished mesh's triangles, in order, each slot takes)."""

    names: tuple[str, ...]
    counts: tuple[int, ...]


def by_material(result: RetopoResult, materials: FaceMaterials) -> tuple[RetopoResult, Slots]:
    """``result`` with its faces in order of the input's material under each (see the module's
    docstring), and the slots that order makes."""
    points = np.asarray(result.vertices, dtype=np.float64)
    if result.quads is not None:
        middles = points[np.asarray(result.quads, dtype=np.int64)].mean(axis=1)
    else:
        middles = points[np.asarray(result.triangles, dtype=np.int64)].mean(axis=1)
    triangles = np.asarray(materials.vertices, dtype=np.float64)[np.asarray(materials.faces, dtype=np.int64)]
    sides = np.linalg.norm(points[result.triangles] - points[np.roll(result.triangles, 1, axis=1)], axis=2)
    samples, owners, _ = grid_points(triangles, SAMPLE_SHARE * float(np.median(sides)))
    _, nearest = cKDTree(samples).query(middles)
    slot = np.asarray(materials.of_face, dtype=np.int64)[owners[nearest]]
    order = np.argsort(slot, kind="stable")
    used, counts = np.unique(slot, return_counts=True)
    if result.quads is not None:
        pairs = np.stack([2 * order, 2 * order + 1], axis=1).reshape(-1)
        ordered = replace(result, quads=np.asarray(result.quads)[order], triangles=np.asarray(result.triangles)[pairs])
        counts = 2 * counts
    else:
        ordered = replace(result, triangles=np.asarray(result.triangles)[order])
    return ordered, Slots(tuple(materials.names[i] for i in used.tolist()), tuple(int(c) for c in counts))
