"""The pure-PyTorch ``custom_rasterizer``: exact coverage, depth order, barycentrics, the shim.

Expected answers come from hand-built geometry (pixel-exact coordinates) or from a deliberately
plain NumPy reference below that follows the original C++ kernel operation by operation.
"""

from __future__ import annotations

import sys
import types
from fractions import Fraction

import numpy as np
import pytest
import torch

from img23d_backend.families.hunyuan3d.raster import active_rasterizer, install_custom_rasterizer, interpolate, rasterize
from img23d_backend.families.hunyuan3d.raster import shim

F32 = np.float32


# ----------------------------------------------------------------------------- reference
def reference_rasterize(pos: np.ndarray, tri: np.ndarray, height: int, width: int):
    """Per-face loop over all pixel centres, in float32 like the original kernel."""
    v = pos.astype(F32)
    px, py = np.meshgrid(np.arange(width), np.arange(height))
    cx, cy = px.astype(F32) + F32(0.5), py.astype(F32) + F32(0.5)
    maxint = 2 ** 31 - 1
    zbuf = np.full((height, width), np.iinfo(np.int64).max, dtype=np.int64)

    def screen(i):
        x, y, z, w = v[i]
        return ((x / w * F32(0.5) + F32(0.5)) * F32(width - 1) + F32(0.5),
                (F32(0.5) + F32(0.5) * y / w) * F32(height - 1) + F32(0.5),
                z / w * F32(0.49999) + F32(0.5))

    def area2(face):
        (ax, ay, _), (bx, by, _), (ccx, ccy, _) = (screen(i) for i in face)
        return (ccx - ax) * (by - ay) - (bx - ax) * (ccy - ay)

    def bary(face, qx, qy):
        (ax, ay, _), (bx, by, _), (ccx, ccy, _) = (screen(i) for i in face)
        inv = F32(1.0 / np.float64(area2(face)))
        beta = ((ccx - ax) * (qy - ay) - (qx - ax) * (ccy - ay)) * inv
        gamma = ((qx - ax) * (by - ay) - (bx - ax) * (qy - ay)) * inv
        alpha = (1.0 - beta.astype(np.float64) - gamma.astype(np.float64)).astype(F32)
        return alpha, beta, gamma

    for index, face in enumerate(tri):
        if (v[face, 3] <= 0).any() or area2(face) == 0:
            continue
        alpha, beta, gamma = bary(face, cx, cy)
        zs = [screen(i)[2] for i in face]
        inside = (alpha >= 0) & (alpha <= 1) & (beta >= 0) & (beta <= 1) & (gamma >= 0) & (gamma <= 1)
        depth = alpha * zs[0] + beta * zs[1] + gamma * zs[2]
        inside &= ~(depth < 0)
        token = np.trunc(depth * F32(2 ** 18)).astype(np.int64) * maxint + index + 1
        zbuf = np.where(inside, np.minimum(zbuf, token), zbuf)

    covered = zbuf != np.iinfo(np.int64).max
    findices = np.where(covered, zbuf % maxint, 0).astype(np.int32)
    out = np.zeros((height, width, 3), dtype=F32)
    for y, x in zip(*np.nonzero(covered)):
        face = tri[findices[y, x] - 1]
        a, b, g = bary(face, np.array([cx[y, x]]), np.array([cy[y, x]]))
        w = v[face, 3]
        lam = np.array([a[0] / w[0], b[0] / w[1], g[0] / w[2]], dtype=F32)
        out[y, x] = lam * (F32(1.0) / (lam[0] + lam[1] + lam[2]))
    return findices, out


def ndc_of_screen(s: float, size: int) -> float:
    """Clip coordinate (w = 1) whose screen coordinate is ``s`` on an axis of ``size`` pixels."""
    return ((s - 0.5) / (size - 1) - 0.5) * 2.0


def clip(xy_screen, height, width, z=0.0, w=1.0):
    """[1, N, 4] clip positions for screen-space points (all at one depth and w)."""
    rows = [[ndc_of_screen(x, width) * w, ndc_of_screen(y, height) * w, z * w, w] for x, y in xy_screen]
    return torch.tensor([rows], dtype=torch.float32)


def run(pos, tri, height, width, **kw):
    findices, bary = rasterize(pos, torch.as_tensor(tri, dtype=torch.int32), (height, width), **kw)
    return findices.numpy(), bary.numpy()


# ----------------------------------------------------------------------------- hand-built cases
@pytest.mark.parametrize("height,width", [(9, 9), (5, 9), (9, 5)])
def test_single_triangle_exact_pixels(height, width):
    # Screen-space corners on pixel centres (1,1), (5,1), (1,5): legs of 4 px make 1/area exact,
    # so the pixels on the hypotenuse are exactly on the edge, and edges are inclusive.
    pos = clip([(1.5, 1.5), (5.5, 1.5), (1.5, 5.5)], height, width)
    findices, bary = run(pos, [[0, 1, 2]], height, width)
    assert findices.shape == (height, width) and findices.dtype == np.int32
    assert bary.shape == (height, width, 3) and bary.dtype == np.float32
    expected = {(x, y) for x in range(width) for y in range(height) if x >= 1 and y >= 1 and x + y <= 6}
    got = {(x, y) for y, x in zip(*np.nonzero(findices))}
    assert got == expected
    assert set(findices[findices > 0].tolist()) == {1}
    assert (bary[findices == 0] == 0).all()
    corners = np.array([(1.5, 1.5), (5.5, 1.5), (1.5, 5.5)])
    for x, y in [(1, 1), (2, 2), (3, 1), (1, 4), (2, 3), (2, 4)]:
        b = bary[y, x]
        assert b.sum() == pytest.approx(1.0, abs=1e-6)
        assert b @ corners == pytest.approx((x + 0.5, y + 0.5), abs=1e-5)
    assert bary[2, 3].tolist() == [0.25, 0.5, 0.25]
    assert bary[1, 1].tolist() == [1, 0, 0]
    if width > 5:
        assert bary[1, 5].tolist() == [0, 1, 0]


def test_matches_exact_arithmetic_off_grid():
    # Corners off the pixel grid, no centre near an edge: coverage equals exact rational geometry.
    pos = clip([(0.8, 1.3), (8.1, 3.7), (2.9, 8.6)], 9, 9)
    findices, bary = run(pos, [[0, 2, 1]], 9, 9)
    (ax, ay), (bx, by), (cx, cy) = [(Fraction(x), Fraction(y)) for x, y in _screen_of(pos, 9, 9)]
    for y in range(9):
        for x in range(9):
            px, py = Fraction(2 * x + 1, 2), Fraction(2 * y + 1, 2)
            edges = [(bx - ax) * (py - ay) - (by - ay) * (px - ax),
                     (cx - bx) * (py - by) - (cy - by) * (px - bx),
                     (ax - cx) * (py - cy) - (ay - cy) * (px - cx)]
            assert all(abs(e) > Fraction(1, 100) for e in edges)
            inside = all(e > 0 for e in edges) or all(e < 0 for e in edges)
            assert (findices[y, x] == 1) == inside, (x, y)
    assert 10 < (findices == 1).sum() < 81
    assert np.allclose(bary[findices == 1].sum(-1), 1, atol=1e-6)


def _screen_of(pos, height, width):
    """Screen positions as float32 arithmetic produces them (exact inputs for Fractions)."""
    x, y, w = pos[0, :, 0], pos[0, :, 1], pos[0, :, 3]
    sx = (x / w * 0.5 + 0.5) * (width - 1) + 0.5
    sy = (0.5 + 0.5 * y / w) * (height - 1) + 0.5
    return list(zip(sx.tolist(), sy.tolist()))


def _quad(x0, y0, x1, y1, z, height=9, width=9):
    return clip([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], height, width, z=z)[0]


@pytest.mark.parametrize("near_first", [False, True])
def test_overlapping_quads_nearer_wins(near_first):
    far = _quad(1, 1, 6, 6, z=0.2)      # pixels 1..5
    near = _quad(3, 3, 8, 8, z=-0.3)    # pixels 3..7, closer to the camera
    quads = [near, far] if near_first else [far, near]
    pos = torch.cat(quads)[None]
    tri = [[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]]
    findices, _ = run(pos, tri, 9, 9)
    near_ids, far_ids = ({1, 2}, {3, 4}) if near_first else ({3, 4}, {1, 2})
    for y in range(9):
        for x in range(9):
            in_far, in_near = 1 <= x <= 5 and 1 <= y <= 5, 3 <= x <= 7 and 3 <= y <= 7
            want = near_ids if in_near else far_ids if in_far else {0}
            assert findices[y, x] in want, (x, y, findices[y, x])
    # On a quad's diagonal both of its triangles cover the centre at equal depth: lower index wins.
    assert findices[6, 6] == min(near_ids) and findices[2, 2] == min(far_ids)


def test_depth_prior_peels_the_nearer_layer():
    pos = torch.cat([_quad(1, 1, 6, 6, z=0.2), _quad(3, 3, 8, 8, z=-0.3)])[None]
    tri = torch.tensor([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]], dtype=torch.int32)
    prior = torch.full((9, 9), -0.3)
    findices, _ = rasterize(pos, tri, (9, 9), prior, 1)
    assert set(findices[4, 4:6].tolist()) <= {1, 2}           # the far quad shows through
    assert (findices[7, 7] == 0) and (findices[6, 3:8] == 0).all()


def _axis_view(d: np.ndarray):
    """Right, up for a camera on the +d side looking towards -d."""
    up = np.array([0.0, 0.0, 1.0]) if abs(d[2]) < 0.5 else np.array([0.0, 1.0, 0.0])
    right = np.cross(up, d)
    return right, np.cross(d, right)


@pytest.mark.parametrize("axis", ["+x", "-x", "+y", "-y", "+z", "-z"])
def test_unit_cube_orthographic_views(axis):
    import trimesh

    d = np.zeros(3)
    d["xyz".index(axis[1])] = 1.0 if axis[0] == "+" else -1.0
    box = trimesh.creation.box(extents=(1, 1, 1))
    right, up = _axis_view(d)
    verts = np.asarray(box.vertices)
    pos = np.stack([0.9 * verts @ right, 0.9 * verts @ up, -0.5 * verts @ d, np.ones(len(verts))], 1)
    pos = torch.tensor(pos[None], dtype=torch.float32)
    findices, bary = run(pos, np.asarray(box.faces), 33, 33)

    front = {i + 1 for i, n in enumerate(box.face_normals) if n @ d > 0.99}
    assert len(front) == 2
    centre = findices[16, 16]
    assert centre in front
    # The centre pixel is the midpoint of the front square's diagonal.
    face = box.faces[centre - 1]
    assert bary[16, 16] == pytest.approx(_origin_barycentrics(pos[0, face, :2].numpy()), abs=1e-6)
    assert sorted(bary[16, 16].tolist()) == pytest.approx([0, 0.5, 0.5], abs=1e-6)
    # Cube side 1 -> NDC span 0.9 -> screen [9.3, 23.7]: pixels 9..23 in both directions.
    assert (findices > 0).sum() == 15 * 15
    assert (findices[9:24, 9:24] > 0).all()
    assert set(np.unique(findices[findices > 0])) <= front


def _origin_barycentrics(corners: np.ndarray) -> list[float]:
    """Barycentrics of the NDC origin in a triangle (exact solve in float64)."""
    m = np.vstack([corners.T.astype(np.float64), np.ones(3)])
    return np.linalg.solve(m, np.array([0.0, 0.0, 1.0])).tolist()


def test_perspective_correction():
    ndc = [(-0.75, -0.75), (0.75, -0.5), (0.0, 0.75)]
    ws = [1.0, 2.0, 4.0]
    zs = [0.1, 0.3, 0.5]
    pos = torch.tensor([[[x * w, y * w, z * w, w] for (x, y), w, z in zip(ndc, ws, zs)]])
    height, width = 17, 21
    findices, bary = run(pos, [[0, 1, 2]], height, width)
    screen = np.array([((x * 0.5 + 0.5) * (width - 1) + 0.5, (0.5 + 0.5 * y) * (height - 1) + 0.5)
                       for x, y in ndc])
    checked = 0
    for y, x in zip(*np.nonzero(findices)):
        p = np.array([x + 0.5, y + 0.5])
        m = np.vstack([screen.T, np.ones(3)])
        b = np.linalg.solve(m, np.array([p[0], p[1], 1.0]))           # screen-space barycentrics
        lam = b / np.array(ws)
        lam /= lam.sum()
        assert bary[y, x] == pytest.approx(lam, abs=2e-6)
        # Perspective-correct weights blend clip-space positions onto the pixel's NDC point.
        clip_pt = lam @ pos[0].numpy().astype(np.float64)
        assert clip_pt[0] / clip_pt[3] == pytest.approx(2 * x / (width - 1) - 1, abs=1e-5)
        assert clip_pt[1] / clip_pt[3] == pytest.approx(2 * y / (height - 1) - 1, abs=1e-5)
        checked += 1
    assert checked > 40
    assert not np.allclose(bary[findices > 0].std(0), 0)


def test_interpolate_reproduces_vertex_attributes():
    centres = [(1, 1), (5, 1), (1, 5)]
    pos = clip([(x + 0.5, y + 0.5) for x, y in centres], 9, 9)
    tri = torch.tensor([[0, 1, 2]], dtype=torch.int32)
    attr = torch.tensor([[[1.0, 0, 0, 10], [0, 1, 0, 20], [0, 0, 1, 30]]])
    findices, bary = rasterize(pos, tri, (9, 9))
    out = interpolate(attr, findices, bary, tri)
    assert out.shape == (1, 9, 9, 4)
    for k, (x, y) in enumerate(centres):
        assert out[0, y, x].tolist() == pytest.approx(attr[0, k].tolist(), abs=1e-6)
    assert (out[0][findices == 0] == 0).all()
    # MeshRender hands findices over as floats (sliced out of a float tensor): same answer.
    assert torch.equal(interpolate(attr, findices.float(), bary, tri), out)
    assert out[0, 2, 2].tolist() == pytest.approx([0.5, 0.25, 0.25, 17.5], abs=1e-6)


def test_empty_and_degenerate_inputs():
    findices, bary = rasterize(torch.zeros(1, 0, 4), torch.zeros(0, 3, dtype=torch.int32), (6, 7))
    assert findices.shape == (6, 7) and (findices == 0).all()
    assert bary.shape == (6, 7, 3) and (bary == 0).all()
    pos = torch.tensor([[[0.0, 0, 0, 1], [0.5, 0, 0, 1], [0, 0.5, 0, 1],        # zero area
                         [-1, -1, 0, -1], [1, -1, 0, 1], [0, 1, 0, 1],          # a w < 0
                         [float("nan"), 0, 0, 1], [1e30, 1e30, 0, 1]]])
    tri = torch.tensor([[0, 0, 1], [0, 1, 1], [3, 4, 5], [6, 1, 2], [7, 1, 2]], dtype=torch.int32)
    findices, bary = rasterize(pos, tri, (6, 7))
    assert (findices == 0).all() and (bary == 0).all()
    attr = torch.ones(1, 8, 2)
    assert (interpolate(attr, findices, bary, tri) == 0).all()
    assert interpolate(attr, findices, bary, tri[:0]).shape == (1, 6, 7, 2)


# ----------------------------------------------------------------------------- against the reference
def _random_mesh(seed: int, faces: int = 24):
    rng = np.random.default_rng(seed)
    n = faces * 3
    ndc = rng.uniform(-1.3, 1.3, (n, 2))
    z = rng.uniform(-1.1, 1.1, (n, 1))                 # some fragments in front of the near plane
    w = rng.uniform(0.5, 2.0, (n, 1))
    pos = np.concatenate([ndc * w, z * w, w], 1)
    tri = rng.permutation(n).reshape(faces, 3)
    tri[0] = [tri[0, 0], tri[0, 0], tri[0, 1]]        # one degenerate face
    # A large coplanar pair sharing an edge at one depth, for exact depth ties.
    big = np.array([[-1.2, -1.2, 0, 1], [1.2, -1.2, 0, 1], [1.2, 1.2, 0, 1], [-1.2, 1.2, 0, 1]])
    pos = np.concatenate([pos, big])
    tri = np.concatenate([tri, [[n, n + 1, n + 2], [n, n + 2, n + 3]]])
    return pos.astype(np.float32), tri.astype(np.int32)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("options", [{}, {"cell_budget": 7}, {"depth_keys": "float", "cell_budget": 300}])
def test_random_meshes_match_reference(seed, options):
    height, width = 24, 32
    pos, tri = _random_mesh(seed)
    want_f, want_b = reference_rasterize(pos, tri, height, width)
    got_f, got_b = run(torch.from_numpy(pos)[None], tri, height, width, **options)
    assert (want_f > 0).sum() > 100
    np.testing.assert_array_equal(got_f, want_f)
    np.testing.assert_allclose(got_b, want_b, atol=1e-5, rtol=0)


def test_without_float64_results_stay_the_same(monkeypatch):
    # MPS has no float64: alpha and 1/area then come from float32 arithmetic instead.
    from img23d_backend.families.hunyuan3d.raster import faces

    monkeypatch.setattr(faces, "supports_float64", lambda device: False)
    for seed in range(3):
        pos, tri = _random_mesh(seed)
        want_f, want_b = reference_rasterize(pos, tri, 24, 32)
        got_f, got_b = run(torch.from_numpy(pos)[None], tri, 24, 32, depth_keys="float")
        same = got_f == want_f
        assert same.mean() > 0.99
        np.testing.assert_allclose(got_b[same], want_b[same], atol=1e-5, rtol=0)


# ----------------------------------------------------------------------------- the shim and hy3dgen
def test_shim_prefers_a_compiled_module(monkeypatch):
    fake = types.ModuleType("custom_rasterizer")
    fake.rasterize, fake.interpolate = (lambda *a: None), (lambda *a: None)
    monkeypatch.setitem(sys.modules, "custom_rasterizer", fake)
    assert install_custom_rasterizer() == "compiled"
    assert sys.modules["custom_rasterizer"] is fake and active_rasterizer() == "compiled"
    assert install_custom_rasterizer(prefer_compiled=False) == "torch"
    assert active_rasterizer() == "torch"
    registered = sys.modules["custom_rasterizer"]
    assert registered.rasterize is rasterize and registered.interpolate is interpolate
    assert install_custom_rasterizer() == "torch" and sys.modules["custom_rasterizer"] is registered


def test_shim_registers_torch_when_nothing_compiled(monkeypatch):
    monkeypatch.delitem(sys.modules, "custom_rasterizer", raising=False)
    monkeypatch.setattr(shim, "find_compiled", lambda: None)
    assert active_rasterizer() == "none"
    assert install_custom_rasterizer() == "torch"
    import custom_rasterizer

    assert custom_rasterizer.rasterize is rasterize


def test_hy3dgen_mesh_render_uses_the_torch_rasterizer(monkeypatch):
    import trimesh

    from img23d_backend.env.torch_shims import prepare_torchvision

    monkeypatch.delitem(sys.modules, "custom_rasterizer", raising=False)
    monkeypatch.setattr(shim, "find_compiled", lambda: None)
    assert install_custom_rasterizer() == "torch"
    prepare_torchvision()
    from hy3dgen.texgen.differentiable_renderer.mesh_render import MeshRender

    box = trimesh.creation.box(extents=(1.0, 0.8, 0.6))
    uv = (np.asarray(box.vertices)[:, :2] / [1.0, 0.8]) + 0.5
    box.visual = trimesh.visual.TextureVisuals(uv=uv)
    render = MeshRender(default_resolution=256, texture_size=256, device="cpu")
    assert render.raster.rasterize is rasterize
    render.load_mesh(box)
    normal = render.render_normal(0, 0, return_type="np")
    position = render.render_position(90, 0, return_type="np")
    for image in (normal, position):
        assert image.shape == (256, 256, 3)
        for y, x in [(0, 0), (0, 255), (255, 0), (255, 255)]:
            assert (image[y, x] == 1.0).all()                     # background colour
        assert not np.allclose(image[128, 128], 1.0)
        assert (~np.isclose(image, 1.0).all(-1)).sum() > 256 * 256 // 10
    uvpos = render.render_uvpos(return_type="np")
    assert uvpos.shape == (256, 256, 3) and np.abs(uvpos).sum() > 0
    # Baking a view back into the texture goes through interpolate with float face ids.
    texture, cos_map, _ = render.back_project(np.full((256, 256, 3), 0.5, np.float32), 0, 0)
    assert (cos_map > 0).sum() > 1000
    assert torch.allclose(texture[cos_map[..., 0] > 0], torch.tensor(0.5))
