"""A textured object's GLB (``gltf.writer.export_glb``): the same content trimesh's exporter writes, its textures'
PNGs compressed at zlib's fastest level (the seconds a target's export took were the PNGs' compression)."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from img23d_backend.gltf.writer import export_glb


def _textured_box() -> trimesh.Trimesh:
    box = trimesh.creation.box()
    rng = np.random.default_rng(3)
    colour = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), "RGB")
    maps = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), "RGB")
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=colour, metallicRoughnessTexture=maps)
    uv = rng.random((len(box.vertices), 2))
    box.visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
    return box


def _images(path: Path) -> list[bytes]:
    """The GLB's embedded images, as stored."""
    data = path.read_bytes()
    json_length = struct.unpack_from("<I", data, 12)[0]
    document = json.loads(data[20:20 + json_length])
    binary = data[20 + json_length + 8:]
    views = document["bufferViews"]
    return [binary[views[i["bufferView"]].get("byteOffset", 0):][:views[i["bufferView"]]["byteLength"]]
            for i in document["images"]]


def _zlib_level(png: bytes) -> int:
    """The FLEVEL of the PNG's zlib stream (RFC 1950): 0 for the fastest compression, 2 for zlib's default."""
    start = png.index(b"IDAT") + 4
    return png[start + 1] >> 6


def test_the_glb_holds_the_same_mesh_and_pixels_with_its_pngs_compressed_fast(tmp_path: Path) -> None:
    mesh = _textured_box()
    colour = np.asarray(mesh.visual.material.baseColorTexture).copy()
    maps = np.asarray(mesh.visual.material.metallicRoughnessTexture).copy()
    export_glb(mesh, tmp_path / "fast.glb")
    mesh.export(str(tmp_path / "default.glb"), file_type="glb")  # trimesh's own, after: the same images again
    images = _images(tmp_path / "fast.glb")
    assert [_zlib_level(png) for png in images] == [0, 0]
    assert [np.asarray(Image.open(io.BytesIO(png))).tolist() for png in images] == [colour.tolist(), maps.tolist()]
    fast = trimesh.load(tmp_path / "fast.glb", force="mesh", process=False)
    default = trimesh.load(tmp_path / "default.glb", force="mesh", process=False)
    assert np.array_equal(fast.vertices, default.vertices) and np.array_equal(fast.faces, default.faces)
    assert np.array_equal(fast.visual.uv, default.visual.uv)


def test_a_png_compressed_as_pillow_does_by_default_says_so() -> None:
    """The check above can fail: Pillow's default level leaves FLEVEL 2 in the stream."""
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buffer, format="PNG")
    assert _zlib_level(buffer.getvalue()) == 2
