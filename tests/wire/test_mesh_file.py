"""The artist's mesh file (``img23d_protocol.mesh_file``): the one writer and reader of the ``.npz`` the
add-on sends with Re-texture and Retopologize. What it writes NumPy reads as it was; what an older
add-on wrote with ``np.savez`` it reads; whatever else comes is one sentence naming it, decided from the
arrays' headers before their data is read."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from img23d_protocol import ErrorCode, MeshFile, ProtocolError, read_mesh_file, write_mesh_file


def _arrays(**overrides: object) -> dict:
    arrays = {"positions": np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32),
              "triangles": np.array([[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]], dtype=np.int32),
              "triangle_loops": np.arange(12, dtype=np.int32).reshape(4, 3),
              "loop_uvs": np.linspace(0, 1, 24, dtype=np.float32).reshape(12, 2),
              "base_color": np.full((4, 8, 3), 200, dtype=np.uint8)}
    arrays.update(overrides)
    return {name: array for name, array in arrays.items() if array is not None}


def _as_numpy(mesh: MeshFile) -> dict:
    return {name: np.frombuffer(a.data, dtype=a.descr).reshape(a.shape) for name, a in mesh.arrays().items()}


def test_what_it_writes_numpy_reads_and_it_reads_back(tmp_path: Path) -> None:
    arrays = _arrays(positions=np.asfortranarray(np.random.default_rng(1).random((4, 3))))  # any layout
    path = write_mesh_file(tmp_path / "chair.npz", MeshFile(**arrays))
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files) == sorted(arrays)
        assert all(np.array_equal(data[name], array) and data[name].dtype == array.dtype
                   for name, array in arrays.items())
    back = _as_numpy(read_mesh_file(path))
    assert all(np.array_equal(back[name], array) for name, array in arrays.items())
    assert not list(tmp_path.glob(".tmp-*"))


def test_a_file_an_older_add_on_wrote_with_numpy_reads(tmp_path: Path) -> None:
    path = tmp_path / "older.npz"
    np.savez(path, **_arrays(), future_array=np.zeros(3))  # and an array a newer add-on might add
    mesh = read_mesh_file(path)
    assert mesh.triangles.shape == (4, 3) and mesh.vertex_colors is None
    assert np.array_equal(_as_numpy(mesh)["loop_uvs"], _arrays()["loop_uvs"])
    np.savez_compressed(path, **_arrays())
    assert read_mesh_file(path).base_color.shape == (4, 8, 3)


def test_a_meshs_materials_travel_as_names_and_an_index_per_triangle(tmp_path: Path) -> None:
    names, of_face = np.array(["wood", "Glänzend"]), np.array([0, 1, 1, 0], dtype=np.int32)
    arrays = _arrays(material_names=names, triangle_materials=of_face)
    path = write_mesh_file(tmp_path / "mug.npz", MeshFile(**arrays))
    with np.load(path, allow_pickle=False) as data:
        assert data["material_names"].tolist() == ["wood", "Glänzend"]
    back = _as_numpy(read_mesh_file(path))
    assert back["material_names"].tolist() == ["wood", "Glänzend"] and back["triangle_materials"].tolist() == [0, 1, 1, 0]
    np.savez(path, **_arrays(material_names=names, triangle_materials=of_face[:3]))
    with pytest.raises(ProtocolError, match="triangle_materials must give each triangle the index"):
        read_mesh_file(path)


@pytest.mark.parametrize("overrides, sentence", [
    ({"triangles": None}, "the mesh file has no 'triangles'"),
    ({"triangles": np.zeros((4, 3))}, "mesh triangles must be whole numbers, not float64"),
    ({"positions": np.zeros((4, 2), np.float32)}, "the mesh file's positions must be (N, 3), not (4, 2)"),
    ({"triangle_loops": np.zeros((3, 3), np.int32)}, "mesh triangles and their loops must both be (T, 3)"),
    ({"base_color": np.zeros((4, 8, 3), np.float32)}, "mesh base_color must be uint8 bytes, not float32"),
    ({"base_color": np.zeros((0, 8, 3), np.uint8)}, "the mesh file's base_color must be (H, W, 3 or 4)"),
    ({"vertex_colors": np.zeros((3, 4), np.uint8)}, "vertex_colors must be (V, 3 or 4) uint8, one per position"),
    ({"positions": np.array([[object()] * 3] * 4, dtype=object)}, "is not an array of plain numbers or text"),
    ({"positions": np.full((4, 3), "x")}, "mesh positions must be numbers, not str32"),
])
def test_a_wrong_array_is_one_sentence_naming_it(tmp_path: Path, overrides: dict, sentence: str) -> None:
    path = tmp_path / "wrong.npz"
    np.savez(path, **_arrays(**overrides))
    with pytest.raises(ProtocolError) as caught:
        read_mesh_file(path)
    assert caught.value.code is ErrorCode.BAD_REQUEST and sentence in caught.value.message


def test_an_array_too_big_to_hold_is_refused_from_its_header(tmp_path: Path) -> None:
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("positions.npy", "w") as member:
            np.lib.format.write_array_header_1_0(member, {"descr": "<f8", "fortran_order": False,
                                                          "shape": (10**9, 3)})
    with pytest.raises(ProtocolError, match="the mesh file's 'positions' holds 3,000,000,000 values; at most"):
        read_mesh_file(path)
    assert read_mesh_file(write_mesh_file(tmp_path / "big.npz", MeshFile(**_arrays())),
                          limits={"base_color": 96}).base_color.shape == (4, 8, 3)
    with pytest.raises(ProtocolError, match="'base_color' holds 96 values; at most 95"):
        read_mesh_file(tmp_path / "big.npz", limits={"base_color": 95})


@pytest.mark.parametrize("damage", ["not a zip", "cut short"])
def test_a_damaged_file_cannot_be_read_in_one_sentence(tmp_path: Path, damage: str) -> None:
    path = write_mesh_file(tmp_path / "damaged.npz", MeshFile(**_arrays()))
    data = path.read_bytes()
    path.write_bytes(b"plain text" if damage == "not a zip" else data[: len(data) // 2])
    with pytest.raises(ProtocolError, match="^.*the mesh file damaged.npz cannot be read"):
        read_mesh_file(path)
