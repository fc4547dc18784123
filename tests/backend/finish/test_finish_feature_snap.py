"""Quad vertices snapped onto the input's corners and creases (finish/feature_snap.py): corners and
faces of a cube recovered, a thin sheet not pulled into its middle, a flip undone, and a real
Instant Meshes retopology of a cube that keeps its eight corners."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import trimesh

from img23d_backend.finish.feature_snap import undo_flips, quad_normals, snap_to_features
from img23d_backend.finish.retopo import RetopoSettings, retopologize
from test_finish_retopo import _cube_quads  # a closed quad grid on the cube [-1, 1]^3, wound outwards

CORNERS = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)

needs_instant_meshes = pytest.mark.skipif(
    not any(os.path.isdir(os.path.join(p, "pynanoinstantmeshes")) for p in sys.path if p),
    reason="pynanoinstantmeshes is not installed in this environment")


def _cube_triangles() -> tuple[np.ndarray, np.ndarray]:
    box = trimesh.creation.box((2.0, 2.0, 2.0)).subdivide().subdivide().subdivide()
    return np.asarray(box.vertices, dtype=np.float64), np.asarray(box.faces, dtype=np.int64)


def test_a_cubes_cut_corners_and_sunken_faces_come_back_to_the_cube() -> None:
    vertices, faces = _cube_triangles()
    grid, quads = _cube_quads(6)
    # As Instant Meshes leaves a box: corners cut off, every vertex a little inside.
    rounded = grid * (1.0 - 0.06 * np.abs(grid).prod(axis=1, keepdims=True))
    assert np.linalg.norm(rounded[:, None] - CORNERS[None], axis=2).min(axis=0).max() > 0.09
    snapped = snap_to_features(rounded, quads, vertices, faces, max_move=1.0 / 6.0)
    nearest = np.linalg.norm(snapped[:, None] - CORNERS[None], axis=2).min(axis=0)
    assert nearest.max() < 1e-6, f"corners still off by {nearest}"
    assert np.abs(np.abs(snapped).max(axis=1) - 1.0).max() < 1e-6, "a vertex is off the cube's faces"


def test_no_vertex_moves_further_than_asked() -> None:
    vertices, faces = _cube_triangles()
    grid, quads = _cube_quads(6)
    rounded = grid * (1.0 - 0.06 * np.abs(grid).prod(axis=1, keepdims=True))
    snapped = snap_to_features(rounded, quads, vertices, faces, max_move=0.01, rounds=1)
    assert np.linalg.norm(snapped - rounded, axis=1).max() <= 0.01 + 1e-12


def test_a_thin_sheets_far_side_does_not_pull_a_vertex_into_its_middle() -> None:
    # The input: a sheet 0.02 thick, its top facing up and its bottom facing down, triangles under
    # the quads' own vertices on both sides, so the bottom's nearest quad vertex is a top one.
    n = 8
    ticks = np.linspace(0.0, 1.0, n + 1)
    top_points = np.array([(x, y, 0.01) for x in ticks for y in ticks])
    quads = np.array([(i * (n + 1) + j, (i + 1) * (n + 1) + j, (i + 1) * (n + 1) + j + 1, i * (n + 1) + j + 1)
                      for i in range(n) for j in range(n)], dtype=np.int64)
    assert quad_normals(top_points, quads)[:, 2].min() > 0.0
    triangles = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
    bottom_points = top_points * [1.0, 1.0, -1.0]
    vertices = np.vstack([top_points, bottom_points])
    faces = np.vstack([triangles, triangles[:, ::-1] + len(top_points)])
    snapped = snap_to_features(top_points, quads, vertices, faces, max_move=0.05)
    assert np.abs(snapped[:, 2] - 0.01).max() < 1e-9, "a vertex left the sheet's top for its middle"


def test_a_move_that_flips_a_quad_is_put_back_and_the_others_kept() -> None:
    before = np.array([(x, y, 0.0) for x in range(3) for y in range(3)], dtype=np.float64)
    quads = np.array([(i * 3 + j, (i + 1) * 3 + j, (i + 1) * 3 + j + 1, i * 3 + j + 1)
                      for i in range(2) for j in range(2)], dtype=np.int64)
    after = before + [0.0, 0.0, 0.05]  # every vertex lifted a little: no quad turns
    after[4] = (2.5, 2.5, 0.05)  # the centre pushed past a corner: its four quads fold over
    fixed = undo_flips(before, after.copy(), quads)
    assert np.array_equal(fixed[4], before[4])
    assert np.einsum("ij,ij->i", quad_normals(before, quads), quad_normals(fixed, quads)).min() > 0.0
    kept = [i for i in range(9) if not np.array_equal(fixed[i], before[i])]
    assert kept, "every vertex was put back: the unflipped moves should have stayed"


@needs_instant_meshes
def test_instant_meshes_quads_of_a_cube_keep_its_eight_corners() -> None:
    vertices, faces = _cube_triangles()
    result = retopologize(vertices, faces, RetopoSettings("quads", 600))
    assert result.method == "instant-meshes", result.fallback
    nearest = np.linalg.norm(np.asarray(result.vertices, np.float64)[:, None] - CORNERS[None], axis=2).min(axis=0)
    assert nearest.max() < 1e-4, f"the quads cut the cube's corners by up to {nearest.max():.4f}"
