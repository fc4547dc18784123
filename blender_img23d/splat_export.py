"""An object as 3D Gaussian splats (Object > Export Gaussian Splat (PLY)): its evaluated mesh in
world space and its base colour texture, made into splats and written by the same protocol module
the backend's ``generate --splats`` uses (``img23d_protocol.splats``), so both give the same file.

The file takes glTF's axes (+Y up), as the backend's splats beside a GLB do: Blender's +Z up becomes
+Y, its +Y becomes -Z, as Blender's glTF exporter turns them (the protocol's one turn, ``img23d_protocol.frame``,
the backend's too).
"""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
from img23d_protocol.frame import to_gltf
from img23d_protocol.splats import SUFFIX, UNTEXTURED, SplatError, splats_from_mesh, write_ply

from .retexture_mesh import base_color_image, base_color_image_name, base_color_value, mesh_arrays


class SplatProblem(Exception):
    """The object cannot be exported as splats; the message says why, for the artist."""


def default_path(obj: bpy.types.Object) -> str:
    """``<object name>.splat.ply`` beside the blend file (or in the current folder when unsaved)."""
    folder = Path(bpy.path.abspath("//")) if bpy.data.filepath else Path.cwd()
    return str(folder / f"{bpy.path.clean_name(obj.name)}{SUFFIX}")


def export_splats(context: bpy.types.Context, obj: bpy.types.Object, path: Path) -> int:
    """Write ``obj`` as splats to ``path``; returns how many. A ``SplatProblem`` says what is wrong."""
    if obj is None or obj.type != "MESH":
        kind = "nothing" if obj is None else f"a {obj.type.lower()}"
        raise SplatProblem(f"The active object is {kind}: select a mesh object to export as splats")
    source = obj.evaluated_get(context.evaluated_depsgraph_get())
    mesh = source.to_mesh()
    try:
        uv_layer = mesh.uv_layers.active
        arrays = mesh_arrays(mesh, uv_layer)
    finally:
        source.to_mesh_clear()
    if len(arrays["triangles"]) == 0:
        raise SplatProblem(f"'{obj.name}' has no faces to make splats from")
    world = np.array(obj.matrix_world, dtype=np.float64)
    positions = arrays["positions"].astype(np.float64) @ world[:3, :3].T + world[:3, 3]
    texture = base_color_image(obj) if uv_layer is not None else None
    missing = base_color_image_name(obj) if uv_layer is not None and texture is None else None
    if missing is not None:  # the node's hidden colour went out in its place, without a word
        raise SplatProblem(f"'{obj.name}': its Base Color image '{missing}' has no pixels (is its file missing?): "
                           "reload or relink it, or unlink it to export the material's plain colour")
    corner_uvs = arrays["loop_uvs"][arrays["triangle_loops"]] if texture is not None else None
    try:
        cloud = splats_from_mesh(to_gltf(positions), arrays["triangles"], corner_uvs, texture,
                                 colour=base_color_value(obj) or UNTEXTURED)
    except SplatError as exc:
        raise SplatProblem(f"'{obj.name}': {exc}") from None
    try:
        write_ply(Path(path), cloud)
    except OSError as exc:
        raise SplatProblem(f"Could not write {path}: {exc.strerror or exc}") from None
    return len(cloud)
