"""Gaussian splats from a textured mesh (img23d_protocol.splats): the file public readers expect, the
activations 3DGS applies, and a render of the splats that shows the object as its mesh does.

What the readers expect, read in their source:
- graphdeco-inria/gaussian-splatting, ``scene/gaussian_model.py``: ``construct_list_of_attributes``
  names x y z nx ny nz, f_dc_*, f_rest_*, opacity, scale_*, rot_* in that order, ``save_ply`` writes
  each as 'f4' through plyfile into one ``vertex`` element (binary, little-endian on x86), and
  ``load_ply`` asserts ``len(f_rest_*) == 3 * (max_sh_degree + 1) ** 2 - 3`` (45 at its default
  degree 3); activations: ``exp`` on scales, ``sigmoid`` on opacity, normalised quaternions whose
  ``build_rotation`` matrix's columns carry ``scale_0..2`` (``L = R @ diag(s)``); ``RGB2SH`` is
  ``(rgb - 0.5) / C0``.
- antimatter15/splat, ``main.js`` ``processPlyBuffer``: the header within the first 10 KB, ending
  ``end_header\\n``; ``element vertex (\\d+)\\n``; ``property TYPE NAME`` lines split on single spaces,
  ``float`` 4 bytes, read little-endian; colour ``0.5 + SH_C0 * f_dc``, alpha ``sigmoid(opacity)``,
  scales ``exp``, rotation normalised.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

import splat_render
from splat_render import read_like_antimatter15
from img23d_protocol import splats

SH_C0 = 0.28209479177387814  # antimatter15/splat's and 3DGS's sh_utils' constant, written out here
# 3DGS's construct_list_of_attributes for SH degree 3 (f_dc 1x3, f_rest 15x3), scaling 3, rotation 4.
UPSTREAM_ORDER = (["x", "y", "z", "nx", "ny", "nz"] + [f"f_dc_{i}" for i in range(3)]
                  + [f"f_rest_{i}" for i in range(45)] + ["opacity"] + [f"scale_{i}" for i in range(3)]
                  + [f"rot_{i}" for i in range(4)])


def two_colour_cube() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A 2-unit cube with one UV square per face; the texture's quadrants are red (top left), blue
    (top right), green (bottom left) and yellow (bottom right). The front (+Z) face shows them as
    they are; the back face is mapped mirrored, so seen through the front it would put blue where
    red belongs: a splat drawn in the wrong depth order shows."""
    faces, vertices, uvs = [], [], []

    def square(corners: list[list[float]], corner_uv: list[list[float]]) -> None:
        base = len(vertices)
        vertices.extend(corners)
        faces.extend([[base, base + 1, base + 2], [base, base + 2, base + 3]])
        uvs.extend(corner_uv)

    square([[-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]], [[0, 0], [1, 0], [1, 1], [0, 1]])      # front
    square([[1, -1, -1], [-1, -1, -1], [-1, 1, -1], [1, 1, -1]], [[0, 0], [1, 0], [1, 1], [0, 1]])  # back
    square([[1, -1, 1], [1, -1, -1], [1, 1, -1], [1, 1, 1]], [[0, 0], [1, 0], [1, 1], [0, 1]])      # right
    square([[-1, -1, -1], [-1, -1, 1], [-1, 1, 1], [-1, 1, -1]], [[0, 0], [1, 0], [1, 1], [0, 1]])  # left
    square([[-1, 1, 1], [1, 1, 1], [1, 1, -1], [-1, 1, -1]], [[0, 0], [1, 0], [1, 1], [0, 1]])      # top
    square([[-1, -1, -1], [1, -1, -1], [1, -1, 1], [-1, -1, 1]], [[0, 0], [1, 0], [1, 1], [0, 1]])  # bottom
    texture = np.zeros((16, 16, 3), dtype=np.uint8)
    texture[:8, :8], texture[:8, 8:] = (255, 0, 0), (0, 0, 255)
    texture[8:, :8], texture[8:, 8:] = (0, 255, 0), (255, 255, 0)
    return np.array(vertices, float), np.array(faces), np.array(uvs, float), texture


@pytest.fixture(scope="module")
def cube_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, splats.SplatCloud]:
    vertices, faces, uvs, texture = two_colour_cube()
    cloud = splats.splats_from_mesh(vertices, faces, uvs[faces], texture, spacing=0.08)
    return splats.write_ply(tmp_path_factory.mktemp("splats") / "cube.splat.ply", cloud), cloud


def test_the_header_is_3dgs_save_ply_s_in_its_order(cube_file: tuple[Path, splats.SplatCloud]) -> None:
    path, cloud = cube_file
    data = path.read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    assert end < 10 * 1024 and b"\r" not in data[:end]
    lines = data[:end].decode("ascii").split("\n")[:-1]
    assert lines[:3] == ["ply", "format binary_little_endian 1.0", f"element vertex {len(cloud)}"]
    assert lines[3:-1] == [f"property float {name}" for name in UPSTREAM_ORDER]
    assert lines[-1] == "end_header"
    assert len(data) - end == len(cloud) * len(UPSTREAM_ORDER) * 4, "the body is N rows of 62 float32"
    assert len([n for n in UPSTREAM_ORDER if n.startswith("f_rest_")]) == 3 * (3 + 1) ** 2 - 3


def test_public_readers_read_the_same_values(cube_file: tuple[Path, splats.SplatCloud]) -> None:
    path, cloud = cube_file
    ours = read_like_antimatter15(path.read_bytes())
    np.testing.assert_allclose(np.stack([ours["x"], ours["y"], ours["z"]], 1), cloud.positions, atol=1e-6)
    raw = trimesh.load(str(path)).metadata["_ply_raw"]["vertex"]["data"]  # trimesh's own PLY parser
    assert list(raw.dtype.names) == UPSTREAM_ORDER
    for name in UPSTREAM_ORDER:
        np.testing.assert_array_equal(np.asarray(raw[name]).ravel(), ours[name])


def test_the_stored_values_are_before_3dgs_activations() -> None:
    """One equilateral triangle of side 0.3 in the z = 0 plane, one splat (a spacing larger than it):
    its in-plane sigma is side / sqrt(24) (a uniform triangle's), widened by COVER."""
    side, colour = 0.3, (0.9, 0.25, 0.1)
    vertices = np.array([[0, 0, 0], [side, 0, 0], [side / 2, side * np.sqrt(3) / 2, 0]])
    cloud = splats.splats_from_mesh(vertices, np.array([[0, 1, 2]]), colour=colour, spacing=1.0)
    rows = dict(zip(splats.PLY_PROPERTIES, splats.ply_rows(cloud)[0]))
    sigma = splats.COVER * side / np.sqrt(24)
    assert np.exp([rows["scale_0"], rows["scale_1"]]) == pytest.approx([sigma, sigma], rel=1e-5)
    assert np.exp(rows["scale_2"]) == pytest.approx(sigma * splats.NORMAL_THICKNESS, rel=1e-5)
    assert 1 / (1 + np.exp(-rows["opacity"])) == pytest.approx(splats.OPACITY, abs=1e-6)
    assert 0.5 + SH_C0 * np.array([rows[f"f_dc_{i}"] for i in range(3)]) == pytest.approx(colour, abs=1e-6)
    assert all(rows[f"f_rest_{i}"] == 0 for i in range(45))
    rotation = splat_render.rotation_matrices(np.array([[rows[f"rot_{i}"] for i in range(4)]]))[0]
    assert rotation[:, 2] == pytest.approx([0, 0, 1], abs=1e-6), "scale_2 (the thin axis) is along the normal"
    assert np.linalg.det(rotation) == pytest.approx(1, abs=1e-6)
    centroid = vertices.mean(axis=0)
    assert [rows["x"], rows["y"], rows["z"]] == pytest.approx(centroid, abs=1e-6)


def test_a_thin_triangle_gets_an_elongated_splat_along_its_length() -> None:
    vertices = np.array([[0, 0, 0], [1.0, 0, 0], [0.5, 0.02, 0]])
    cloud = splats.splats_from_mesh(vertices, np.array([[0, 1, 2]]), spacing=10.0)
    rotation = splat_render.rotation_matrices(cloud.rotations)[0]
    assert abs(rotation[0, 0]) == pytest.approx(1, abs=1e-3), "scale_0, the long axis, lies along x"
    assert cloud.scales[0, 0] > 20 * cloud.scales[0, 1]


def test_a_mesh_without_surface_is_one_sentence() -> None:
    with pytest.raises(splats.SplatError, match="zero area"):
        splats.splats_from_mesh(np.zeros((3, 3)), np.array([[0, 1, 2]]))
    with pytest.raises(splats.SplatError, match="no faces"):
        splats.splats_from_mesh(np.zeros((3, 3)), np.zeros((0, 3), int))


def test_the_splat_count_follows_the_texels_and_its_cap() -> None:
    vertices, faces, uvs, _ = two_colour_cube()
    texture = np.zeros((64, 64, 3), np.uint8)  # each face's UVs cover all 4,096 texels: 24,576 in all
    cloud = splats.splats_from_mesh(vertices, faces, uvs[faces], texture)
    assert 0.8 * 24_576 < len(cloud) < 1.5 * 24_576
    assert 500 < len(splats.splats_from_mesh(vertices, faces, uvs[faces], texture, max_splats=1_000)) <= 1_000
    sphere = trimesh.creation.icosphere(subdivisions=4)  # 5,120 faces, each cut 3 x 3 if rounded up alone
    assert 20_000 <= len(splats.splats_from_mesh(sphere.vertices, sphere.faces, max_splats=25_000)) <= 25_000
    assert len(splats.splats_from_mesh(sphere.vertices, sphere.faces, max_splats=100)) == 100  # sampled by area


def test_the_splats_render_as_the_textured_mesh_does(cube_file: tuple[Path, splats.SplatCloud]) -> None:
    """The cube seen from the front (+Z), by the project's mesh renderer and by splatting its file."""
    from img23d_backend.views.cameras import ViewCamera, Window
    from img23d_backend.views.renders import render
    from PIL import Image

    path, _ = cube_file
    vertices, faces, uvs, texture = two_colour_cube()
    # One vertex per corner of a face: the renderer reads per-vertex UVs.
    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, process=False)
    mesh.visual = trimesh.visual.TextureVisuals(uv=uvs)
    right, up, forward = np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), np.array([0, 0, -1.0])
    size, half = 48, 1.25
    camera = ViewCamera("front", np.zeros(3), right, up, forward)
    expected = render(mesh, Image.fromarray(texture), camera, Window(half=half, size=size))
    seen = splat_render.render(read_like_antimatter15(path.read_bytes()), right, up, forward, np.zeros(3), half, size)
    inside = expected[..., 3] > 0.5
    interior = inside.copy()
    interior[[0, -1], :] = interior[:, [0, -1]] = False
    for _ in range(2):  # two pixels in from the silhouette: where splats blur no edge
        interior[1:-1, 1:-1] &= interior[:-2, 1:-1] & interior[2:, 1:-1] & interior[1:-1, :-2] & interior[1:-1, 2:]
    assert seen[interior, 3].min() > 0.9, "the splats cover the face"
    near = inside.copy()
    for _ in range(3):  # a splat at an edge spills past it by its own size (here 2 pixels), no more
        near[1:-1, 1:-1] |= near[:-2, 1:-1] | near[2:, 1:-1] | near[1:-1, :-2] | near[1:-1, 2:]
    assert seen[~near, 3].max() < 0.05, "nothing is drawn off the object"
    difference = np.abs(seen[interior, :3] - expected[interior, :3]).mean()
    assert difference < 0.08, f"mean colour difference {difference:.3f} against the mesh's render"
    quadrants = {"red": (12, 12, (1, 0, 0)), "blue": (12, 36, (0, 0, 1)),
                 "green": (36, 12, (0, 1, 0)), "yellow": (36, 36, (1, 1, 0))}
    for name, (row, column, rgb) in quadrants.items():
        assert seen[row, column, :3] == pytest.approx(rgb, abs=0.12), f"{name} is where the mesh shows it"


def test_a_glb_s_texture_colours_its_splats(tmp_path: Path) -> None:
    """The backend's reader of an object's GLB (finish/splats.py): the cube as trimesh writes a
    textured GLB (glTF's UVs flipped on the way, its axes kept) splats to the same front view."""
    from img23d_backend.finish.splats import splats_of_glb
    from PIL import Image

    vertices, faces, uvs, texture = two_colour_cube()
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=Image.fromarray(texture))
    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, process=False,
                           visual=trimesh.visual.TextureVisuals(uv=uvs, material=material))
    mesh.export(str(tmp_path / "cube.glb"), file_type="glb")
    cloud = splats_of_glb(tmp_path / "cube.glb")
    rows = dict(zip(splats.PLY_PROPERTIES, splats.ply_rows(cloud).T))
    seen = splat_render.render(rows, np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), np.array([0, 0, -1.0]),
                               np.zeros(3), 1.25, 48)
    assert seen[12, 12, :3] == pytest.approx((1, 0, 0), abs=0.12) and seen[36, 36, :3] == pytest.approx((1, 1, 0), abs=0.12)
