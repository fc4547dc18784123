"""The add-on's reader of a rig's weights file (``img23d_protocol.rig_weights``), given hostile and broken files
built here: each is one phrase (``WeightsRefused``), and nothing larger than the mesh's own weights is
allocated, whatever a member declares (issue 73 item 5: a 5.9 MB file took Blender to 6.4 GB for 40 s; a
damaged zip, weights stored as strings or a .npy renamed .npz escaped as exceptions)."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from numpy.lib import format as npy_format

from img23d_protocol.rig_weights import WeightsRefused, largest_file, read_weights

VERTICES, BONES = 6, 3


def _joints(vertices: int = VERTICES) -> np.ndarray:
    return (np.arange(vertices * 4).reshape(vertices, 4) % BONES).astype(np.int32)


def _weights(vertices: int = VERTICES) -> np.ndarray:
    return np.full((vertices, 4), 0.25, dtype=np.float32)


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    npy_format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _declared(shape: tuple[int, ...], descr: str, body: bytes = b"") -> bytes:
    """A .npy header declaring ``shape`` of ``descr``, followed by ``body`` (not necessarily that many bytes)."""
    buffer = io.BytesIO()
    npy_format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue() + body


def _npz(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _refused(path: Path, words: str, vertices: int = VERTICES) -> None:
    with pytest.raises(WeightsRefused, match=words):
        read_weights(path, vertices, BONES)


def test_the_backends_own_files_read_back(tmp_path: Path) -> None:
    for save, name in ((np.savez, "plain.npz"), (np.savez_compressed, "packed.npz")):
        save(tmp_path / name, joints=_joints(), weights=_weights())
        read = read_weights(tmp_path / name, VERTICES, BONES)
        assert np.array_equal(read.joints, _joints()) and np.array_equal(read.weights, _weights())
        assert read.joints.dtype == np.int64 and read.weights.dtype == np.float64
        assert (tmp_path / name).stat().st_size <= largest_file(VERTICES)


def test_a_bomb_is_refused_by_its_declared_sizes_without_unpacking_it(tmp_path: Path) -> None:
    # 1,000 vertices; the weights member's header declares 8 M float64 rows (64 MB of zeros, 64 KB deflated),
    # the joints member's declares a billion rows over no data at all: np.load allocates each whole
    vertices = 1000
    rows = (64 << 20) // (4 * 8)
    bomb = _declared((rows, 4), "<f8", bytes(rows * 4 * 8))
    path = _npz(tmp_path / "bomb.npz", {"joints.npy": _npy(_joints(vertices)), "weights.npy": bomb},
                zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < largest_file(vertices) and path.stat().st_size < 128 << 10
    liar = _npz(tmp_path / "liar.npz", {"joints.npy": _declared((10 ** 9, 4), "<i4"),
                                        "weights.npy": _npy(_weights(vertices))})
    tracemalloc.start()
    try:
        for file, words in ((path, r"declares its weights as 67,108,992 bytes unpacked, more than 1,000 vertices' weights can be"),
                            (liar, r"holds joints for 1,000,000,000 vertices; the mesh has 1,000")):
            with pytest.raises(WeightsRefused, match=words):
                read_weights(file, vertices, BONES)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"{peak:,} bytes allocated to refuse the bombs"


@pytest.mark.parametrize("build, words", [
    (lambda p: p.write_bytes(b"PK\x03\x04 not a zip at all"), r"is not a zip archive"),
    (lambda p: np.save(p.with_suffix(".npy"), _weights()) or p.with_suffix(".npy").rename(p), r"single \.npy array"),
    (lambda p: np.savez(p, joints=_joints(), weights=_weights().astype(str)), r"as <U\d+, not as floating-point"),
    (lambda p: np.savez(p, joints=_joints(), weights=_weights().astype(object)), r"as object, not as floating-"),
    (lambda p: np.savez(p, joints=_joints().astype(np.float32), weights=_weights()), r"joints as float32, not as "
                                                                                      r"whole numbers"),
    (lambda p: np.savez(p, joints=_joints(), weights=_weights().astype(np.complex64)), r"as complex64"),
    (lambda p: np.savez(p, joints=_joints(), weights=np.zeros(VERTICES * 4, [("w", "<f4")]).reshape(VERTICES, 4)),
     r"weights as \[\('w', '<f4'\)\]"),
    (lambda p: np.savez(p, joints=_joints(VERTICES + 1), weights=_weights(VERTICES + 1)), r"holds joints for 7 "
                                                                                           r"vertices; the mesh has 6"),
    (lambda p: np.savez(p, joints=_joints()[:, :3], weights=_weights()), r"joints of shape \(6, 3\), not \(6, 4\)"),
    (lambda p: np.savez(p, joints=_joints()), r"has no weights \(it holds joints\.npy\)"),
    (lambda p: np.savez(p, joints=_joints(), weights=np.where(np.eye(VERTICES, 4) > 0, np.nan, _weights())),
     r"weights that are not numbers \(NaN or infinity\)"),
    (lambda p: np.savez(p, joints=_joints(), weights=_weights() * 5), r"a weight of 1\.25; a weight is between"),
    (lambda p: np.savez(p, joints=_joints(), weights=-_weights()), r"a weight of -0\.25"),
    (lambda p: np.savez(p, joints=_joints() + BONES, weights=_weights()), r"names bone 5; the rig has bones 0 to 2"),
    (lambda p: np.savez(p, joints=_joints() - BONES, weights=_weights()), r"names bone -3"),
    (lambda p: _npz(p, {"joints.npy": _npy(_joints()), "weights.npy": _npy(_weights())[:-8]}),
     r"holds 88 bytes of weights where \(6, 4\) float32 takes 96"),
    (lambda p: _npz(p, {"joints.npy": _npy(_joints()), "weights.npy": b"\x93NUMPY\x09\x00junk"}),
     r"weights that are not a numpy array"),
    (lambda p: _npz(p, {f"extra{i}.npy": b"" for i in range(9)}), r"lists 9 members in \d+ bytes"),
    (lambda p: p.write_bytes(bytes(largest_file(VERTICES) + 1)), r"more than weights for 6 vertices can take"),
], ids=["not-a-zip", "npy-renamed", "strings", "objects", "float-joints", "complex", "structured", "more-vertices",
        "three-columns", "no-weights", "nan", "over-one", "negative", "bone-past", "bone-negative", "short-data",
        "bad-header", "many-members", "too-large"])
def test_a_broken_or_hostile_file_is_one_phrase(tmp_path: Path, build, words: str) -> None:
    path = tmp_path / "rig_weights.npz"
    build(path)
    _refused(path, words)


def test_a_damaged_member_is_a_damaged_zip(tmp_path: Path) -> None:
    # a byte changed in the deflated weights (the CRC or the stream says so), and a file cut short
    path = tmp_path / "w.npz"
    np.savez_compressed(path, joints=_joints(100), weights=np.random.default_rng(1).random((100, 4)))
    whole = bytearray(path.read_bytes())
    middle = whole.find(b"weights.npy") + 200
    whole[middle] ^= 0xFF
    path.write_bytes(bytes(whole))
    _refused(path, r"is a damaged zip archive|holds weights that are not a numpy array", 100)
    np.savez(path, joints=_joints(), weights=_weights())
    path.write_bytes(path.read_bytes()[:-30])
    _refused(path, r"is not a zip archive|is a damaged zip archive")
