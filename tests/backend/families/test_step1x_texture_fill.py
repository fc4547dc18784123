"""The clean family's filling of texels no view painted (``families.step1x.texture.atlas_fill``): holes inside
a chart take its painted neighbours' colours, colour never crosses into another chart, painted texels
keep theirs, a chart no view saw takes the colours of the charts it touches on the surface, and the
gutter between charts takes its nearest chart's colour.
"""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from img23d_backend.families.step1x.texture.atlas_fill import OUTSIDE, Charts, face_charts, fill_atlas, pull_push
from img23d_backend.uv.uvs import with_uvs

pytestmark = pytest.mark.clean_texture  # the clean family's texture model (pytest.ini)

RED, BLUE, GREEN = np.array([1.0, 0, 0]), np.array([0, 0, 1.0]), np.array([0, 1.0, 0])


def two_charts(size: int = 32) -> tuple[np.ndarray, np.ndarray, Charts]:
    """Chart 0 on the left half, chart 1 on the right half and on an island inside chart 0's box (as
    packed atlases nest charts; they meet in the atlas, not on the surface), a gutter column between
    the halves; chart 0 red with a hole reaching its border and the island, chart 1 blue."""
    texel_chart = np.full((size, size), OUTSIDE, dtype=np.int64)
    texel_chart[:, : size // 2] = 0
    texel_chart[:, size // 2 + 1:] = 1
    texel_chart[12:20, 2:6] = 1
    texture = np.zeros((size, size, 3))
    texture[texel_chart == 0] = RED
    texture[texel_chart == 1] = BLUE
    painted = texel_chart != OUTSIDE
    painted[8:24, 6: size // 2] = False        # a hole that reaches chart 0's border with the gutter
    texture[~painted] = 0.0
    charts = Charts(face_chart=np.array([0, 1]), texel_chart=texel_chart, touching=[np.array([], int)] * 2)
    return texture, painted, charts


def test_a_hole_takes_its_charts_colour_and_none_of_the_chart_beside_it() -> None:
    texture, painted, charts = two_charts()
    filled = fill_atlas(texture, painted, charts)
    hole = (charts.texel_chart == 0) & ~painted
    assert np.array_equal(filled[hole], np.broadcast_to([255, 0, 0], filled[hole].shape))


def test_painted_texels_keep_their_colour() -> None:
    rng = np.random.default_rng(0)
    texture, painted, charts = two_charts()
    texture[painted] = rng.uniform(0, 1, size=(int(painted.sum()), 3))
    filled = fill_atlas(texture, painted, charts)
    assert np.array_equal(filled[painted], (texture[painted] * 255 + 0.5).astype(np.uint8))


def test_a_hole_in_a_gradient_takes_the_colours_around_it() -> None:
    """A horizontal ramp with a square hole: each filled texel lies between the ramp's values on the
    hole's left and right borders, and near the ramp's value at its own column."""
    size = 64
    ramp = np.linspace(0, 1, size)
    texture = np.zeros((size, size, 3))
    texture[..., 0] = ramp[None, :]
    painted = np.ones((size, size), dtype=bool)
    painted[20:40, 20:40] = False
    charts = Charts(face_chart=np.array([0]), texel_chart=np.zeros((size, size), dtype=np.int64),
                    touching=[np.array([], int)])
    filled = fill_atlas(np.where(painted[..., None], texture, 0.0), painted, charts)[..., 0] / 255.0
    hole = filled[20:40, 20:40]
    assert hole.min() >= ramp[19] - 0.01 and hole.max() <= ramp[40] + 0.01
    assert np.abs(hole - ramp[None, 20:40]).max() < 0.12


def test_pull_push_fills_everything_from_the_known_texels_only() -> None:
    colour = np.zeros((37, 50, 3))
    weight = np.zeros((37, 50))
    colour[5, 5], weight[5, 5] = RED, 1
    colour[30, 40], weight[30, 40] = BLUE, 1
    filled = pull_push(colour, weight)
    assert np.allclose(filled[5, 5], RED) and np.allclose(filled[30, 40], BLUE)
    assert np.allclose(filled.sum(-1), 1) and filled[..., 1].max() == 0   # only mixes of the two
    assert filled[6, 6, 0] > 0.9 and filled[29, 39, 2] > 0.8


def test_a_chart_no_view_saw_takes_the_colour_of_the_charts_it_touches_and_not_of_others() -> None:
    """Chart 2 (unpainted) touches chart 0 (red) on the surface, not chart 1 (blue); chart 3 touches
    only chart 2, so it is reached on the second ring; chart 4 touches nothing: the mean of all."""
    texel_chart = np.full((10, 50), OUTSIDE, dtype=np.int64)
    for chart in range(5):
        texel_chart[:, chart * 10: chart * 10 + 9] = chart
    texture = np.zeros((10, 50, 3))
    texture[texel_chart == 0], texture[texel_chart == 1] = RED, BLUE
    painted = np.isin(texel_chart, [0, 1])
    touching = [np.array([2]), np.array([], int), np.array([0, 3]), np.array([2]), np.array([], int)]
    charts = Charts(face_chart=np.arange(5), texel_chart=texel_chart, touching=touching)
    filled = fill_atlas(texture, painted, charts).astype(int)
    assert (filled[texel_chart == 2] == [255, 0, 0]).all() and (filled[texel_chart == 3] == [255, 0, 0]).all()
    assert (filled[texel_chart == 4] == [128, 0, 128]).all()


def test_the_gutter_takes_the_nearest_charts_colour_so_mip_maps_do_not_darken_borders() -> None:
    texture, painted, charts = two_charts()
    filled = fill_atlas(texture, painted, charts).astype(int)
    gutter = charts.texel_chart == OUTSIDE
    assert gutter.sum() == 32
    # The gutter column is one texel from both charts: it takes one of their colours, never black.
    assert all(tuple(c) in {(255, 0, 0), (0, 0, 255)} for c in filled[gutter])
    half = filled.reshape(16, 2, 16, 2, 3).mean(axis=(1, 3))   # one mip level down
    assert half.sum(-1).min() >= 255


def test_charts_of_an_unwrapped_mesh_follow_its_uv_islands_and_touch_across_seams() -> None:
    apart = trimesh.util.concatenate([trimesh.creation.box(extents=(1, 1, 1)),
                                      trimesh.creation.box(extents=(1, 1, 1)).apply_translation((3, 0, 0))])
    mesh = with_uvs(apart)
    face_chart, touching = face_charts(np.asarray(mesh.faces), np.asarray(mesh.vertices))
    assert len(face_chart) == len(mesh.faces) and len(touching) == face_chart.max() + 1 >= 2
    # Faces of the two boxes never share a chart, and no chart of one box touches one of the other.
    box_of_face = (mesh.triangles_center[:, 0] > 1.5).astype(int)
    box_of_chart = np.zeros(len(touching), dtype=int)
    box_of_chart[face_chart] = box_of_face
    assert all((box_of_face[face_chart == c] == box_of_chart[c]).all() for c in range(len(touching)))
    for chart, around in enumerate(touching):
        assert chart not in around and (box_of_chart[around] == box_of_chart[chart]).all()
    # Each box is closed: when it is cut into several charts, each of them touches another.
    for box in (0, 1):
        mine = np.nonzero(box_of_chart == box)[0]
        assert len(mine) == 1 or all(len(touching[c]) for c in mine)
