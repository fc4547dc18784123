"""Step1X-3D's texture geometry: upstream's cameras written out from its formulas, its mesh frame, and
the position, normal and coverage maps img23d's rasterizer makes, against shapes whose maps are known.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import trimesh

from img23d_backend.families.step1x.texture.cameras import normalisation, upstream_cameras
from img23d_backend.families.step1x.texture.conditions import control_maps
from img23d_backend.families.step1x.texture.render import render_maps
from img23d_backend.uv.uvs import with_uvs

pytestmark = pytest.mark.clean_texture  # the clean family's texture model (pytest.ini)

C, S = math.cos(math.radians(89.99)), math.sin(math.radians(89.99))
# get_c2w's camera-to-world matrices, columns (right, up, back, position), for azimuths 0, 90, 180,
# 270, 180, 180 less 90 and elevations 0, 0, 0, 0, 89.99, -89.99 at distance 1.8, z up.
EXPECTED_C2W = {
    "front": [[1, 0, 0, 0], [0, 0, -1, -1.8], [0, 1, 0, 0]],         # azimuth -90: at -y
    "right": [[0, 0, 1, 1.8], [1, 0, 0, 0], [0, 1, 0, 0]],           # azimuth 0: at +x
    "back": [[-1, 0, 0, 0], [0, 0, 1, 1.8], [0, 1, 0, 0]],           # azimuth 90: at +y
    "left": [[0, 0, -1, -1.8], [-1, 0, 0, 0], [0, 1, 0, 0]],         # azimuth 180: at -x
    "top": [[-1, 0, 0, 0], [0, -S, C, 1.8 * C], [0, C, S, 1.8 * S]],  # azimuth 90, elevation 89.99
    "bottom": [[-1, 0, 0, 0], [0, S, C, 1.8 * C], [0, C, -S, -1.8 * S]],
}
# get_orthogonal_projection_matrix(left=-0.55, right=0.55, bottom=-0.55, top=0.55, near=0.1, far=100)
EXPECTED_PROJECTION = [[1 / 0.55, 0, 0, 0], [0, -1 / 0.55, 0, 0], [0, 0, -2 / 99.9, -100.1 / 99.9], [0, 0, 0, 1]]
# Each view's image right, image up and the direction towards its camera, in the mesh's own y-up frame.
VIEW_AXES = {
    "front": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "right": ((0, 0, -1), (0, 1, 0), (1, 0, 0)),
    "back": ((-1, 0, 0), (0, 1, 0), (0, 0, -1)),
    "left": ((0, 0, 1), (0, 1, 0), (-1, 0, 0)),
    "top": ((-1, 0, 0), (0, 0, 1), (0, 1, 0)),
    "bottom": ((-1, 0, 0), (0, 0, -1), (0, -1, 0)),
}
NAMES = list(EXPECTED_C2W)


def _z_up(points: np.ndarray) -> np.ndarray:
    """upstream's load_mesh turn, (x, y, z) -> (x, -z, y), written out."""
    points = np.asarray(points, dtype=np.float64)
    return np.stack([points[..., 0], -points[..., 2], points[..., 1]], axis=-1)


def test_the_cameras_are_upstreams_orthographic_six() -> None:
    cameras = upstream_cameras()
    assert cameras.views == 6
    for number, name in enumerate(NAMES):
        c2w = np.vstack([EXPECTED_C2W[name], [0, 0, 0, 1]])
        np.testing.assert_allclose(cameras.world_to_camera[number], np.linalg.inv(c2w), atol=1e-9, err_msg=name)
    np.testing.assert_allclose(cameras.projection, EXPECTED_PROJECTION, atol=1e-12)
    np.testing.assert_allclose(cameras.mvp, EXPECTED_PROJECTION @ cameras.world_to_camera, atol=1e-12)


def test_the_mesh_is_scaled_to_half_about_the_origin_and_turned_z_up() -> None:
    vertices = np.array([[4.0, -1.0, 2.0], [-2.0, 3.0, 0.5], [0.0, 0.0, -1.0]])
    frame = normalisation(vertices)
    assert frame.scale == pytest.approx(0.125)
    moved = frame.apply(vertices)
    np.testing.assert_allclose(moved, _z_up(vertices) * 0.125)
    assert np.abs(moved).max() == pytest.approx(0.5)
    np.testing.assert_allclose(frame.invert(moved), vertices, atol=1e-12)
    np.testing.assert_allclose(frame.turn([[0.0, 1.0, 0.0]]), [[0.0, 0.0, 1.0]])   # y-up is z-up now


@pytest.mark.parametrize("vertices, words", [
    (np.zeros((3, 3)), "at the origin"),
    (np.array([[0.0, np.nan, 1.0]]), "not finite"),
    (np.zeros((0, 3)), "non-empty"),
])
def test_a_mesh_that_cannot_be_framed_is_refused_in_one_sentence(vertices: np.ndarray, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        normalisation(vertices)


def test_a_box_off_the_origin_gives_the_positions_and_coverage_each_view_sees() -> None:
    size = 20   # no pixel centre lies on the box's edges or on its faces' diagonals
    box = trimesh.creation.box(extents=(2.0, 1.5, 1.0))
    box.apply_translation((1.0, 0.75, 0.5))   # [0, 2] x [0, 1.5] x [0, 1]: normalised into a corner, not centred
    bounds = np.array([0.5, 0.375, 0.25])
    maps = render_maps(box, size=size)
    assert maps.positions.shape == maps.normals.shape == (6, size, size, 3) and maps.masks.shape == (6, size, size)
    # nvdiffrast's pixel centres: column c at x = (2c + 1) / size - 1; row 0 is the top.
    ndc = (2 * np.arange(size) + 1) / size - 1
    across, down = np.meshgrid(ndc * 0.55, -ndc * 0.55)
    for number, name in enumerate(NAMES):
        right, up, towards = (np.array(axis, dtype=np.float64) for axis in VIEW_AXES[name])
        face = (bounds * towards).sum() if towards.sum() > 0 else 0.0   # the box face that looks at this camera
        points = across[..., None] * right + down[..., None] * up + face * towards
        inside = ((points > -1e-9) & (points < bounds + 1e-9)).all(-1)
        assert inside.sum() > 10 and np.array_equal(maps.masks[number].numpy(), inside), name
        np.testing.assert_allclose(maps.positions[number].numpy()[inside], _z_up(points[inside]), atol=1e-3,
                                   err_msg=name)
        assert not maps.positions[number].numpy()[~inside].any() and not maps.normals[number].numpy()[~inside].any()


def test_a_sphere_gives_outward_unit_normals_in_the_z_up_frame_even_cut_along_uv_seams() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=3.0)
    maps = render_maps(sphere, size=64)
    masks, positions, normals = maps.masks, maps.positions, maps.normals
    radius = positions[masks].norm(dim=-1)
    assert radius.max() <= 0.5 + 1e-5 and radius.min() > 0.49
    outward = torch.nn.functional.normalize(positions[masks], dim=-1)
    assert (normals[masks] * outward).sum(-1).min() > 0.999
    # The front view's centre looks back at the camera: -y in upstream's frame.
    np.testing.assert_allclose(normals[0, 32, 32].numpy(), [0, -1, 0], atol=0.03)
    # Each view covers a disc of radius 0.5 in a frame of +-0.55.
    np.testing.assert_allclose(masks.float().mean((1, 2)).numpy(), math.pi * 0.25 / 1.21, rtol=0.05)
    seams = render_maps(with_uvs(sphere), size=64)   # xatlas splits the vertices along its seams
    assert torch.equal(seams.masks, masks)
    torch.testing.assert_close(seams.normals, normals, atol=1e-5, rtol=0)


def test_the_maps_encode_as_upstream_with_a_mid_grey_background() -> None:
    maps = render_maps(trimesh.creation.icosphere(subdivisions=2), size=32)
    controls = control_maps(maps.positions, maps.normals, maps.masks)
    assert controls.shape == (6, 6, 32, 32)
    background = ~maps.masks[:, None].expand(-1, 6, -1, -1)
    assert torch.all(controls[background] == 0.5)
    torch.testing.assert_close(controls[:, :3].permute(0, 2, 3, 1)[maps.masks], maps.positions[maps.masks] + 0.5)


def test_a_mesh_without_triangles_is_refused() -> None:
    with pytest.raises(ValueError, match="no triangles"):
        render_maps(trimesh.Trimesh(vertices=np.eye(3), faces=np.zeros((0, 3), dtype=np.int64)), size=16)
