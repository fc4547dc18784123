"""The artist's mesh going out to the backend, and its new texture coming back onto it.

Out: the mesh's loop triangles, vertex positions (object space, so the texture lands where
it was painted) and the active UV map, as the protocol's mesh file (``img23d_protocol.mesh_file``,
the one writer and reader both sides use). Back: a new material in the first slot, built from every map the
job made: the painted image as Base Color and, with PBR materials on, glTF's metallicRoughness
texture (Non-Color; Roughness from its green channel and Metallic from its blue, through Separate
Color, as Blender's glTF importer wires a Generate's objects); a new UV map when the backend had to
make one. The object keeps its name, transform,
parent, modifiers and topology; its previous materials are kept (with a fake user) and
listed on the mesh data, so nothing is lost and undo restores them.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import bpy
import img23d_protocol as protocol
import numpy as np

from . import scene_import

UV_MAP_NAME = "img23d"
HISTORY_PROP = "img23d_previous_materials"
FACE_HISTORY_ATTRIBUTE = "img23d_previous_material_index"


class MeshProblem(Exception):
    """The selection cannot be re-textured; the message says why, for the artist."""


def check_selection(context: bpy.types.Context) -> bpy.types.Object:
    """The one mesh object to re-texture, or a ``MeshProblem`` naming what is wrong."""
    selected = list(context.selected_objects)
    active = context.active_object
    if not selected and active is None:
        raise MeshProblem("Nothing is selected: select one mesh object to re-texture")
    if len(selected) > 1:
        raise MeshProblem(f"{len(selected)} objects are selected: select exactly one mesh to re-texture")
    obj = selected[0] if selected else active
    if obj.type != "MESH":
        raise MeshProblem(f"'{obj.name}' is a {obj.type.lower()}, not a mesh: select a mesh object")
    if len(obj.data.polygons) == 0:
        raise MeshProblem(f"'{obj.name}' has no faces to paint")
    return obj


def write_mesh_file(context: bpy.types.Context, obj: bpy.types.Object, folder: Path,
                    evaluated: bool, colour: bool = False, painted: bool = True,
                    most: tuple[int, str] | None = None) -> tuple[Path, str | None]:
    """Write the mesh for the backend; returns the file and the name of the UV map it carries.
    ``colour`` (Retopologize): the image its UV map reads as base colour goes with it, when it
    has both (``base_color_image``). ``painted``: the result is painted back onto this mesh, so an
    evaluated one needs a UV map to match its faces (a split into parts does not). ``most``: the
    triangles the job takes and who takes them (``protocol.MAX_TRIANGLES``, img23d, when None): a mesh
    with more is one sentence here, before it is written and sent."""
    if evaluated:
        depsgraph = context.evaluated_depsgraph_get()
        source = obj.evaluated_get(depsgraph)
        mesh = source.to_mesh()
    else:
        source, mesh = None, obj.data
    try:
        uv_layer = mesh.uv_layers.active
        if evaluated and painted and uv_layer is None:
            raise MeshProblem(f"'{obj.name}' has no UV map: with modifiers applied its faces cannot be matched "
                              "to new UVs. Add a UV map, or paint the base mesh")
        uv_name = uv_layer.name if uv_layer is not None else None  # read before to_mesh_clear frees it (a crash)
        limit, who = most or (protocol.MAX_TRIANGLES, "img23d reads")
        mesh.calc_loop_triangles()
        if len(mesh.loop_triangles) > limit:
            raise MeshProblem(f"'{obj.name}' has {len(mesh.loop_triangles):,} triangles, more than the {limit:,} "
                              f"{who}: decimate it first (the Decimate modifier)")
        arrays = mesh_arrays(mesh, uv_layer)
        image = base_color_image(obj) if colour and uv_layer is not None else None
        if image is not None:
            arrays["base_color"] = image
            maps = metallic_roughness_image(obj)
            if maps is not None:
                arrays["metallic_roughness"] = maps
    finally:
        if source is not None:
            source.to_mesh_clear()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{bpy.path.clean_name(obj.name)}-{uuid.uuid4().hex[:8]}.npz"
    protocol.write_mesh_file(path, protocol.MeshFile(**arrays))
    return path, uv_name


def mesh_arrays(mesh: bpy.types.Mesh, uv_layer: bpy.types.MeshUVLoopLayer | None) -> dict[str, np.ndarray]:
    mesh.calc_loop_triangles()
    positions = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
    mesh.vertices.foreach_get("co", positions)
    triangles = np.empty(len(mesh.loop_triangles) * 3, dtype=np.int32)
    mesh.loop_triangles.foreach_get("vertices", triangles)
    loops = np.empty(len(mesh.loop_triangles) * 3, dtype=np.int32)
    mesh.loop_triangles.foreach_get("loops", loops)
    arrays = {"positions": positions.reshape(-1, 3), "triangles": triangles.reshape(-1, 3),
              "triangle_loops": loops.reshape(-1, 3)}
    if uv_layer is not None:
        uvs = np.empty(len(mesh.loops) * 2, dtype=np.float32)
        uv_layer.data.foreach_get("uv", uvs)
        arrays["loop_uvs"] = uvs.reshape(-1, 2)
    return arrays


def _principled(obj: bpy.types.Object) -> bpy.types.Node | None:
    """The first material's Principled BSDF, or None: the object's slots, as the viewport shows them (a slot
    linked to the object holds another material than its mesh's, which was read instead)."""
    material = next((slot.material for slot in obj.material_slots if slot.material is not None), None)
    tree = material.node_tree if material is not None else None
    return next((n for n in tree.nodes if n.type == "BSDF_PRINCIPLED"), None) if tree is not None else None


def _linked_from(socket: bpy.types.NodeSocket) -> bpy.types.Node | None:
    return socket.links[0].from_node if socket.links else None


def base_color_image(obj: bpy.types.Object) -> np.ndarray | None:
    """The image feeding the Base Color of the first material's Principled BSDF, directly, as an
    (H, W, 3) uint8 array with rows from the top, as an image file stores them (Blender's pixels
    start at the bottom): the backend's retopo job reads it so (jobs/kinds/retopo.py). None without one."""
    image = _base_color_image_node(obj)
    return _pixels(image) if image is not None else None


def base_color_image_name(obj: bpy.types.Object) -> str | None:
    """The name of the image an Image Texture node feeds the Base Color with, pixels or not (a missing file)."""
    image = _base_color_image_node(obj)
    return image.name if image is not None else None


def _base_color_image_node(obj: bpy.types.Object) -> bpy.types.Image | None:
    """The image of the Image Texture node linked straight to the first material's Base Color, if any."""
    shader = _principled(obj)
    source = _linked_from(shader.inputs["Base Color"]) if shader is not None else None
    return getattr(source, "image", None) if source is not None and source.type == "TEX_IMAGE" else None


def base_color_value(obj: bpy.types.Object) -> tuple[float, float, float] | None:
    """The first material's Principled BSDF's Base Color value (what it shows without an image),
    encoded as sRGB 0..1 as an image would hold it; None without a Principled BSDF."""
    shader = _principled(obj)
    if shader is None:
        return None
    return tuple(float(c) for c in _srgb(np.asarray(shader.inputs["Base Color"].default_value[:3])))


def metallic_roughness_image(obj: bpy.types.Object) -> np.ndarray | None:
    """glTF's metallicRoughness texture of the first material, as (H, W, 3) uint8 rows from the top,
    when its Principled BSDF's Roughness and Metallic both come from one image through one Separate
    Color node (green and blue), as Blender's glTF importer and ``apply_result`` wire it; else None."""
    shader = _principled(obj)
    if shader is None:
        return None
    links = [shader.inputs[name].links for name in ("Roughness", "Metallic")]
    if not all(links):
        return None
    node, other = (found[0].from_node for found in links)
    sockets = [found[0].from_socket.name for found in links]
    # bpy makes a new Python object for a node at each access: compare with ==, not ``is``.
    if node != other or node.type != "SEPARATE_COLOR" or sockets != ["Green", "Blue"]:
        return None
    source = _linked_from(node.inputs[0])
    image = getattr(source, "image", None) if source is not None and source.type == "TEX_IMAGE" else None
    return _pixels(image, data=True) if image is not None else None


def _pixels(image: bpy.types.Image, data: bool = False) -> np.ndarray | None:
    """``image`` as (H, W, 3) uint8, rows from the top; None when it has no pixels. ``data``: a data map
    (metallic-roughness), whose values are sent as the shader reads them whatever its colour space says."""
    if image.size[0] == 0 or image.size[1] == 0:
        return None
    width, height = image.size
    pixels = np.empty(width * height * image.channels, dtype=np.float32)
    image.pixels.foreach_get(pixels)
    rgba = pixels.reshape(height, width, image.channels)[::-1]
    if image.channels < 3:
        rgba = np.repeat(rgba[:, :, :1], 3, axis=2)
    # Byte images read as their stored values already; float images hold linear light, encoded here for
    # colour. A data map is never encoded: a float one in Blender's default float colour space (Linear
    # Rec.709) was sent sRGB-encoded, roughness 0.2 as 0.49, where the shader reads 0.2.
    data = data or image.colorspace_settings.name == "Non-Color"
    rgb = rgba[:, :, :3] if not image.is_float or data else _srgb(rgba[:, :, :3])
    return np.round(np.clip(rgb, 0.0, 1.0) * 255).astype(np.uint8)


def _srgb(linear: np.ndarray) -> np.ndarray:
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * np.power(linear, 1 / 2.4) - 0.055)


def apply_result(obj: bpy.types.Object, texture: Path, uvs: Path | None, uv_map: str | None,
                 metallic_roughness: Path | None = None) -> bpy.types.Material:
    """Put the painted texture, its metallicRoughness texture when the job made one (and new UVs,
    if any) onto ``obj``; returns the new material. A texture too big or unreadable raises
    ``scene_import.ImportFailed`` before anything changes."""
    for path in (texture, metallic_roughness):  # first: a refused texture leaves the mesh as it was
        if path is not None:
            scene_import.check_image(path)
    mesh = obj.data
    if uvs is not None:
        loop_uvs = np.load(uvs, allow_pickle=False)
        if loop_uvs.shape != (len(mesh.loops), 2):
            raise MeshProblem(f"the new UVs are for {loop_uvs.shape[0]} face corners, '{obj.name}' has "
                              f"{len(mesh.loops)}: was the mesh edited meanwhile?")
        layer = mesh.uv_layers.new(name=UV_MAP_NAME)
        layer.data.foreach_set("uv", loop_uvs.astype(np.float32).ravel())
        mesh.uv_layers.active = layer
        uv_map = layer.name
    image = bpy.data.images.load(str(texture), check_existing=False)
    image.name = f"img23d {obj.name}"
    maps = None
    if metallic_roughness is not None:
        maps = bpy.data.images.load(str(metallic_roughness), check_existing=False)
        maps.name = f"img23d {obj.name} metallic-roughness"
        maps.colorspace_settings.name = "Non-Color"  # data, not colour: read as stored, as glTF says
    material = _material(f"img23d {obj.name}", image, uv_map, maps)
    _keep_previous_materials(mesh)
    mesh.materials.clear()
    mesh.materials.append(material)
    return material


def _material(name: str, image: bpy.types.Image, uv_map: str | None,
              maps: bpy.types.Image | None = None) -> bpy.types.Material:
    material = bpy.data.materials.new(name)
    if material.node_tree is None:
        # Blender 4.x makes new materials without nodes; from 5.0 they always have a tree and
        # ``use_nodes`` is deprecated (gone in 6.0), so it is set only where it is needed.
        material.use_nodes = True
    nodes, links = material.node_tree.nodes, material.node_tree.links
    shader = next(n for n in nodes if n.type == "BSDF_PRINCIPLED")
    texture = nodes.new("ShaderNodeTexImage")
    texture.image = image
    texture.location = (-400, 200)
    links.new(texture.outputs["Color"], shader.inputs["Base Color"])
    textures = [texture]
    if maps is not None:
        # As Blender's glTF importer wires metallicRoughness: Roughness from G, Metallic from B.
        data = nodes.new("ShaderNodeTexImage")
        data.image = maps
        data.location = (-650, -150)
        separate = nodes.new("ShaderNodeSeparateColor")
        separate.location = (-350, -150)
        links.new(data.outputs["Color"], separate.inputs["Color"])
        links.new(separate.outputs["Green"], shader.inputs["Roughness"])
        links.new(separate.outputs["Blue"], shader.inputs["Metallic"])
        textures.append(data)
    if uv_map:
        coordinates = nodes.new("ShaderNodeUVMap")
        coordinates.uv_map = uv_map
        coordinates.location = (-900, 200)
        for node in textures:
            links.new(coordinates.outputs["UV"], node.inputs["Vector"])
    return material


def _keep_previous_materials(mesh: bpy.types.Mesh) -> None:
    """The old materials survive (fake user) and are listed, latest first, on the mesh data;
    which face used which is kept in a face attribute, then every face uses the new slot."""
    previous = [m.name if m is not None else "" for m in mesh.materials]
    for name in filter(None, previous):
        bpy.data.materials[name].use_fake_user = True
    history = json.loads(mesh.get(HISTORY_PROP, "[]"))
    history.insert(0, previous)
    mesh[HISTORY_PROP] = json.dumps(history)
    if len(previous) > 1:
        indices = np.empty(len(mesh.polygons), dtype=np.int32)
        mesh.polygons.foreach_get("material_index", indices)
        attribute = mesh.attributes.get(FACE_HISTORY_ATTRIBUTE) or \
            mesh.attributes.new(FACE_HISTORY_ATTRIBUTE, "INT", "FACE")
        attribute.data.foreach_set("value", indices)
    mesh.polygons.foreach_set("material_index", np.zeros(len(mesh.polygons), dtype=np.int32))
