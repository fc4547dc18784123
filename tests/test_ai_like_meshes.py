"""scripts/ai_like_meshes.py makes what the game-ready benchmark says it measures: closed meshes of
about 40,000 triangles with loose parts (floaters), the same for the same seed and different for another."""

from __future__ import annotations

import sys

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from testdata import REPO
from img23d_backend.finish.quad_mesh import is_closed

sys.path.insert(0, str(REPO / "scripts"))

import ai_like_meshes  # noqa: E402


def _parts(faces: np.ndarray, count: int) -> int:
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]]])
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(count, count))
    return connected_components(graph, directed=False)[0]


def _volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    a, b, c = (vertices[faces[:, i]].astype(np.float64) for i in range(3))
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def test_each_shape_is_a_closed_soup_of_about_40k_triangles_with_floaters() -> None:
    # Not the sword: thin and long, it needs a 269-cell grid for its 40k triangles (9 s here); the
    # benchmark makes and reports it.
    for name in ("ai-mug", "ai-lamp"):
        mesh = ai_like_meshes.make(name)
        vertices, faces = np.asarray(mesh.vertices), np.asarray(mesh.faces)
        assert abs(len(faces) - 40_000) < 4_000, f"{name}: {len(faces)} triangles"
        assert is_closed(faces), f"{name} has open or non-manifold edges"
        assert _volume(vertices, faces) > 0, f"{name} is wound inside out"
        assert _parts(faces, len(vertices)) >= 3, f"{name} has no floaters"


def test_same_seed_same_mesh_another_seed_another() -> None:
    first, again = ai_like_meshes.make("ai-mug", 0), ai_like_meshes.make("ai-mug", 0)
    assert np.array_equal(first.vertices, again.vertices) and np.array_equal(first.faces, again.faces)
    other = ai_like_meshes.make("ai-mug", 1)
    assert len(other.faces) != len(first.faces) or not np.array_equal(other.vertices, first.vertices)
