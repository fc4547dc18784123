"""Issue 58 item 2: ``retopo`` and ``retexture`` read a mesh file only within bounds. A file over the
size bound is refused before it is read; a GLB's textures are checked from their headers before
anything decodes them, and a texture left out (too large, 16-bit) is said in one sentence."""

from __future__ import annotations

import base64
import io
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from img23d_protocol import ErrorCode, ProtocolError

from textured_glb import png, png_header, write_glb, write_gltf, write_obj
from img23d_backend.readers.meshes import MAX_MESH_FILE_BYTES, artist_mesh_file, check_mesh_path
from img23d_protocol.limits import MAX_TRIANGLES

CLI_WAIT = 120.0  # seconds for the command to start, refuse and end


def _converted(path: Path) -> dict[str, np.ndarray]:
    with artist_mesh_file(path) as npz, np.load(npz, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def _png_16_bit() -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.full((8, 8), 40000, dtype=np.uint16)).save(out, format="PNG")
    assert out.getvalue()[24] == 16  # the IHDR's bit depth
    return out.getvalue()


def test_the_bound_holds_the_largest_mesh_and_textures_img23d_reads() -> None:
    obj_line_bytes = 80  # "f a/b/c a/b/c a/b/c" with 7-digit indices, and a vertex's share of v, vt and vn lines
    largest_png = 8192 * (8192 * 4 + 1)  # RGBA, stored without compression
    assert MAX_TRIANGLES * obj_line_bytes + 2 * largest_png < MAX_MESH_FILE_BYTES


def test_a_mesh_file_over_the_bound_is_refused_from_its_size(tmp_path: Path) -> None:
    big = tmp_path / "big.obj"
    with open(big, "wb") as out:
        out.truncate(MAX_MESH_FILE_BYTES + 1)  # sparse: nothing written, nothing read
    with pytest.raises(ProtocolError) as caught:
        check_mesh_path(big)
    assert caught.value.code == ErrorCode.BAD_REQUEST
    assert caught.value.message.startswith("the mesh file big.obj is 1.0 GiB, more than the 1 GiB img23d reads")


def test_retopo_refuses_a_4_gb_obj_in_one_sentence(backend_env: dict[str, str], tmp_path: Path) -> None:
    big = tmp_path / "huge.obj"
    with open(big, "wb") as out:
        out.truncate(4 << 30)
    try:
        out = subprocess.run([sys.executable, "-m", "img23d_backend", "retopo", str(big), "--topology", "triangles",
                              "--faces", "200", "--out", str(tmp_path / "runs")], env=backend_env,
                             capture_output=True, text=True, timeout=CLI_WAIT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"retopo was still reading a 4 GiB OBJ after {CLI_WAIT:g} s")
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "huge.obj is 4.0 GiB, more than the 1 GiB img23d reads" in out.stderr, out.stderr[-2000:]


def test_an_honest_texture_is_kept_beside_an_image_img23d_does_not_read(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    bomb = "data:image/png;base64," + base64.b64encode(png_header(16384, 16384)).decode()
    glb = write_glb(tmp_path / "ball.glb", png(64, 32), document={
        "materials": [{"pbrMetallicRoughness": {"baseColorTexture": {"index": 0}}, "normalTexture": {"index": 1}}],
        "textures": [{"source": 0}, {"source": 1}],
        "images": [{"bufferView": 2, "mimeType": "image/png"}, {"uri": bomb}]})
    with caplog.at_level(logging.WARNING):
        arrays = _converted(glb)
    assert arrays["base_color"].shape == (32, 64, 3) and tuple(arrays["base_color"][0, 0]) == (200, 80, 40)
    assert caplog.messages == []  # a normal map img23d does not read is not worth a sentence


@pytest.mark.parametrize(("image", "why"), [
    (png_header(16384, 16384), "is 16,384 x 16,384 pixels of 8-bit colour, more than img23d's largest texture (8,192 x 8,192)"),
    (_png_16_bit(), "is 16-bit; img23d reads 8-bit textures"),
], ids=["16384 squared", "16-bit"])
def test_a_texture_img23d_cannot_hold_is_left_out_in_one_sentence(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                                  image: bytes, why: str) -> None:
    glb = write_glb(tmp_path / "ball.glb", image)
    with caplog.at_level(logging.WARNING):
        arrays = _converted(glb)
    assert "base_color" not in arrays and len(arrays["triangles"]) == 1  # the mesh itself is read
    assert caplog.messages == [f"ball.glb: its colour texture (image 0) {why}, so it is left out"]


@pytest.mark.parametrize(("write", "suffix", "which"), [(write_gltf, ".gltf", "image 0"), (write_obj, ".obj", "bomb.png")],
                         ids=["gltf", "obj"])
def test_a_text_gltfs_or_an_objs_texture_file_is_checked_as_a_glbs_is(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                                    write, suffix: str, which: str) -> None:
    """A .gltf's image file and an OBJ's ``map_Kd`` file are the same texture bombs as a GLB's
    image; a small honest one beside them is kept."""
    with caplog.at_level(logging.WARNING):
        arrays = _converted(write(tmp_path / f"honest{suffix}", png(64, 32)))
    assert arrays["base_color"].shape == (32, 64, 3) and tuple(arrays["base_color"][0, 0]) == (200, 80, 40)
    assert caplog.messages == []
    with caplog.at_level(logging.WARNING):
        arrays = _converted(write(tmp_path / f"bomb{suffix}", _png_16_bit()))
    assert "base_color" not in arrays and len(arrays["triangles"]) == 1
    assert caplog.messages == [f"bomb{suffix}: its colour texture ({which}) is 16-bit; img23d reads 8-bit textures, "
                               "so it is left out"]


def test_a_glb_cut_short_is_one_sentence(tmp_path: Path) -> None:
    glb = write_glb(tmp_path / "ball.glb", png(8, 8))
    glb.write_bytes(glb.read_bytes()[:40])
    with pytest.raises(ProtocolError) as caught:
        _converted(glb)
    assert caught.value.code == ErrorCode.BAD_REQUEST and "ball.glb is cut short" in caught.value.message




def test_a_texture_named_through_an_extension_is_checked_too(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    glb = write_glb(tmp_path / "ball.glb", png_header(16384, 16384),
                    document={"textures": [{"extensions": {"EXT_texture_webp": {"source": 0}}}]})
    with caplog.at_level(logging.WARNING):
        arrays = _converted(glb)
    assert "base_color" not in arrays
    assert [m for m in caplog.messages if "left out" in m] == [
        "ball.glb: its colour texture (image 0) is 16,384 x 16,384 pixels of 8-bit colour, more than img23d's largest texture "
        "(8,192 x 8,192), so it is left out"]


def _two_materials(path: Path, colours: list[tuple[int, int, int]], factor: list[float] | None = None,
                   uvs: tuple[bool, ...] = (True, True)) -> list[np.ndarray | None]:
    """A GLB of two boxes side by side, one material each (a 16-pixel image of ``colours``' colour tinted by
    ``factor``), each with its own UVs where ``uvs`` says; those UVs, in the parts' order."""
    import trimesh

    box = trimesh.creation.box()
    scene, layouts = trimesh.Scene(), []
    for index, (colour, has_uv) in enumerate(zip(colours, uvs)):
        uv = np.random.default_rng(index).random((len(box.vertices), 2)) if has_uv else None
        material = trimesh.visual.material.PBRMaterial(
            name=f"m{index}", baseColorTexture=Image.fromarray(np.full((16, 16, 3), colour, np.uint8)),
            baseColorFactor=factor)
        visual = trimesh.visual.TextureVisuals(uv=uv, material=material) if has_uv else None
        part = trimesh.Trimesh(box.vertices + [3.0 * index, 0, 0], box.faces, visual=visual, process=False)
        scene.add_geometry(part, node_name=f"p{index}")
        layouts.append(uv)
    scene.export(str(path))
    return layouts


def test_painting_a_mesh_of_two_materials_keeps_the_artists_own_uvs(tmp_path: Path) -> None:
    """trimesh's concatenate packs several materials' images into one atlas and lays every UV out again in it:
    a Re-texture painted into that layout, not the artist's (a cube's faces squeezed into 2.7 % of the texture)."""
    import trimesh

    layouts = _two_materials(tmp_path / "two.glb", [(200, 30, 30), (30, 30, 200)])
    arrays = _converted(tmp_path / "two.glb")
    box = trimesh.creation.box()
    # Each corner's own UV, found by its position (the parts' vertices are all apart; Blender's axes here).
    own = {tuple(np.round(vertex + [3.0 * index, 0, 0], 5)): uv for index, layout in enumerate(layouts)
           for vertex, uv in zip(box.vertices, layout)}
    corners = arrays["positions"][arrays["triangles"]].reshape(-1, 3)
    wanted = [own[(round(x, 5), round(z, 5), round(-y, 5) + 0.0)] for x, y, z in corners.tolist()]  # glTF's axes
    assert np.allclose(arrays["loop_uvs"], wanted, atol=1e-6)
    assert "base_color" not in arrays  # the materials' images are no one image in that layout


def test_a_part_without_uvs_leaves_the_whole_mesh_to_be_unwrapped(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """A part without UVs came out with every corner at one point: painted one flat colour, without a word."""
    _two_materials(tmp_path / "mixed.glb", [(200, 30, 30), (30, 30, 200)], uvs=(True, False))
    with caplog.at_level(logging.WARNING):
        arrays = _converted(tmp_path / "mixed.glb")
    assert "loop_uvs" not in arrays
    assert "a part of mixed.glb has no UV map: the whole mesh is unwrapped again" in caplog.text


@pytest.mark.parametrize("factor, expected", [(0.5, [(147, 19, 19), (19, 19, 147)]),
                                              (0.4, [(132, 16, 16), (16, 16, 132)])])
def test_a_retopologys_atlas_of_tinted_materials_holds_their_colours(tmp_path: Path, factor: float,
                                                                     expected: list[tuple[int, int, int]]) -> None:
    """Known answer: each image's colour times its factor in linear light (as one material alone is read); the
    atlas multiplied in bytes that wrapped (all black at 0.5; red 200 at 0.4 came out 176, 244, 244)."""
    _two_materials(tmp_path / "tinted.glb", [(200, 30, 30), (30, 30, 200)], factor=[factor, factor, factor, 1.0])
    with artist_mesh_file(tmp_path / "tinted.glb", colour=True) as npz, np.load(npz, allow_pickle=False) as data:
        colour = data["base_color"]
    found = {tuple(c) for c in colour.reshape(-1, colour.shape[2])[:, :3].tolist()} - {(0, 0, 0)}  # the padding
    assert {c for c in found if max(c) > 64} == set(expected)


def test_a_text_gltf_names_its_files_by_percent_encoded_uris(tmp_path: Path) -> None:
    """Blender's glTF Separate export of "my chair.gltf" names its buffer "my%20chair.bin", as glTF's URIs are
    encoded: trimesh asked for that name, found nothing, and the file was refused ("cannot be read")."""
    import json
    from urllib.parse import quote

    path = write_gltf(tmp_path / "my chair.gltf", png(4, 4, (255, 0, 0)))
    document = json.loads(path.read_text(encoding="utf-8"))
    document["buffers"][0]["uri"] = quote(document["buffers"][0]["uri"])
    document["images"][0]["uri"] = quote(document["images"][0]["uri"])
    assert document["buffers"][0]["uri"] == "my%20chair.bin"
    path.write_text(json.dumps(document), encoding="utf-8")
    arrays = _converted(path)
    assert len(arrays["triangles"]) == 1 and arrays["base_color"].reshape(-1, 3)[0].tolist() == [255, 0, 0]


def test_a_gltf_naming_a_file_outside_its_folder_says_so(tmp_path: Path) -> None:
    import json

    path = write_gltf(tmp_path / "mesh.gltf", png(4, 4))
    document = json.loads(path.read_text(encoding="utf-8"))
    document["buffers"][0]["uri"] = "../outside/secret.bin"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ProtocolError) as caught:
        _converted(path)
    assert caught.value.message == ("the mesh file mesh.gltf cannot be read (it names a file outside its own folder, "
                                    "which img23d does not read)")


@pytest.mark.parametrize("nodes, triangles", [(1, 10_000_000), (150, 40_000)], ids=["one mesh", "150 instances"])
def test_more_triangles_than_img23d_reads_are_refused_from_the_files_counts(tmp_path: Path, nodes: int,
                                                                            triangles: int) -> None:
    """Counted from the JSON, each node's copy of a mesh too, before trimesh reads a byte: an 18 MB GLB placing one
    1M-triangle mesh 150 times took 76 s and 9 GB to say it 'cannot be read'. The indices hold no bytes here."""
    from rig_box_inputs import UINT32, _document, _glb

    document, binary = _document()
    document["accessors"][1] = {"componentType": UINT32, "count": 3 * triangles, "type": "SCALAR"}
    document["nodes"] = [{"mesh": 0, "translation": [float(index), 0.0, 0.0]} for index in range(nodes)]
    document["scenes"] = [{"nodes": list(range(nodes))}]
    with pytest.raises(ProtocolError) as caught:
        _converted(_glb(tmp_path / "many.glb", document, binary))
    assert caught.value.message == (f"the mesh file many.glb has {nodes * triangles:,} triangles (each node's copy "
                                    f"of a mesh counted); img23d reads at most {MAX_TRIANGLES:,}: decimate it first")


def _area(arrays: dict[str, np.ndarray]) -> float:
    a, b, c = (arrays["positions"][arrays["triangles"][:, k]].astype(np.float64) for k in range(3))
    return float(np.linalg.norm(np.cross(b - a, c - a), axis=1).sum() / 2)


def test_an_objs_concave_polygon_is_cut_into_triangles_inside_it(tmp_path: Path) -> None:
    """Known answer: an L-shaped hexagon of area 3, as Blender's OBJ exporter writes an n-gon; trimesh fanned it from
    its first corner and covered the missing corner (area 4). Its winding is kept."""
    path = tmp_path / "floor.obj"
    path.write_text("v 2 1 0\nv 1 1 0\nv 1 2 0\nv 0 2 0\nv 0 0 0\nv 2 0 0\nvn 0 0 1\nf 1//1 2//1 3//1 4//1 5//1 6//1\n")
    arrays = _converted(path)
    assert len(arrays["triangles"]) == 4 and _area(arrays) == pytest.approx(3.0)
    a, b, c = (arrays["positions"][arrays["triangles"][:, k]].astype(np.float64) for k in range(3))
    assert (np.cross(b - a, c - a)[:, 1] < 0).all()  # +Z in the file is -Y in Blender's axes: all facing it


def test_an_objs_concave_quad_is_split_along_the_diagonal_inside_it(tmp_path: Path) -> None:
    """Known answer: a dart-shaped quad of area 0.35 whose notch is its second corner; fanned from its first corner
    it covered the notch (area 0.65). The split is made in plain arithmetic (a quad mesh's OBJ is millions of them)."""
    path = tmp_path / "dart.obj"
    path.write_text("v 0 0 0\nv 0.5 0.3 0\nv 1 0 0\nv 0.5 1 0\nf 1 2 3 4\n")
    arrays = _converted(path)
    assert len(arrays["triangles"]) == 2 and _area(arrays) == pytest.approx(0.35)


def test_an_objs_negative_indices_count_back_from_what_was_written_so_far(tmp_path: Path) -> None:
    """Known answer: a quad and a pentagon, each written after its own vertices with negative indices; trimesh
    counted them from the file's last vertex and lost the quad (5 of 9 vertices used, area 2.0 of 2.25)."""
    path = tmp_path / "quads.obj"
    path.write_text("v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nf -4 -3 -2 -1\n"
                    "v 0 0 1\nv 1 0 1\nv 1 1 1\nv 0.5 1.5 1\nv 0 1 1\nf -5 -4 -3 -2 -1\n")
    arrays = _converted(path)
    assert _area(arrays) == pytest.approx(2.25) and len(np.unique(arrays["triangles"])) == 9
