"""Vertex colours through the bake: glTF's COLOR_0 is linear, the baked baseColor texture sRGB, so a
vertex-coloured GLB bakes to what a glTF viewer shows (linear_to_srgb of COLOR_0), and a PLY's sRGB
colours, read by the command's mesh reader, bake back to themselves."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import trimesh

from img23d_backend.env.job_control import CancelToken
from img23d_backend.finish.bake import BakeSettings, bake
from img23d_backend.finish.bake.uv_raster import rasterize_uv
from img23d_backend.jobs.kinds.retopo import high_mesh
from img23d_backend.readers.colour_space import linear_to_srgb
from img23d_backend.readers.meshes import artist_mesh_file
from img23d_backend.readers.artist_mesh import load_artist_mesh
from img23d_backend.uv.unwrap import Unwrapper

SIZE = 128


@pytest.fixture(scope="module")
def unwrapper() -> Iterator[Unwrapper]:
    with Unwrapper(CancelToken()) as worker:
        yield worker


def _coloured_sphere() -> trimesh.Trimesh:
    """A sphere whose colour is a smooth function of position, dark values included (where the
    sRGB curve departs most from the identity)."""
    sphere = trimesh.creation.icosphere(subdivisions=4)
    values = 0.05 + 0.9 * (0.5 + 0.5 * sphere.vertices)
    sphere.visual.vertex_colors = np.round(values * 255).astype(np.uint8)
    return sphere


def _texels_and_expected(baked, high: trimesh.Trimesh, colour_of_vertex: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per covered texel: the baked colour, and the high vertex colour nearest its point (0..1)."""
    cover = rasterize_uv(baked.uvs, baked.faces, SIZE)
    points = np.einsum("nk,nkd->nd", cover.bary, baked.vertices[baked.faces[cover.face]])
    _, nearest = high.kdtree.query(points)
    got = np.asarray(baked.base_color, dtype=np.float64)[cover.rows, cover.cols] / 255.0
    return got, colour_of_vertex[nearest]


def test_a_vertex_coloured_glb_bakes_what_a_gltf_viewer_shows(unwrapper: Unwrapper, tmp_path: Path) -> None:
    path = tmp_path / "coloured.glb"
    _coloured_sphere().export(str(path))  # COLOR_0: normalised bytes, linear as glTF defines them
    high = trimesh.load(path, force="mesh", process=False)
    colour_0 = np.asarray(high.visual.vertex_colors, dtype=np.float64)[:, :3] / 255.0
    low = trimesh.creation.icosphere(subdivisions=2)
    baked = bake(high, low.vertices, low.faces, BakeSettings(size=SIZE, cage=0.05, padding=2), unwrapper=unwrapper)

    got, shown = _texels_and_expected(baked, high, linear_to_srgb(colour_0))
    # within the interpolation between neighbouring vertices (the copy unconverted is 0.1-0.2 off)
    assert np.abs(got - shown).mean() < 0.01
    assert np.percentile(np.abs(got - shown), 99) < 0.05


def test_a_plys_srgb_colours_bake_back_to_themselves_through_the_commands_reader(unwrapper: Unwrapper,
                                                                                 tmp_path: Path) -> None:
    """PLY colours are sRGB: the reader decodes them to the bake's linear vertex colours, and the
    bake encodes them again, so the texture holds the file's own bytes (within 8-bit rounding in linear)."""
    sphere = _coloured_sphere()
    path = tmp_path / "coloured.ply"
    sphere.export(str(path))
    srgb = np.asarray(sphere.visual.vertex_colors, dtype=np.float64)[:, :3] / 255.0
    with artist_mesh_file(path) as npz:
        high, _ = high_mesh(load_artist_mesh(npz))
    low = trimesh.creation.icosphere(subdivisions=2)
    baked = bake(high, low.vertices, low.faces, BakeSettings(size=SIZE, cage=0.05, padding=2), unwrapper=unwrapper)

    got, shown = _texels_and_expected(baked, high, srgb)
    assert np.abs(got - shown).mean() < 0.01


def test_a_mesh_with_a_4096_pixel_colour_map_and_two_materials_is_read_for_its_materials(tmp_path: Path) -> None:
    """Its materials were read without the finish's texture sizes: a 4096 x 4096 colour map was refused ("the mesh
    file's 'base_color' holds 50,331,648 values; at most 30,000,000"), an array the artist never named."""
    from img23d_backend.jobs.kinds.retopo import face_materials
    from img23d_backend.readers.mesh_file import write_arrays

    positions = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], np.float32)
    triangles = np.array([[0, 1, 2], [1, 3, 2]])
    path = write_arrays(tmp_path / "mesh.npz", {
        "positions": positions, "triangles": triangles, "triangle_loops": np.arange(6).reshape(2, 3),
        "material_names": np.array(["wood", "metal"]), "triangle_materials": np.array([0, 1]),
        "base_color": np.zeros((4096, 4096, 3), np.uint8)})
    found = face_materials(path, positions, triangles)
    assert found is not None and found.names == ("wood", "metal")


def test_the_commands_reader_keeps_a_materials_colour_factor(tmp_path: Path) -> None:
    """A mesh file's conversion kept the colour texture alone: a white texture tinted green (baseColorFactor) came
    out white, and a red material without a texture grey. The factor goes in, in linear light, as a viewer shows it."""
    from PIL import Image

    ball = trimesh.creation.icosphere(subdivisions=2)
    uv = (ball.vertices[:, :2] + 1.0) / 2.0
    for name, image, factor, expected in (("tinted", Image.new("RGB", (4, 4), (255, 255, 255)), [0, 255, 0, 255],
                                           (0, 255, 0)),
                                          ("red", None, [255, 0, 0, 255], (255, 0, 0)),
                                          ("half", Image.new("RGB", (4, 4), (255, 255, 255)), [128, 128, 128, 255],
                                           (188, 188, 188))):   # linear 0.5 is sRGB 188
        material = trimesh.visual.material.PBRMaterial(baseColorTexture=image, baseColorFactor=factor)
        mesh = trimesh.Trimesh(ball.vertices, ball.faces, process=False,
                               visual=trimesh.visual.TextureVisuals(uv=uv, material=material))
        mesh.export(str(tmp_path / f"{name}.glb"))
        with artist_mesh_file(tmp_path / f"{name}.glb") as converted:
            colour = np.load(converted)["base_color"]
        assert (np.abs(colour.reshape(-1, 3).astype(int) - expected) <= 1).all(), (name, colour.reshape(-1, 3)[0])


def test_the_commands_reader_keeps_painted_vertices_beside_a_material(tmp_path: Path) -> None:
    """A DCC's export of painted vertices: COLOR_0 on a primitive with a material (and UVs). trimesh keeps it in
    its vertex attributes, and the reader lost it: the mesh baked grey. It is the mesh's colour, times the factor."""
    import pygltflib

    ball = trimesh.creation.icosphere(subdivisions=2)
    points = ball.vertices.astype("<f4")
    colours = np.where(points[:, 1:2] > 0, [1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0]).astype("<f4")
    uv = ((points[:, :2] + 1.0) / 2.0).astype("<f4")
    corners = ball.faces.astype("<u4").reshape(-1)
    chunks = [points.tobytes(), colours.tobytes(), uv.tobytes(), corners.tobytes()]
    views, offset = [], 0
    for chunk in chunks:
        views.append(pygltflib.BufferView(buffer=0, byteOffset=offset, byteLength=len(chunk)))
        offset += len(chunk)
    accessors = [pygltflib.Accessor(bufferView=0, componentType=pygltflib.FLOAT, count=len(points), type="VEC3",
                                    min=points.min(0).tolist(), max=points.max(0).tolist()),
                 pygltflib.Accessor(bufferView=1, componentType=pygltflib.FLOAT, count=len(points), type="VEC4"),
                 pygltflib.Accessor(bufferView=2, componentType=pygltflib.FLOAT, count=len(points), type="VEC2"),
                 pygltflib.Accessor(bufferView=3, componentType=pygltflib.UNSIGNED_INT, count=len(corners),
                                    type="SCALAR")]
    primitive = pygltflib.Primitive(attributes=pygltflib.Attributes(POSITION=0, COLOR_0=1, TEXCOORD_0=2), indices=3,
                                    material=0)
    gltf = pygltflib.GLTF2(scene=0, scenes=[pygltflib.Scene(nodes=[0])], nodes=[pygltflib.Node(mesh=0)],
                           meshes=[pygltflib.Mesh(primitives=[primitive])], accessors=accessors, bufferViews=views,
                           materials=[pygltflib.Material(name="paint")], buffers=[pygltflib.Buffer(byteLength=offset)])
    gltf.set_binary_blob(b"".join(chunks))
    gltf.save_binary(str(tmp_path / "painted.glb"))
    with artist_mesh_file(tmp_path / "painted.glb") as converted:
        stored = np.load(converted)
        assert "vertex_colors" in stored.files and "base_color" not in stored.files
        read = stored["vertex_colors"]
    assert set(map(tuple, read[:, :3].tolist())) == {(255, 0, 0), (0, 0, 255)}
