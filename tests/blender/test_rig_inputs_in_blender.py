"""The add-on's readers of what a (possibly remote) backend sends back, in real Blender, given hostile and broken
files (issue 73 item 5): the rig's weights file (``rig_objects.read_weights``) and the part mask's preview
(``part_objects.show_mask``). Each refusal is one sentence and nothing is unpacked or loaded first: a 64 KB
weights file whose member declares 64 MB, a 20,000 x 20,000 PNG, a file outside the run (a symlink out too)."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

VERTICES, BONES = 1000, 3


def _png(path: Path, width: int, height: int, pixels: bool = True) -> Path:
    """A grey PNG of ``width`` x ``height``: whole, or (``pixels`` False) its header alone, as a bomb need be."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = zlib.compress(b"".join(b"\x00" + bytes([128]) * width for _ in range(height))) if pixels else b""
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + (chunk(b"IDAT", rows) if pixels else b"") + chunk(b"IEND", b""))
    return path


def _weights_bomb(path: Path) -> Path:
    """64 KB deflated: joints for ``VERTICES``, and weights whose header declares 2 M rows (64 MB of zeros)."""
    rows = (64 << 20) // (4 * 8)
    joints, header = io.BytesIO(), io.BytesIO()
    np.save(joints, np.zeros((VERTICES, 4), np.int32))
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (rows, 4)})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("joints.npy", joints.getvalue())
        archive.writestr("weights.npy", header.getvalue() + bytes(rows * 4 * 8))
    return path


def test_a_rigs_hostile_weights_file_is_one_sentence_before_anything_is_unpacked(addon, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    joints, weights = np.zeros((VERTICES, 4), np.int32), np.full((VERTICES, 4), 0.25, np.float32)
    (run / "damaged.npz").write_bytes(b"PK\x03\x04" + bytes(100))
    np.save(run / "array.npy", weights)
    (run / "array.npy").rename(run / "renamed.npz")
    np.savez(run / "strings.npz", joints=joints, weights=weights.astype("U2"))
    _weights_bomb(run / "bomb.npz")
    (tmp_path / "elsewhere.npz").write_bytes((run / "strings.npz").read_bytes())
    (run / "link.npz").symlink_to(tmp_path / "elsewhere.npz")
    tracemalloc.start()
    try:
        for name, words in (("damaged.npz", r"damaged\.npz is not a zip archive"),
                            ("renamed.npz", r"renamed\.npz is a single \.npy array, not the \.npz archive"),
                            ("strings.npz", r"strings\.npz holds its weights as <U\d+, not as floating-point"),
                            ("bomb.npz", r"bomb\.npz declares its weights as 67,108,992 bytes unpacked"),
                            ("link.npz", r"'link\.npz' is not in its run folder"),
                            ("../elsewhere.npz", r"'\.\./elsewhere\.npz' is not in its run folder")):
            with pytest.raises(addon.rig_objects.RigProblem, match=words):
                addon.rig_objects.read_weights(str(run), name, VERTICES, BONES)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"{peak:,} bytes allocated to refuse the files"
    np.savez(run / "good.npz", joints=joints, weights=weights)
    read = addon.rig_objects.read_weights(str(run), "good.npz", VERTICES, BONES)
    assert read.weights.shape == (VERTICES, 4) and float(read.weights.sum()) == VERTICES


def test_the_part_masks_preview_loads_only_a_bounded_image_in_its_run(addon, scene, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    empty = bpy.data.objects.new("chair parts", None)
    empty[addon.part_objects.PART_OF] = "chair"
    placed = addon.part_objects.PlacedParts(empty=empty, collection=scene.collection, parts=[])
    _png(run / "huge.png", 20000, 20000, pixels=False)
    (run / "damaged.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    _png(tmp_path / "outside.png", 8, 8)
    (run / "link.png").symlink_to(tmp_path / "outside.png")
    images = set(bpy.data.images)
    for name, words in (("huge.png", r"huge\.png is 20,000 x 20,000 .*, which Blender holds as 1,526 MB, more than"),
                        ("damaged.png", r"damaged\.png is not loaded"),
                        ("../outside.png", r"the part mask '\.\./outside\.png' is not in its run folder"),
                        ("link.png", r"the part mask 'link\.png' is not in its run folder"),
                        (str(tmp_path / "outside.png"), r"is not in its run folder")):
        with pytest.raises(addon.scene_import.ImportFailed, match=words):
            addon.part_objects.show_mask(placed, str(run), name)
    assert set(bpy.data.images) == images and addon.part_objects.PART_MASK not in empty
    image = addon.part_objects.show_mask(placed, str(run), str(_png(run / "mask.png", 8, 8).relative_to(run)))
    assert image.name == "chair part mask" and tuple(image.size) == (8, 8)
    assert empty[addon.part_objects.PART_MASK] == str((run / "mask.png").resolve())
