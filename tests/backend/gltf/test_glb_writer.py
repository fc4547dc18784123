"""A textured object's GLB (``gltf.writer.export_glb``): the same content trimesh's exporter writes, its textures'
PNGs compressed at zlib's fastest level (the seconds a target's export took were the PNGs' compression); and
what every GLB img23d writes says made it (``gltf.made_by``: the models and their licences, issue 91)."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import numpy as np
import pygltflib
import trimesh
from PIL import Image

from glb_credits import assert_valid, credits
from img23d_backend.catalog import model_set
from img23d_backend.finish.glb import read_glb_json
from img23d_backend.gltf.made_by import MadeBy, carried_from, credits_in, made_by
from img23d_backend.gltf.writer import export_glb, write_glb_document, write_gltf


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
    export_glb(mesh, tmp_path / "fast.glb", MadeBy())
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


# -- what made a GLB (``gltf.made_by``): every GLB img23d writes says so in its asset -------------------------


def _hunyuan_generate() -> MadeBy:
    """The credits a Generate of the Hunyuan3D-2 family writes (``JobRun.made_by``: each role's repositories)."""
    models = model_set("default", family="hunyuan3d")
    return made_by((role, part.repo_id) for role in ("matting", "shape", "paint")
                   for part in models.spec(role).parts)


def test_a_hunyuan_generate_glb_names_tencents_licence_its_territory_and_where_to_read_it(tmp_path: Path) -> None:
    export_glb(_textured_box(), tmp_path / "house.glb", _hunyuan_generate())
    asset = credits(tmp_path / "house.glb")
    [shape] = [m for m in asset["extras"]["models"] if m["role"] == "shape"]
    assert shape["model"].startswith("tencent/Hunyuan3D-2")
    assert shape["licence"] == "Tencent Hunyuan 3D 2.0 Community License"
    assert shape["licence_url"] == "https://github.com/Tencent/Hunyuan3D-2/blob/main/LICENSE"
    assert "not licensed in the European Union, the United Kingdom and South Korea" in shape["licence_terms"]
    assert "forbids using the models' output there too" in asset["copyright"]
    assert {m["role"] for m in asset["extras"]["models"]} == {"matting", "shape", "paint"}
    assert_valid(tmp_path / "house.glb")


def test_a_rig_written_by_pygltflib_says_what_made_it_in_place_of_what_the_input_said(tmp_path: Path) -> None:
    gltf = pygltflib.GLTF2().load(str(_written(tmp_path / "in.glb", MadeBy())))
    gltf.asset.copyright = "someone else's words"
    rigger = made_by([("rigging", "VAST-AI/SkinTokens")])
    write_gltf(gltf, tmp_path / "rigged.glb", rigger)
    asset = credits(tmp_path / "rigged.glb")
    assert [m["licence"] for m in asset["extras"]["models"]] == ["MIT License"]
    assert "someone else" not in asset["copyright"] and carried_from(tmp_path / "rigged.glb") == rigger
    assert_valid(tmp_path / "rigged.glb")


def test_a_file_made_from_an_img23d_glb_keeps_its_models_each_once(tmp_path: Path) -> None:
    generated = _written(tmp_path / "house.glb", _hunyuan_generate())
    rigged = carried_from(generated).plus(made_by([("rigging", "VAST-AI/SkinTokens"), ("shape", "tiny/hunyuan3d")]))
    assert rigged.models[:len(_hunyuan_generate().models)] == _hunyuan_generate().models
    assert [m.model for m in rigged.models[-2:]] == ["VAST-AI/SkinTokens", "tiny/hunyuan3d"]
    assert carried_from(generated).plus(_hunyuan_generate()) == _hunyuan_generate()   # not named twice


def test_an_input_that_is_not_img23ds_or_not_a_glb_carries_nothing_and_bad_entries_are_dropped(tmp_path: Path) -> None:
    trimesh.creation.box().export(str(tmp_path / "plain.glb"))
    (tmp_path / "broken.glb").write_bytes(b"glTF\x02\x00\x00\x00garbage")
    assert carried_from(tmp_path / "plain.glb") == carried_from(tmp_path / "broken.glb") == MadeBy()
    assert carried_from(tmp_path / "missing.obj") == MadeBy()
    good = made_by([("shape", "tencent/Hunyuan3D-2mini")]).asset()
    good["extras"]["models"] += [{"role": 3}, "text", {**good["extras"]["models"][0], "model": "x" * 5000}]
    assert credits_in({"asset": good}) == made_by([("shape", "tencent/Hunyuan3D-2mini")])
    assert credits_in({"asset": {"extras": {"generator": "other", "models": good["extras"]["models"]}}}) == MadeBy()


def test_a_glb_document_rewritten_keeps_its_binary_and_its_asset_unless_told(tmp_path: Path) -> None:
    source = _written(tmp_path / "in.glb", _hunyuan_generate())
    document = read_glb_json(source)
    binary = source.read_bytes()[20 + struct.unpack_from("<I", source.read_bytes(), 12)[0] + 8:]
    write_glb_document(tmp_path / "kept.glb", document, binary)
    write_glb_document(tmp_path / "stamped.glb", document, binary, MadeBy())
    assert carried_from(tmp_path / "kept.glb") == _hunyuan_generate()
    assert credits(tmp_path / "stamped.glb")["extras"]["models"] == []
    kept = trimesh.load(tmp_path / "kept.glb", force="mesh", process=False)
    assert np.array_equal(kept.vertices, trimesh.load(source, force="mesh", process=False).vertices)
    assert_valid(tmp_path / "kept.glb", tmp_path / "stamped.glb")


def _written(path: Path, made: MadeBy) -> Path:
    export_glb(_textured_box(), path, made)
    return path
