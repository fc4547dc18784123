"""The quads' last fit (finish/surface_reach): a ridge narrower than a quad, which projection and
feature snapping leave cut off, is reached; a thin part's far side does not pull a vertex through it."""

from __future__ import annotations

import numpy as np
import pytest

from img23d_backend.finish.coverage import grid_points, nearest_on
from img23d_backend.finish.feature_snap import snap_to_features
from img23d_backend.finish.quad_mesh import check_quads, triangulate_quads
from img23d_backend.finish.quad_repair import project_onto
from img23d_backend.finish.surface_reach import reach_uncovered

RIDGE = 0.05  # the ridge's height and half-width: a 45-degree roof ridge a tenth as wide as the plate


def _grid(cells: int, height) -> tuple[np.ndarray, np.ndarray]:
    """A square plate [0, 1]^2 as a grid of quads, raised to ``height(x)``."""
    axis = np.linspace(0.0, 1.0, cells + 1)
    x, y = np.meshgrid(axis, axis, indexing="ij")
    points = np.column_stack([x.ravel(), y.ravel(), height(x.ravel())])
    index = np.arange((cells + 1) ** 2).reshape(cells + 1, cells + 1)
    quads = np.column_stack([index[:-1, :-1].ravel(), index[1:, :-1].ravel(), index[1:, 1:].ravel(),
                             index[:-1, 1:].ravel()])
    return points, quads


def _ridge(x: np.ndarray) -> np.ndarray:
    return RIDGE * np.maximum(0.0, 1.0 - np.abs(x - 0.5) / RIDGE)


def _worst_from_input(vertices: np.ndarray, faces: np.ndarray, points: np.ndarray, quads: np.ndarray) -> float:
    samples, _, _ = grid_points(vertices[faces], 0.01)
    return float(nearest_on(samples, points, triangulate_quads(points, quads), 0.01).max())


@pytest.mark.parametrize("cells", [7, 9])
def test_a_ridge_narrower_than_a_quad_is_reached(cells: int) -> None:
    fine_v, fine_q = _grid(100, _ridge)
    fine_f = triangulate_quads(fine_v, fine_q)
    flat_v, quads = _grid(cells, lambda x: np.zeros_like(x))  # no vertex column on the ridge's crest
    max_move = 0.5 / cells
    fitted = snap_to_features(project_onto(flat_v, fine_v, fine_f, max_move), quads, fine_v, fine_f, max_move)
    before = _worst_from_input(fine_v, fine_f, fitted, quads)
    assert before == pytest.approx(RIDGE, rel=0.02)  # what the quads had: the whole ridge cut off
    reached = reach_uncovered(fitted, quads, fine_v, fine_f, 1.0 / cells)
    assert _worst_from_input(fine_v, fine_f, reached, quads) < 0.75 * before
    assert check_quads(reached, quads, False, len(quads), 0.15).reason is None


def test_a_thin_parts_far_side_does_not_pull_a_vertex_through_it() -> None:
    top_v, quads = _grid(8, lambda x: np.zeros_like(x))
    # the input: the same plate and its underside 0.05 below (a sheet thinner than a quad), facing down
    sheet_v, sheet_q = _grid(20, lambda x: np.zeros_like(x))
    under_v = sheet_v - [0.0, 0.0, 0.05]
    under_f = triangulate_quads(under_v, sheet_q)[:, ::-1]
    vertices = np.vstack([sheet_v, under_v])
    faces = np.vstack([triangulate_quads(sheet_v, sheet_q), under_f + len(sheet_v)])
    reached = reach_uncovered(top_v, quads, vertices, faces, 1.0 / 8)
    np.testing.assert_array_equal(reached, top_v)
