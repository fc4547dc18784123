"""Re-texturing an existing mesh in-process with the tiny models: UVs kept or made, proxies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from artist_meshes import mesh_file, uv_sphere
from testdata import FAST_PAINT, MESH, MESH_FACES, SUBJECT
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.catalog import tiny_model_set
from img23d_protocol import JobOptions, ProtocolError, RetextureJobResult, RetextureRequest, read_manifest
from img23d_backend.readers.artist_mesh import load_artist_mesh

pytestmark = pytest.mark.lane_a  # whole jobs in this process, run in lane A for the lanes' balance (pytest.ini)


@pytest.fixture(scope="module")
def engine(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path_factory.mktemp("runs"),
                                 device="cpu"))


def _run(engine: Engine, mesh_path: Path, **options) -> RetextureJobResult:
    request = RetextureRequest(id="r", image=str(SUBJECT), mesh=str(mesh_path), name="statue",
                               options=JobOptions(**{**FAST_PAINT, "face_budget": 40_000, **options}))
    return engine.run(request, Job(id="r", emit=lambda event: None))


def test_a_mesh_without_uvs_gets_a_new_uv_map_and_keeps_its_topology(engine: Engine, tmp_path: Path) -> None:
    real = trimesh.load(MESH, force="mesh", process=False)
    path = mesh_file(real, tmp_path / "real.npz", with_uvs=False)
    data = _run(engine, path)
    assert data.uv_created and not data.proxy and data.faces == MESH_FACES
    uvs = np.load(data.uvs)
    assert uvs.shape == (MESH_FACES * 3, 2) and 0 <= uvs.min() and uvs.max() <= 1
    assert Image.open(data.texture).size == (256, 256)
    run = Path(data.run_dir)
    assert (run / "input_mesh.npz").is_file() and len(list((run / "views" / "statue").glob("view_*.png"))) == 6


def test_a_mesh_with_uvs_is_painted_into_its_own_layout_and_kept_as_a_glb(engine: Engine, tmp_path: Path) -> None:
    sphere = uv_sphere(24, 32)
    path = mesh_file(sphere, tmp_path / "sphere.npz", with_uvs=True)
    data = _run(engine, path)
    assert data.uvs is None and not data.uv_created
    texture = np.asarray(Image.open(data.texture))
    assert texture.shape == (256, 256, 3) and texture.std() > 0
    # The job itself keeps the painted GLB, so a run its manifest calls finished holds it (the command line's
    # session wrote it after the job had finished).
    manifest = read_manifest(Path(data.run_dir))
    assert manifest.status == "finished" and [record.mesh for record in manifest.done] == ["statue.glb"]
    glb = trimesh.load(Path(data.run_dir) / "statue.glb", force="mesh", process=False)
    assert len(glb.faces) == len(sphere.faces)
    assert np.asarray(glb.visual.material.baseColorTexture).shape == (256, 256, 3)


def test_a_mesh_over_the_face_budget_is_painted_through_a_proxy(engine: Engine, tmp_path: Path) -> None:
    sphere = uv_sphere(180, 180)
    assert len(sphere.faces) > 20 * 3000
    path = mesh_file(sphere, tmp_path / "big.npz", with_uvs=True)
    data = _run(engine, path, face_budget=3000)
    assert data.proxy and data.faces == len(sphere.faces)
    texture = np.asarray(Image.open(data.texture))
    assert texture.shape == (256, 256, 3)
    # The transfer reached the whole atlas: the sphere's UVs cover the square, so no black gaps.
    assert (texture.sum(axis=2) == 0).mean() < 0.01


@pytest.mark.parametrize("arrays, needle", [
    ({"positions": np.zeros((3, 3))}, "no 'triangles'"),
    ({"positions": np.zeros((3, 3)), "triangles": np.zeros((0, 3), int),
      "triangle_loops": np.zeros((0, 3), int)}, "no faces"),
    ({"positions": np.zeros((3, 3)), "triangles": np.array([[0, 1, 7]]),
      "triangle_loops": np.array([[0, 1, 2]])}, "does not exist"),
    ({"positions": np.full((3, 3), np.nan), "triangles": np.array([[0, 1, 2]]),
      "triangle_loops": np.array([[0, 1, 2]])}, "finite"),
])
def test_broken_mesh_files_are_bad_requests(tmp_path: Path, arrays: dict, needle: str) -> None:
    path = tmp_path / "broken.npz"
    np.savez(path, **arrays)
    with pytest.raises(ProtocolError) as caught:
        load_artist_mesh(path)
    assert caught.value.code.value == "bad_request" and needle in caught.value.message


def test_a_pickled_mesh_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.npz"
    np.savez(path, positions=np.array([object()], dtype=object), triangles=np.zeros((1, 3), int),
             triangle_loops=np.zeros((1, 3), int))
    with pytest.raises(ProtocolError, match="cannot be read"):
        load_artist_mesh(path)


def _tetrahedron_arrays(**overrides) -> dict:
    arrays = {"positions": np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32),
              "triangles": np.array([[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]], dtype=np.int32),
              "triangle_loops": np.arange(12, dtype=np.int32).reshape(4, 3)}
    arrays.update(overrides)
    return arrays


@pytest.mark.parametrize("overrides, needle", [
    # A loop index far past the mesh's corners: unwrapping would allocate 10^12 loops (and was
    # reported as out_of_memory); with UVs, an index past the UV list.
    ({"triangle_loops": np.array([[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 10**12]])}, "loop 1000000000000"),
    ({"triangle_loops": np.arange(12).reshape(4, 3) + 1, "loop_uvs": np.zeros((12, 2))}, "one per loop"),
    ({"triangle_loops": np.arange(12, dtype=np.float64).reshape(4, 3)}, "whole numbers"),
    ({"triangles": np.array([[0, 1, 2.5], [0, 1, 3], [0, 2, 3], [1, 2, 3]])}, "whole numbers"),
])
def test_a_corrupt_mesh_file_is_a_bad_request_naming_its_defect(engine: Engine, tmp_path: Path, overrides: dict,
                                                                 needle: str) -> None:
    path = tmp_path / "corrupt.npz"
    np.savez(path, **_tetrahedron_arrays(**overrides))
    with pytest.raises(ProtocolError) as caught:
        _run(engine, path)
    assert caught.value.code.value == "bad_request", caught.value
    assert needle in caught.value.message


def test_an_array_too_big_to_hold_is_refused_from_its_header(tmp_path: Path) -> None:
    """A compressed mesh file whose positions would take 24 GB: refused before anything is read."""
    import zipfile

    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w") as archive:
        with archive.open("positions.npy", "w") as member:
            np.lib.format.write_array_header_1_0(member, {"descr": "<f8", "fortran_order": False,
                                                          "shape": (10**9, 3)})
    with pytest.raises(ProtocolError) as caught:
        load_artist_mesh(path)
    assert caught.value.code.value == "bad_request" and "positions" in caught.value.message


@pytest.mark.parametrize("name, needle", [("", "empty"), ("   ", "empty"), ("a\x00b", "control"),
                                          ("x" * 300, "characters")])
def test_the_object_name_is_checked_like_a_target_name(engine: Engine, tmp_path: Path, name: str,
                                                       needle: str) -> None:
    runs_before = set(engine.settings.runs_dir.iterdir())
    request = RetextureRequest(id="r", image=str(SUBJECT), mesh=str(tmp_path / "any.npz"), name=name,
                               options=JobOptions(**FAST_PAINT))
    with pytest.raises(ProtocolError) as caught:
        engine.run(request, Job(id="r", emit=lambda event: None))
    assert caught.value.code.value == "bad_request" and needle in caught.value.message
    assert set(engine.settings.runs_dir.iterdir()) == runs_before  # refused before a run folder


def test_uvs_in_another_tile_are_painted_in_the_textures_tile() -> None:
    """Known answers: a layout a whole tile over (the Mirror modifier's UV offset) moves into 0..1, as REPEAT shows
    it (it was painted flat from the texture's border); UVs with no area are none (unwrapped anew); an island a
    rounding past its tile's edge stays in it; a layout over several tiles (UDIM) is painted as it is, and said."""
    from img23d_backend.uv.retexture import several_tiles, tile_uvs

    layout = np.array([[0.1, 0.2], [0.9, 0.2], [0.5, 0.8]])
    assert tile_uvs(layout) is layout
    assert np.allclose(tile_uvs(layout + [1.0, 0.0]), layout) and np.allclose(tile_uvs(layout - [3.0, 2.0]), layout)
    assert np.allclose(tile_uvs(np.array([[1.0, 0.0], [2.0, 0.0], [2.0, 1.0]])), [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    assert tile_uvs(np.zeros((3, 2))) is None
    touching = np.array([[-0.0003, 0.0], [1.0005, 0.5], [0.5, 1.0]])  # rounding past both edges: the 0..1 tile
    assert tile_uvs(touching) is touching and not several_tiles(touching)
    udim = np.concatenate([layout, layout + [1.0, 0.0]])
    assert tile_uvs(udim) is udim and several_tiles(udim)
    centred = layout - 0.5  # -0.4..0.4: over four tiles' corners, painted as it is
    assert tile_uvs(centred) is centred and several_tiles(centred)


def test_the_paint_proxy_keeps_every_piece_of_the_artists_mesh(tmp_path: Path) -> None:
    """An eye or a button (a piece under 0.5 % of the largest) was left off the proxy by clean-up's default,
    and took the colour of the nearest surface painted."""
    from img23d_backend.uv import retexture

    head = uv_sphere(90, 90)
    eye = trimesh.creation.icosphere(subdivisions=1, radius=0.05)
    eye.apply_translation([0, 0, 1.02])
    assert len(eye.faces) < 0.005 * len(head.faces)
    both = trimesh.util.concatenate([head, eye])
    artist = load_artist_mesh(mesh_file(both, tmp_path / "head.npz", with_uvs=False))
    stand_in = retexture.proxy(artist, 3000)
    assert len(stand_in.split(only_watertight=False)) == 2 and len(stand_in.faces) <= 3000

