"""Retopologize Selected keeps a re-textured object's PBR maps: the metallic-roughness image its material
is wired to (as Re-texture and Blender's glTF importer wire it) goes to the backend beside the colour,
and the bake carries it onto the low mesh (tests/backend/jobs/test_retexture_maps.py: the backend's side)."""

from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from blender_support import _module  # noqa: E402


def test_retopologize_sends_a_re_textured_objects_metallic_roughness_map_beside_its_colour(addon, scene,
                                                                                          tmp_path) -> None:
    """A material wired as Re-texture and Blender's glTF importer wire it (Roughness from G and Metallic
    from B of one image, through Separate Color) sends that image, as stored, beside the colour."""
    retexture_mesh = _module(addon, "retexture_mesh")
    mesh = bpy.data.meshes.new("painted")
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (1, 1, 0)], [], [(0, 1, 2)])
    mesh.uv_layers.new(name="UVMap")
    obj = bpy.data.objects.new("painted", mesh)
    scene.collection.objects.link(obj)
    colour, maps = np.zeros((2, 4, 3), dtype=np.uint8), np.zeros((2, 4, 3), dtype=np.uint8)
    colour[..., 0] = 200
    maps[..., 0], maps[0, :, 1], maps[1, :, 1], maps[..., 2] = 255, 30, 220, 90  # top row rough 30, bottom 220
    paths = []
    for name, pixels in (("colour", colour), ("maps", maps)):  # PNG files, as the backend writes them
        paths.append(tmp_path / f"{name}.png")
        image = bpy.data.images.new(name, 4, 2)
        rgba = np.concatenate([pixels[::-1] / 255.0, np.ones((2, 4, 1))], axis=2)  # Blender's rows start at the bottom
        image.pixels.foreach_set(rgba.astype(np.float32).ravel())
        image.filepath_raw, image.file_format = str(paths[-1]), "PNG"
        image.save()
        bpy.data.images.remove(image)
    material = retexture_mesh.apply_result(obj, paths[0], None, "UVMap", paths[1])
    try:
        path, _ = retexture_mesh.write_mesh_file(bpy.context, obj, tmp_path, evaluated=False, colour=True)
        with np.load(path) as data:
            assert (data["base_color"] == colour).all()
            assert (data["metallic_roughness"] == maps).all()  # data, not colour: no sRGB change
        shader = next(n for n in material.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
        material.node_tree.links.remove(shader.inputs["Metallic"].links[0])  # wired otherwise: not sent
        path, _ = retexture_mesh.write_mesh_file(bpy.context, obj, tmp_path, evaluated=False, colour=True)
        with np.load(path) as data:
            assert "base_color" in data.files and "metallic_roughness" not in data.files
    finally:
        for image in [n.image for n in material.node_tree.nodes if n.type == "TEX_IMAGE"]:
            bpy.data.images.remove(image)
        bpy.data.materials.remove(material)


def test_a_float_metallic_roughness_map_is_sent_as_the_shader_reads_it(addon, scene) -> None:
    """An EXR data map in Blender's default colour space for float images (Linear Rec.709), wired as glTF wires
    it: the shader reads roughness 0.2 and metallic 0.5; it was sent sRGB-encoded, 0.49 and 0.74."""
    retexture_mesh = _module(addon, "retexture_mesh")
    mesh = bpy.data.meshes.new("float maps")
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (1, 1, 0)], [], [(0, 1, 2)])
    obj = bpy.data.objects.new("float maps", mesh)
    scene.collection.objects.link(obj)
    material = bpy.data.materials.new("float maps")
    material.use_nodes = True
    mesh.materials.append(material)
    nodes, links = material.node_tree.nodes, material.node_tree.links
    shader = next(n for n in nodes if n.type == "BSDF_PRINCIPLED")
    image = bpy.data.images.new("float maps", 4, 4, float_buffer=True)
    try:
        assert image.colorspace_settings.name != "Non-Color"
        image.pixels.foreach_set(np.tile([1.0, 0.2, 0.5, 1.0], 16).astype(np.float32))
        texture, separate = nodes.new("ShaderNodeTexImage"), nodes.new("ShaderNodeSeparateColor")
        texture.image = image
        links.new(texture.outputs["Color"], separate.inputs["Color"])
        links.new(separate.outputs["Green"], shader.inputs["Roughness"])
        links.new(separate.outputs["Blue"], shader.inputs["Metallic"])
        sent = retexture_mesh.metallic_roughness_image(obj)
        assert sent is not None and sent[0, 0].tolist() == [255, 51, 128]
    finally:
        bpy.data.images.remove(image)
        bpy.data.materials.remove(material)
