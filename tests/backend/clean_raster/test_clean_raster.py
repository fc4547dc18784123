"""The licence-clean family's rasterizer (``clean_raster``) against what a rasterizer must do: every
pixel centre of a tiled surface covered exactly once (the top-left rule), the nearer face in front,
barycentrics that sum to 1 and give back the attributes (perspective-correct), nothing from faces
that cannot be seen, and the same coverage as ``raster`` (Hunyuan's, used here only to compare) on a
real mesh up to pixels on its silhouette.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh
from scipy.spatial import Delaunay

from img23d_backend.families.hunyuan3d import raster
from img23d_backend.clean_raster import interpolate, rasterize
from img23d_backend.families.step1x.texture.cameras import ORTHO_HALF_EXTENT, to_clip, upstream_cameras
from img23d_backend.families.step1x.texture.render import surface
from testdata import REPO


def clip_from_pixels(points: np.ndarray, size: tuple[int, int], depth: float | np.ndarray = 0.0) -> torch.Tensor:
    """Clip positions [N, 4] of points given in pixel-centre coordinates (x: column, y: row)."""
    height, width = size
    points = np.asarray(points, dtype=np.float64)
    x = points[:, 0] / (width - 1) * 2 - 1
    y = points[:, 1] / (height - 1) * 2 - 1
    z = np.broadcast_to(np.asarray(depth, dtype=np.float64), x.shape)
    return torch.tensor(np.stack([x, y, z, np.ones_like(x)], axis=1), dtype=torch.float32)


def coverage_count(clip: torch.Tensor, faces: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """How many of ``faces``, each rasterized alone, cover each pixel."""
    count = np.zeros(size, dtype=int)
    for face in faces:
        findices, _ = rasterize(clip, torch.tensor(face[None], dtype=torch.int32), size)
        count += findices.numpy() > 0
    return count


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_tiled_square_covers_every_pixel_once_but_its_right_column_and_bottom_row(seed: int) -> None:
    """Vertices on pixel centres (so many centres lie exactly on shared edges) and off them: each
    centre belongs to one triangle; the square's own right and bottom edges give theirs away."""
    size = (24, 31)
    rng = np.random.default_rng(seed)
    corners = np.array([[0, 0], [30, 0], [0, 23], [30, 23]], dtype=np.float64)
    on_centres = rng.integers(1, [30, 23], size=(14, 2)).astype(np.float64)
    off_centres = rng.uniform(1, [29, 22], size=(14, 2))
    edges = np.array([[10, 0], [0, 7], [30, 12], [17, 23]], dtype=np.float64)
    points = np.unique(np.concatenate([corners, on_centres, off_centres, edges]), axis=0)
    faces = Delaunay(points).simplices
    count = coverage_count(clip_from_pixels(points, size), faces, size)
    expected = np.ones(size, dtype=int)
    expected[:, -1] = 0
    expected[-1, :] = 0
    assert np.array_equal(count, expected)


def test_both_windings_cover_the_same_pixels() -> None:
    size = (16, 16)
    points = np.array([[1.5, 2.0], [13.0, 4.0], [6.0, 14.0]])
    clip = clip_from_pixels(points, size)
    one, _ = rasterize(clip, torch.tensor([[0, 1, 2]], dtype=torch.int32), size)
    other, _ = rasterize(clip, torch.tensor([[0, 2, 1]], dtype=torch.int32), size)
    assert (one > 0).sum() > 40 and torch.equal(one > 0, other > 0)


def test_the_nearer_face_wins_whatever_its_order_and_a_tie_goes_to_the_lower_face() -> None:
    size = (20, 20)
    square = np.array([[2, 2], [17, 2], [17, 17], [2, 17]], dtype=np.float64)
    points = np.concatenate([square, square])
    for near_first in (True, False):
        depths = np.array([0.2] * 4 + [0.6] * 4) if near_first else np.array([0.6] * 4 + [0.2] * 4)
        faces = torch.tensor([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]], dtype=torch.int32)
        findices, _ = rasterize(clip_from_pixels(points, size, depths), faces, size)
        seen = findices[findices > 0]
        assert set(seen.tolist()) == ({1, 2} if near_first else {3, 4})
    # Equal depth: the lower face index, on every pixel (not whichever was evaluated last).
    faces = torch.tensor([[4, 5, 6], [4, 6, 7], [0, 1, 2], [0, 2, 3]], dtype=torch.int32)
    findices, _ = rasterize(clip_from_pixels(points, size, 0.3), faces, size)
    assert set(findices[findices > 0].tolist()) == {1, 2}


def test_a_face_crossing_another_is_in_front_only_where_it_is_nearer() -> None:
    size = (16, 16)
    points = np.array([[0, 0], [15, 0], [0, 15], [0, 0], [15, 0], [0, 15]], dtype=np.float64)
    # Face 0 at depth 0; face 1 tilted from -0.5 (left) to +0.5 (right): in front left of x = 7.5.
    depth = np.array([0.0, 0.0, 0.0, -0.5, 0.5, -0.5])
    findices, _ = rasterize(clip_from_pixels(points, size, depth),
                            torch.tensor([[0, 1, 2], [3, 4, 5]], dtype=torch.int32), size)
    assert (findices[:5, :7] == 2).all() and (findices[:4, 8:12] == 1).all()


def test_barycentrics_sum_to_one_and_give_back_a_linear_attribute() -> None:
    size = (32, 40)
    points = np.array([[3.3, 2.7], [37.2, 9.9], [12.4, 29.6]])
    clip = clip_from_pixels(points, size, np.array([0.1, -0.4, 0.7]))
    faces = torch.tensor([[0, 1, 2]], dtype=torch.int32)
    findices, bary = rasterize(clip, faces, size)
    covered = findices > 0
    assert covered.sum() > 300
    assert torch.allclose(bary[covered].sum(-1), torch.ones(int(covered.sum())), atol=1e-6)
    assert (bary[covered] >= 0).all() and (bary[~covered] == 0).all()
    # Each pixel's centre comes back from the vertices' pixel positions.
    where = interpolate(torch.tensor(points, dtype=torch.float32)[None], findices, bary, faces)[0]
    rows, cols = torch.meshgrid(torch.arange(size[0]), torch.arange(size[1]), indexing="ij")
    assert torch.allclose(where[covered], torch.stack([cols, rows], -1)[covered].float(), atol=2e-3)
    assert (where[~covered] == 0).all()


def test_barycentrics_are_perspective_correct() -> None:
    """A triangle at varying distance seen through a perspective camera: the camera-space point
    interpolated at a pixel projects back onto that pixel's centre (affine interpolation would not)."""
    size = (48, 48)
    camera = np.array([[-1.6, -1.2, -2.0], [1.8, -0.9, -6.0], [0.2, 2.4, -3.0]])
    near, far = 0.1, 10.0
    depth_row = [0, 0, -(far + near) / (far - near), -2 * far * near / (far - near)]
    projection = np.array([[1, 0, 0, 0], [0, 1, 0, 0], depth_row, [0, 0, -1, 0]])
    clip = torch.tensor(np.c_[camera, np.ones(3)] @ projection.T, dtype=torch.float32)
    faces = torch.tensor([[0, 1, 2]], dtype=torch.int32)
    findices, bary = rasterize(clip, faces, size)
    covered = findices > 0
    assert covered.sum() > 200
    point = interpolate(torch.tensor(camera, dtype=torch.float32)[None], findices, bary, faces)[0][covered]
    ndc = -point[:, :2] / point[:, 2:]
    rows, cols = torch.meshgrid(torch.arange(size[0]), torch.arange(size[1]), indexing="ij")
    pixel = torch.stack([cols, rows], -1)[covered].float()
    assert torch.allclose((ndc * 0.5 + 0.5) * (size[0] - 1), pixel, atol=0.02)
    affine = (bary[covered] * clip[:, 3]).numpy()   # undoing the correction changes the answer
    assert not np.allclose(affine / affine.sum(1, keepdims=True), bary[covered].numpy(), atol=1e-2)


@pytest.mark.parametrize("points, w", [
    ([[2, 2], [2, 2], [9, 9]], 1.0),                 # two vertices at one place
    ([[1, 1], [5, 5], [12, 12]], 1.0),               # on one line
    ([[-30, -30], [-10, -30], [-20, -5]], 1.0),      # left of and above the screen
    ([[20, 3], [40, 3], [30, 12]], 1.0),             # right of it
    ([[1.2, 1.2], [1.8, 1.3], [1.5, 1.8]], 1.0),     # between pixel centres
    ([[2, 2], [12, 2], [7, 12]], -1.0),              # behind the camera
    ([[2, 2], [12, 2], [float("nan"), 12]], 1.0),    # not a number
])
def test_faces_that_cannot_be_seen_cover_nothing(points: list[list[float]], w: float) -> None:
    size = (16, 16)
    clip = clip_from_pixels(np.array(points), size) * w
    findices, bary = rasterize(clip, torch.tensor([[0, 1, 2]], dtype=torch.int32), size)
    assert not (findices > 0).any() and not bary.any()


def test_a_face_beyond_the_depth_range_is_clipped_and_one_partly_off_screen_is_cut_at_the_edge() -> None:
    size = (16, 16)
    faces = torch.tensor([[0, 1, 2]], dtype=torch.int32)
    square = np.array([[-8, -8], [40, -8], [-8, 40]], dtype=np.float64)
    for depth in (-1.5, 1.5):
        assert not (rasterize(clip_from_pixels(square, size, depth), faces, size)[0] > 0).any()
    findices, _ = rasterize(clip_from_pixels(square, size, 0.0), faces, size)
    rows, cols = np.mgrid[0:16, 0:16]
    assert np.array_equal(findices.numpy() > 0, rows + cols < 32)   # the hypotenuse x + y = 32 is off screen


def test_both_input_shapes_and_empty_inputs() -> None:
    size = (8, 8)
    clip = clip_from_pixels(np.array([[0, 0], [7, 0], [0, 7]], dtype=np.float64), size)
    faces = torch.tensor([[0, 1, 2]], dtype=torch.int32)
    flat, _ = rasterize(clip, faces, size)
    batched, _ = rasterize(clip[None], faces, size)
    assert torch.equal(flat, batched) and flat.dtype == torch.int32
    empty, bary = rasterize(clip, torch.zeros((0, 3), dtype=torch.int32), size)
    assert empty.shape == (8, 8) and not empty.any() and bary.shape == (8, 8, 3)
    with pytest.raises(ValueError, match="vertex that does not exist"):
        rasterize(clip, torch.tensor([[0, 1, 3]], dtype=torch.int32), size)


def test_a_small_cell_budget_gives_the_same_image() -> None:
    size = (64, 64)
    rng = np.random.default_rng(3)
    points = rng.uniform(-10, 74, size=(60, 2))
    faces = torch.tensor(Delaunay(points).simplices, dtype=torch.int32)
    clip = clip_from_pixels(points, size, rng.uniform(-0.9, 0.9, size=60))
    whole = rasterize(clip, faces, size)
    pieces = rasterize(clip, faces, size, cell_budget=64)
    assert torch.equal(whole[0], pieces[0]) and torch.equal(whole[1], pieces[1])


def test_the_coverage_of_a_real_mesh_matches_hunyuans_rasterizer_but_on_its_silhouette() -> None:
    """The bundled house mesh in the clean family's six views at 192 px: the same pixels covered but
    for pixels on the silhouette (next to background in one of the two); where the two pick different
    faces (a pixel centre on or near their shared edge: the tie rules differ) the faces are neighbours
    and the surface point seen is the same to half a pixel."""
    shape = surface(trimesh.load(REPO / "examples" / "house_mesh.glb", force="mesh"))
    size = 192
    pixel = 2 * ORTHO_HALF_EXTENT / size
    for mvp in upstream_cameras().mvp:
        clip = to_clip(shape.points, mvp, size, size)
        ours, our_bary = rasterize(clip, shape.faces, (size, size))
        theirs, their_bary = raster.rasterize(clip, shape.faces, (size, size))
        mine, other = ours > 0, theirs > 0
        assert mine.sum() > 0.2 * size * size
        edge = _next_to_background(mine) | _next_to_background(other)
        assert not ((mine ^ other) & ~edge).any()
        both = mine & other
        assert (ours[both] == theirs[both]).float().mean() > 0.98
        differ = both & (ours != theirs)
        mine_corners, their_corners = shape.faces[ours[differ].long() - 1], shape.faces[theirs[differ].long() - 1]
        assert (mine_corners[:, :, None] == their_corners[:, None, :]).any(-1).any(-1).all()
        seen = interpolate(shape.points[None], ours, our_bary, shape.faces)[0]
        seen_there = raster.interpolate(shape.points[None], theirs, their_bary, shape.faces)[0]
        assert (seen - seen_there).norm(dim=-1)[both].max() < 0.5 * pixel


def _next_to_background(mask: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.max_pool2d((~mask).float()[None, None], 3, 1, 1)[0, 0] > 0
