"""Baking six views into a mesh's UV texture with upstream's weights, from synthetic single-colour views
whose texture is known: each face takes the colour of the view that sees it, the right way round,
surfaces two views see blend by view weight x cos^4 unless the second adds under 1% new texels, and
what no view sees is filled.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh
from PIL import Image

from img23d_backend.env.job_control import CancelToken
from img23d_backend.families.step1x.texture.bake import BakeSettings, _reliable, bake_views
from img23d_backend.uv.uvs import with_uvs
from img23d_protocol import ErrorCode, ProtocolError

pytestmark = pytest.mark.clean_texture  # the clean family's texture model (pytest.ini)

SMALL = BakeSettings(texture_size=128, render_size=256)
RED, BLUE, GREEN = (255, 0, 0), (0, 0, 255), (0, 255, 0)
VIEW_COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255)]
# Where each view sees the box [-1, 1]^3: the face centre, and the direction of the view's image right.
FACES = {"front": ((0, 0, 1), (1, 0, 0)), "right": ((1, 0, 0), (0, 0, -1)), "back": ((0, 0, -1), (-1, 0, 0)),
         "left": ((-1, 0, 0), (0, 0, 1)), "top": ((0, 1, 0), (-1, 0, 0)), "bottom": ((0, -1, 0), (-1, 0, 0))}
# ... and the direction of its image up.
UPS = {"front": (0, 1, 0), "right": (0, 1, 0), "back": (0, 1, 0), "left": (0, 1, 0), "top": (0, 0, 1),
       "bottom": (0, 0, -1)}


def texel(mesh: trimesh.Trimesh, image: Image.Image, point: tuple[float, ...]) -> np.ndarray:
    """The texture's colour at a point of the mesh's surface (through the UVs of the face it lies on)."""
    row, col = texel_at(mesh, image.size, point)
    return np.asarray(image)[row, col].astype(int)


def texel_at(mesh: trimesh.Trimesh, size: tuple[int, int], point: tuple[float, ...]) -> tuple[int, int]:
    """The row and column of the texel at a point of the mesh's surface."""
    triangles = mesh.triangles
    target = np.array(point, dtype=np.float64)
    bary = trimesh.triangles.points_to_barycentric(triangles, np.repeat(target[None], len(triangles), 0))
    back = np.einsum("nk,nkj->nj", bary, triangles)
    on = np.nonzero((bary >= -1e-6).all(1) & (np.linalg.norm(back - target, axis=1) < 1e-6))[0]
    assert on.size, f"{point} is not on the mesh"
    uv = bary[on[0]] @ np.asarray(mesh.visual.uv)[mesh.faces[on[0]]]
    width, height = size
    return int((1 - uv[1]) * height), int(uv[0] * width)


def _plain(colour: tuple[int, int, int], size: int = 64) -> Image.Image:
    return Image.new("RGB", (size, size), colour)


def _halves(first: tuple[int, int, int], second: tuple[int, int, int], across: bool, size: int = 64) -> Image.Image:
    """``first`` on the left (across) or top half, ``second`` on the other."""
    pixels = np.zeros((size, size, 3), dtype=np.uint8)
    pixels[:] = second
    if across:
        pixels[:, : size // 2] = first
    else:
        pixels[: size // 2] = first
    return Image.fromarray(pixels)


def test_each_face_of_a_box_takes_the_colour_of_the_view_that_faces_it() -> None:
    box = trimesh.creation.box(extents=(2, 2, 2))
    baked = bake_views(box, [_plain(c) for c in VIEW_COLOURS], SMALL)
    for (name, (centre, _)), colour in zip(FACES.items(), VIEW_COLOURS):
        for offset in (0.0, 0.6):
            point = np.array(centre) + offset * np.array(UPS[name])
            np.testing.assert_allclose(texel(baked.mesh, baked.image, tuple(point)), colour, atol=1, err_msg=name)
    assert baked.image.size == (128, 128) and baked.painted.shape == baked.covered.shape == (128, 128)
    assert not (baked.painted & ~baked.covered).any()


def test_every_view_is_baked_the_right_way_round() -> None:
    views = [_halves(RED, BLUE, across=name not in ("top", "bottom")) for name in FACES]
    baked = bake_views(trimesh.creation.box(extents=(2, 2, 2)), views, SMALL)
    for name, (centre, right) in FACES.items():
        # Side views: red on the image's left; top and bottom: red on its upper half.
        towards_red = -np.array(right) if name not in ("top", "bottom") else np.array(UPS[name])
        red_side = tuple(np.array(centre) + 0.5 * towards_red)
        blue_side = tuple(np.array(centre) - 0.5 * towards_red)
        np.testing.assert_allclose(texel(baked.mesh, baked.image, red_side), RED, atol=1, err_msg=name)
        np.testing.assert_allclose(texel(baked.mesh, baked.image, blue_side), BLUE, atol=1, err_msg=name)


def _sheets(side_wall: bool, turn: float = 45.0) -> trimesh.Trimesh:
    """A sheet facing (sin turn, 0, cos turn), which the front and right views both see, and optionally
    a strip facing +x beside it, which only the right view sees."""
    depth = 0.3 * np.tan(np.radians(turn))
    vertices = [(-0.3, -0.3, depth), (0.3, -0.3, -depth), (0.3, 0.3, -depth), (-0.3, 0.3, depth)]
    faces = [[0, 1, 2], [0, 2, 3]]
    if side_wall:
        vertices += [(0.45, -0.3, -0.45), (0.45, -0.3, -0.35), (0.45, 0.3, -0.35), (0.45, 0.3, -0.45)]
        faces += [[4, 7, 6], [4, 6, 5]]
    mesh = trimesh.Trimesh(np.array(vertices, dtype=np.float64), np.array(faces), process=False)
    assert np.allclose(mesh.face_normals[:2], [np.sin(np.radians(turn)), 0, np.cos(np.radians(turn))])
    return mesh


def test_a_surface_two_views_see_blends_them_by_view_weight_and_cosine() -> None:
    views = [_plain(RED), _plain(BLUE)] + [_plain(GREEN)] * 4   # green views see the sheet from behind or edge-on
    baked = bake_views(_sheets(side_wall=True, turn=30.0), views, SMALL)
    # The front view (weight 1) sees it at 30 degrees, the right view (0.1) at 60.
    front, right = 1.0 * np.cos(np.radians(30)) ** 4, 0.1 * np.cos(np.radians(60)) ** 4
    expected = (np.array(RED) * front + np.array(BLUE) * right) / (front + right)   # 252.2, 0, 2.8
    slope = np.tan(np.radians(30))
    for x, y in ((0.0, 0.0), (0.15, 0.1), (-0.1, -0.2)):
        point = (x, y, -x * slope)
        np.testing.assert_allclose(texel(baked.mesh, baked.image, point), expected, atol=1)
    np.testing.assert_allclose(texel(baked.mesh, baked.image, (0.45, 0.0, -0.4)), BLUE, atol=1)
    # At 45 degrees each: (1 x red + 0.1 x blue) / 1.1.
    baked = bake_views(_sheets(side_wall=True), views, SMALL)
    np.testing.assert_allclose(texel(baked.mesh, baked.image, (0.0, 0.0, 0.0)), (231.8, 0, 23.2), atol=1)


def test_a_view_that_adds_under_one_percent_new_texels_is_skipped() -> None:
    views = [_plain(RED), _plain(BLUE)] + [_plain(GREEN)] * 4
    baked = bake_views(_sheets(side_wall=False), views, SMALL)
    np.testing.assert_allclose(texel(baked.mesh, baked.image, (0.0, 0.0, 0.0)), RED, atol=1)


def test_a_surface_no_view_sees_is_filled_from_its_surroundings() -> None:
    outer = trimesh.creation.box(extents=(2, 2, 2))
    inner = trimesh.creation.box(extents=(0.5, 0.5, 0.5))   # shut inside the outer box
    mesh = trimesh.util.concatenate([outer, inner])
    colour = (70, 140, 210)
    baked = bake_views(mesh, [_plain(colour)] * 6, SMALL)
    pixels = np.asarray(baked.image).astype(int)
    hidden = baked.covered & ~baked.painted
    assert hidden.sum() > 0.03 * baked.covered.sum()   # the inner box's texels, and the edges' band
    np.testing.assert_allclose(pixels[baked.covered], np.broadcast_to(colour, pixels[baked.covered].shape), atol=2)
    np.testing.assert_allclose(texel(baked.mesh, baked.image, (0.0, 0.25, 0.0)), colour, atol=2)
    assert not baked.painted[texel_at(baked.mesh, baked.image.size, (0.0, 0.25, 0.0))]   # the inner box: filled
    assert baked.painted[texel_at(baked.mesh, baked.image.size, (0.0, 1.0, 0.0))]        # the outer box: seen


@pytest.mark.parametrize("size, border", [(256, 1), (1024, 4), (2048, 8)])
def test_pixels_within_two_512ths_of_the_render_of_a_silhouette_or_a_depth_edge_are_not_trusted(
        size: int, border: int) -> None:
    visible = torch.zeros((size, size), dtype=torch.bool)
    visible[size // 4: 3 * size // 4, size // 4: 3 * size // 4] = True
    depth = torch.where(visible, 2.0, 0.0)
    expected = torch.zeros_like(visible)
    expected[size // 4 + border: 3 * size // 4 - border, size // 4 + border: 3 * size // 4 - border] = True
    assert torch.equal(_reliable(visible, depth, size), expected)
    # A step in depth inside the silhouette: Canny finds it, and a band of the same width goes.
    stepped = torch.where(visible & (torch.arange(size)[None, :] >= size // 2), 3.0, depth)
    reliable = _reliable(visible, stepped, size)
    middle = reliable[size // 2]
    assert not middle[size // 2 - border - 1: size // 2 + border].any() and middle[size // 4 + border: size // 2 - 2 * border - 2].all()


def test_a_mesh_with_uvs_keeps_them_and_one_without_is_unwrapped() -> None:
    unwrapped = with_uvs(trimesh.creation.box(extents=(2, 2, 2)))
    baked = bake_views(unwrapped, [_plain(RED)] * 6, SMALL)
    assert np.array_equal(baked.mesh.visual.uv, unwrapped.visual.uv)
    assert np.array_equal(baked.mesh.vertices, unwrapped.vertices) and np.array_equal(baked.mesh.faces, unwrapped.faces)
    material = baked.mesh.visual.material
    assert material.baseColorTexture is baked.image and material.metallicFactor == 0.0
    plain = trimesh.creation.box(extents=(2, 2, 2))
    assert getattr(plain.visual, "uv", None) is None
    fresh = bake_views(plain, [_plain(RED)] * 6, SMALL).mesh
    assert len(fresh.visual.uv) == len(fresh.vertices) >= len(plain.vertices)


@pytest.mark.parametrize("views, settings, words", [
    ([_plain(RED)] * 5, SMALL, "5 views for 6 cameras"),
    ([_plain(RED)] * 5 + [Image.new("RGB", (64, 32))], SMALL, "square"),
    ([_plain(RED)] * 6, BakeSettings(texture_size=128, render_size=256, view_weights=(1.0, 0.5)), "one weight per view"),
    ([_plain(RED)] * 6, BakeSettings(texture_size=1), "too small"),
])
def test_bad_inputs_are_refused_in_one_sentence(views: list[Image.Image], settings: BakeSettings, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        bake_views(trimesh.creation.box(), views, settings)


def test_a_cancelled_bake_stops_between_views() -> None:
    token, baked = CancelToken(), []

    def on_view(done: int, views: int) -> None:
        baked.append(done)
        if done == 2:
            token.cancel()

    with pytest.raises(ProtocolError) as caught:
        bake_views(trimesh.creation.box(), [_plain(RED)] * 6, SMALL, on_view=on_view, cancel=token)
    assert caught.value.code == ErrorCode.CANCELLED and baked == [1, 2]
