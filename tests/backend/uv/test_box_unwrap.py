"""The paint stage's unwrap (box projection, cut and packed: ``uv.box_unwrap``) on small meshes
with known answers, and the overlap test it and the benchmark judge layouts by."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from img23d_backend.finish.bake.uv_raster import rasterize_uv
from img23d_backend.uv.box_charts import box_charts, face_pairs, face_uv
from img23d_backend.uv.box_unwrap import box_unwrap
from img23d_backend.uv.chart_cuts import untangled
from img23d_backend.uv.uv_layout import face_charts, overlapping_pairs, stretch_percentile, uv_areas
from img23d_backend.uv.unwrap import unwrap_arrays


def _two_pieces() -> trimesh.Trimesh:
    box = trimesh.creation.box(extents=(1.0, 2.0, 0.5))
    box.apply_translation((3.0, 0.0, 0.0))
    return trimesh.util.concatenate([trimesh.creation.icosphere(subdivisions=3), box])


def _ramp(turns: float = 1.6, steps: int = 120) -> trimesh.Trimesh:
    """A spiral ramp rising slowly: every face looks up, and the second turn lies over the first seen from
    above, so one chart along +z would overlap itself."""
    angle = np.linspace(0.0, turns * 2 * np.pi, steps)
    rise = 0.02 * angle
    inner = np.stack([np.cos(angle), np.sin(angle), rise], axis=1)
    outer = np.stack([2 * np.cos(angle), 2 * np.sin(angle), rise], axis=1)
    vertices = np.concatenate([inner, outer])
    i = np.arange(steps - 1)
    faces = np.concatenate([np.stack([i, steps + i, steps + i + 1], axis=1),
                            np.stack([i, steps + i + 1, i + 1], axis=1)])
    return trimesh.Trimesh(vertices, faces, process=False)


MESHES = {"sphere": lambda: trimesh.creation.icosphere(subdivisions=3), "cube": lambda: trimesh.creation.box(),
          "two pieces": _two_pieces, "spiral ramp": _ramp}


@pytest.mark.parametrize("name", sorted(MESHES))
def test_every_face_gets_uvs_in_the_unit_square_without_overlaps(name: str) -> None:
    mesh = MESHES[name]()
    vertices, faces, uv = unwrap_arrays(mesh.vertices, mesh.faces)
    # The same triangles, in the same order and corner order, each corner's vertex split off at the seams.
    assert np.array_equal(vertices[faces], mesh.vertices[mesh.faces])
    assert np.isfinite(uv).all() and uv.min() >= 0.0 and uv.max() <= 1.0
    assert len(overlapping_pairs(uv, faces)) == 0, "two UV triangles overlap"
    assert stretch_percentile(vertices, faces, uv) < 1.3  # a box projection keeps over 0.577 of a face's area
    # No face is turned over or mirrored: each is counter-clockwise in UV, as it is seen from outside.
    assert (uv_areas(uv, faces) > 0).all()


def test_a_cube_is_six_square_charts_without_stretch() -> None:
    cube = trimesh.creation.box()
    vertices, faces, uv = unwrap_arrays(cube.vertices, cube.faces)
    assert face_charts(faces, len(vertices)).max() + 1 == 6
    assert stretch_percentile(vertices, faces, uv, 100) == pytest.approx(1.0)


def test_a_surface_that_curls_over_itself_is_cut_until_nothing_overlaps() -> None:
    ramp = _ramp()
    first, second = face_pairs(ramp.faces, len(ramp.vertices))
    charts = box_charts(ramp.vertices, ramp.faces, first, second)
    corners = face_uv(ramp.vertices, ramp.faces, charts.axis)
    assert charts.count == 1, "the ramp was to be one chart, seen from above"
    seen_from_above = corners.reshape(-1, 2)
    assert len(overlapping_pairs(seen_from_above, np.arange(len(seen_from_above)).reshape(-1, 3))), \
        "the ramp was to overlap itself seen from above"
    cut = untangled(corners, charts.chart, first, second)
    assert cut.max() + 1 >= 2
    for chart in range(cut.max() + 1):
        own = corners[cut == chart].reshape(-1, 2)
        assert not len(overlapping_pairs(own, np.arange(len(own)).reshape(-1, 3)))


def test_a_lumpy_ball_is_unwrapped_as_well_as_xatlas_unwraps_it() -> None:
    """The issue's bar on a small lumpy mesh: at least 0.8 of xatlas's texel use at the paint's texture size and no
    more than 1.25 times its stretch (90th percentile)."""
    import xatlas

    ball = trimesh.creation.icosphere(subdivisions=3)
    ball.vertices *= (1.0 + 0.08 * np.sin(5 * ball.vertices[:, :1]) * np.cos(4 * ball.vertices[:, 1:2]))
    mapping, xatlas_faces, xatlas_uv = xatlas.parametrize(ball.vertices.astype(np.float32),
                                                          ball.faces.astype(np.uint32))
    source, faces, uv = box_unwrap(ball.vertices, ball.faces)
    assert len(overlapping_pairs(uv, faces)) == 0

    def texel_use(uv: np.ndarray, faces: np.ndarray) -> float:
        return float(rasterize_uv(uv, faces, 512).mask().mean())

    assert texel_use(uv, faces) >= 0.8 * texel_use(xatlas_uv.astype(np.float64), xatlas_faces.astype(np.int64))
    assert stretch_percentile(ball.vertices[source], faces, uv) <= 1.25 * stretch_percentile(
        ball.vertices[mapping], xatlas_faces.astype(np.int64), xatlas_uv.astype(np.float64))


def test_faces_split_for_flat_shading_are_charted_as_the_surface_they_show() -> None:
    """A file whose faces each have corners of their own: welded by position, a ball is still a few charts."""
    ball = trimesh.creation.icosphere(subdivisions=2)
    soup = ball.vertices[ball.faces].reshape(-1, 3)
    _, faces, uv = box_unwrap(soup, np.arange(len(soup)).reshape(-1, 3))
    # Charts by where their UVs meet (the vertices are all apart in this file).
    corners = uv[faces]
    _, place = np.unique(np.round(corners.reshape(-1, 2), 9), axis=0, return_inverse=True)
    assert face_charts(place.reshape(-1, 3), int(place.max()) + 1).max() + 1 <= 12
    assert len(overlapping_pairs(uv, faces)) == 0


def test_a_corner_with_no_place_leaves_the_other_faces_their_layout() -> None:
    ball = trimesh.creation.icosphere(subdivisions=2)
    vertices = ball.vertices.copy()
    vertices[5] = np.nan
    source, faces, uv = box_unwrap(vertices, ball.faces)
    assert np.isfinite(uv).all() and uv.min() >= 0.0 and uv.max() <= 1.0
    whole = ~np.isin(ball.faces, 5).any(axis=1)
    assert (uv_areas(uv, faces)[whole] > 0).all(), "the faces away from the bad corner lost their UV area"


def test_an_empty_mesh_unwraps_to_nothing() -> None:
    vertices, faces, uv = unwrap_arrays(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64))
    assert vertices.shape == (0, 3) and faces.shape == (0, 3) and uv.shape == (0, 2)


def test_the_overlap_test_knows_touching_from_overlapping() -> None:
    square = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    halves = np.array([[0, 1, 2], [0, 2, 3]])
    assert len(overlapping_pairs(square, halves)) == 0, "two halves of a square only touch along the diagonal"
    shifted = np.concatenate([square, square + (0.5, 0.25)])
    # The first square's upper-left half (above y = x) and the second's lower-right (below y = x - 0.25) miss.
    assert overlapping_pairs(shifted, np.concatenate([halves, halves + 4])).tolist() == [[0, 2], [0, 3], [1, 3]]
    apart = np.concatenate([square, square + (1.0, 0.0)])  # side by side, sharing an edge's line
    assert len(overlapping_pairs(apart, np.concatenate([halves, halves + 4]))) == 0
    flat = np.array([[0.0, 0.5], [1.0, 0.5], [0.5, 0.5]])  # no area: no inside to overlap
    assert len(overlapping_pairs(np.concatenate([square, flat]), np.array([[0, 1, 2], [4, 5, 6]]))) == 0
    # Only within a group, when asked: the shifted squares in two groups do not count.
    assert len(overlapping_pairs(shifted, np.concatenate([halves, halves + 4]), within=np.array([0, 0, 1, 1]))) == 0
