"""Meshes from files for Re-texture and Retopo outside Blender: a GLB, OBJ or PLY as the add-on's ``.npz``.

The add-on sends its mesh as arrays in Blender's object space (Z up; ``uv/retexture.py``
says which). A glTF file is Y up, and Blender's importer turns (x, y, z) into (x, -z, y): the
same turn here makes a mesh painted from the command line look as it would in Blender. Its
triangles stay as they are; its UVs, where it has them, become per-corner UVs (with its colour
image as ``base_color`` and its glTF metallicRoughness texture as ``metallic_roughness``; a mesh
with vertex colours keeps them as ``vertex_colors``, linear as glTF's ``COLOR_0``: a PLY's or OBJ's
sRGB colours are decoded; a mesh of several materials keeps which triangle has which, as
``triangle_materials`` and ``material_names``). Back out, ``textured_mesh`` puts the painted texture
(and the metallicRoughness texture, when the job made one) on the same triangles, for the Re-texture job to write
as a GLB in its run (vertices split only where the UVs split, as any glTF export does).

Bounded before it is read: a file over ``MAX_MESH_FILE_BYTES`` is refused from its size alone (trimesh
reads a file whole: a 4 GB OBJ took over 6 GB of memory), and a GLB's textures are checked from
their headers before trimesh decodes any (``glb_textures``: one too large or 16-bit is left out, and
the log says so in one sentence; a GLB's other images are never decoded), as are a text glTF's and
an OBJ's or PLY's texture file (``texture_files``).
"""

from __future__ import annotations

import io
import logging
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from img23d_protocol import ErrorCode, ProtocolError
from img23d_protocol.limits import MAX_TRIANGLES

from ..gltf.document import MAX_FILE_BYTES
from .colour_space import linear_to_srgb, srgb_to_linear
from . import obj_faces
from .glb_textures import LARGEST_TEXTURE, plan_textures
from .texture_files import CheckedTextures, UnquotedUris

log = logging.getLogger(__name__)

MESH_SUFFIXES = (".glb", ".gltf", ".obj", ".ply", ".npz")
MAX_MESH_FILE_BYTES = MAX_FILE_BYTES  # 1 GiB: why, in ``gltf.document``


def check_mesh_path(path: Path) -> None:
    """Raise ``ProtocolError(bad_request)`` unless ``path`` is a file of a kind read here (by its
    name), of at most ``MAX_MESH_FILE_BYTES`` (the add-on's ``.npz`` is bounded by its arrays instead)."""
    if not path.is_file():
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"no mesh file at {path}")
    if path.suffix.lower() not in MESH_SUFFIXES:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{path.name} is not a mesh file img23d reads "
                                                   f"({', '.join(MESH_SUFFIXES)})")
    size = path.stat().st_size
    if path.suffix.lower() != ".npz" and size > MAX_MESH_FILE_BYTES:
        raise ProtocolError(ErrorCode.BAD_REQUEST,
                            f"the mesh file {path.name} is {size / (1 << 30):,.1f} GiB, more than the "
                            f"{MAX_MESH_FILE_BYTES / (1 << 30):g} GiB img23d reads (enough for 5,000,000 triangles "
                            f"and two {LARGEST_TEXTURE:,} x {LARGEST_TEXTURE:,} textures), so it is not read")


@contextmanager
def artist_mesh_file(path: Path, colour: bool = False) -> Iterator[Path]:
    """``path`` as the add-on's mesh file: itself for a ``.npz``, else a converted copy for as long
    as the block runs. Raises ``ProtocolError(bad_request)`` with one sentence for a bad file.

    A mesh of several materials has one UV layout per material, each over its own image. Painting it
    (``colour`` False) keeps the artist's own layout, as Blender shows it; a part without UVs leaves the
    whole mesh without, to be unwrapped. A retopology's bake (``colour``) reads its colours instead, from
    one atlas of the materials' images, trimesh's, with UVs laid out again into it."""
    check_mesh_path(path)
    if path.suffix.lower() == ".npz":
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="img23d-mesh-") as folder:
        target = Path(folder) / f"{path.stem[:60] or 'mesh'}.npz"
        _convert(path, target, colour)
        yield target


def _convert(source: Path, target: Path, keep_colour: bool) -> None:
    import numpy as np
    import trimesh

    from ..gltf.frame import from_gltf  # with NumPy: the CLI imports this module with the standard library alone
    from .mesh_file import write_arrays  # with NumPy: the CLI imports this module with the standard library alone

    readable, suffix = source, source.suffix.lower()
    # Relative URIs (a buffer or image beside the file) resolve from the file's own folder, also for
    # the checked copy; an OBJ's or PLY's texture file is checked from its header before it is read.
    resolver: Any = trimesh.resolvers.FilePathResolver(source.parent)
    if suffix in (".obj", ".ply"):
        resolver = CheckedTextures(resolver, source)
    if suffix == ".gltf":
        resolver = UnquotedUris(resolver)
    if suffix in (".glb", ".gltf"):
        try:
            plan = plan_textures(source, target.parent)
        except OSError as exc:
            raise ProtocolError(ErrorCode.DISK, f"the mesh file {source.name} cannot be read: {exc.strerror or exc}",
                                str(exc)) from exc
        for sentence in plan.left_out:
            log.warning("%s", sentence)
        readable = plan.source
        _check_triangles(source.name, plan.triangles)
    try:
        if suffix == ".obj":  # its negative indices and polygons as the format means them (``obj_faces``)
            readable = io.BytesIO(obj_faces.readable(source.read_bytes()))
        scene = trimesh.load(readable, file_type=suffix.lstrip("."), force="scene", process=False, resolver=resolver)
        parts = [_factor_in(part) for part in scene.dump() if isinstance(part, trimesh.Trimesh)]
        loaded = trimesh.util.concatenate(parts)  # what trimesh's force="mesh" makes, its parts known
        # Each part's own geometry, in dump's order: its copy there loses the COLOR_0 kept beside a material.
        sources = [scene.geometry[scene.graph[node][1]] for node in scene.graph.nodes_geometry]
        sources = [geometry for geometry in sources if isinstance(geometry, trimesh.Trimesh)]
    except Exception as exc:  # trimesh raises many kinds for a damaged file: all mean "cannot read it"
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"the mesh file {source.name} cannot be read ({_why(exc)})",
                            f"{type(exc).__name__}: {exc}") from exc
    left_out = getattr(resolver, "left_out", [])
    for sentence in left_out:
        log.warning("%s", sentence)
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"the mesh file {source.name} has no faces to paint")
    # In the file's own precision: 32-bit where every position is a 32-bit number (a GLB's always are),
    # else 64-bit (an OBJ's or PLY's may be), so that a mesh far from the origin keeps its shape and
    # every job can tell a 32-bit mesh too coarse where it lies (``readers.mesh_bounds``).
    vertices = np.asarray(loaded.vertices, dtype=np.float64)
    if np.array_equal(vertices.astype(np.float32).astype(np.float64), vertices):
        vertices = vertices.astype(np.float32)
    positions = from_gltf(vertices)
    triangles = np.asarray(loaded.faces, dtype=np.int64)
    loops = np.arange(triangles.size, dtype=np.int64).reshape(-1, 3)  # one loop per triangle corner
    arrays = {"positions": positions, "triangles": triangles, "triangle_loops": loops}
    arrays.update(triangle_materials(parts))
    uv = getattr(loaded.visual, "uv", None)
    textured = uv is not None and len(uv) == len(vertices)
    atlas = len(parts) > 1 and not keep_colour  # the materials' atlas, its layout trimesh's: not the artist's
    if atlas:
        uv = _own_uvs(parts, source.name)
        textured = uv is not None
    if textured:
        arrays["loop_uvs"] = np.asarray(uv, dtype=np.float32)[triangles].reshape(-1, 2)
    # Its colour image, for a retopology's bake (rows from the top, as the file stores them), its factor in.
    material = getattr(loaded.visual, "material", None)
    colour = base_colour_values(material, textured) if not (left_out or atlas) else None  # left out: a stand-in
    colour_0 = _colour_0(sources)
    if colour_0 is not None and (colour is None or colour.shape[:2] == (1, 1)):
        # No texture, its COLOR_0 times the factor (a DCC's export of painted vertices with a material: kept in
        # trimesh's vertex attributes, and lost, the mesh baked grey).
        factor = srgb_to_linear(colour[0, 0].astype(np.float64)) if colour is not None else np.ones(3)
        colour_0[:, :3] = np.round(colour_0[:, :3] * factor).astype(np.uint8)
        arrays["vertex_colors"] = colour_0
    elif textured and colour is not None:
        arrays["base_color"] = np.round(colour * 255.0).astype(np.uint8)
        maps = metallic_roughness_values(material)
        if maps is not None:  # bytes again, factors and all, so the bake's low mesh carries factors of 1
            arrays["metallic_roughness"] = np.round(np.clip(maps, 0.0, 1.0) * 255).astype(np.uint8)
    elif getattr(loaded.visual, "kind", None) in ("vertex", "face"):
        colours = np.array(loaded.visual.vertex_colors, dtype=np.uint8)
        if source.suffix.lower() not in (".glb", ".gltf"):
            # A PLY's or OBJ's colours are sRGB-encoded (as MeshLab writes them and Blender's PLY
            # importer reads them by default); glTF's COLOR_0, and so the bake's vertex colours, are
            # linear. In 8 bits the darkest sRGB steps merge, as in any glTF file with byte colours.
            linear = srgb_to_linear(colours[:, :3].astype(np.float64) / 255.0)
            colours[:, :3] = np.round(linear * 255.0).astype(np.uint8)
        arrays["vertex_colors"] = colours
    write_arrays(target, arrays)


def _check_triangles(name: str, count: int | None) -> None:
    """Refuse a glTF whose nodes hold more than ``MAX_TRIANGLES`` triangles (``count``, from its JSON as the texture
    plan read it) before trimesh reads it: an 18 MB GLB placing one 1M-triangle mesh 150 times took 76 s and 9 GB
    to say it 'cannot be read'."""
    if count is not None and count > MAX_TRIANGLES:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"the mesh file {name} has {count:,} triangles (each "
                            f"node's copy of a mesh counted); img23d reads at most {MAX_TRIANGLES:,}: decimate it first")


def _why(exc: Exception) -> str:
    """Why trimesh could not read a file, in a few words on one line (the sentence named no reason: a buffer
    missing beside a glTF and a damaged file read the same)."""
    if isinstance(exc, FileNotFoundError):
        return f"a file it names is not beside it: {Path(str(exc.args[0] if exc.args else exc)).name[:80]}"
    if "escapes resolver root" in str(exc):  # trimesh's words would tell the artist to pass allow_anywhere
        return "it names a file outside its own folder, which img23d does not read"
    words = " ".join(str(exc).split())[:160]
    return f"{type(exc).__name__}: {words}" if words else type(exc).__name__


def _own_uvs(parts: list[Any], name: str) -> Any:
    """The parts' own UVs, stacked in the concatenated order (trimesh's ``concatenate`` packs several
    materials' images into one atlas and lays every UV out again inside it: the artist's layout was lost,
    a part without UVs put at one point); None when a part has none, and the log says so."""
    import numpy as np

    found = [getattr(part.visual, "uv", None) for part in parts]
    if any(uv is None or len(uv) != len(part.vertices) for uv, part in zip(found, parts)):
        if any(uv is not None for uv in found):
            log.warning("a part of %s has no UV map: the whole mesh is unwrapped again", name)
        return None
    return np.concatenate([np.asarray(uv, dtype=np.float64) for uv in found])


def _factor_in(part: Any) -> Any:
    """``part`` with a textured material's baseColorFactor multiplied into its image (``base_colour_values``),
    the factor then white: trimesh's atlas of several materials multiplied it in bytes that wrapped (red 200
    times a factor of 0.4 came out 176, 244, 244)."""
    import numpy as np
    from PIL import Image

    material = getattr(part.visual, "material", None)
    factor = getattr(material, "baseColorFactor", None)
    image = getattr(material, "baseColorTexture", None)
    if image is None or factor is None or np.array_equal(np.asarray(factor)[:3], [255, 255, 255]):
        return part
    rgb = base_colour_values(material)
    alpha = np.asarray(image.convert("RGBA"))[:, :, 3:].astype(np.float64) * float(np.asarray(factor)[3]) / 255.0
    texture = np.concatenate([np.round(rgb * 255.0), np.round(alpha)], axis=2).astype(np.uint8)
    material = material.copy()
    material.baseColorTexture = Image.fromarray(texture, "RGBA")
    material.baseColorFactor = None
    part = part.copy()
    part.visual.material = material
    return part


def _colour_0(parts: list[Any]) -> Any:
    """The parts' glTF ``COLOR_0`` where trimesh keeps it beside a material (its vertex attributes), as (V, 4)
    linear bytes in the concatenated order, white for a part without; None when no part has it."""
    import numpy as np

    found = [np.asarray(getattr(part.visual, "vertex_attributes", {}).get("color", np.zeros((0, 4))))
             for part in parts]
    if not any(len(colours) for colours in found):
        return None
    rows = []
    for part, colours in zip(parts, found):
        if len(colours) != len(part.vertices):
            colours = np.ones((len(part.vertices), 4))
        elif colours.dtype.kind in "iu":
            colours = colours / float(np.iinfo(colours.dtype).max)
        alpha = colours[:, 3] if colours.shape[1] > 3 else np.ones(len(colours))
        rows.append(np.column_stack([colours[:, :3], alpha]))
    return np.round(np.clip(np.concatenate(rows), 0.0, 1.0) * 255.0).astype(np.uint8)


def triangle_materials(parts: list[Any]) -> dict[str, Any]:
    """For a mesh of parts with several materials (a GLB's primitives, an OBJ's ``usemtl`` groups):
    ``material_names`` and each triangle's index among them, ``triangle_materials``, for a
    retopology to keep its material slots (``finish.materials``); nothing for one material."""
    import numpy as np

    names: list[str] = []
    of_part = []
    for index, part in enumerate(parts):
        material = getattr(part.visual, "material", None)
        name = str(getattr(material, "name", None) or f"material{index}")
        if name not in names:
            names.append(name)
        of_part.append(names.index(name))
    if len(names) < 2:
        return {}
    counts = [len(part.faces) for part in parts]
    return {"material_names": np.array(names), "triangle_materials": np.repeat(np.array(of_part, np.int32), counts)}


def textured_mesh(mesh_file: Path, texture: Path, uvs: Path | None, metallic_roughness: Path | None = None) -> Any:
    """The painted mesh, a ``trimesh.Trimesh`` in glTF's axes to export as a GLB: the add-on's mesh file
    (``mesh_file``, Blender's axes), its UVs (or the new ``uvs``, one per corner), the texture as its base
    colour and, when given, the ``metallic_roughness`` texture as glTF's (factors 1.0: the texture rules)."""
    import numpy as np
    import trimesh
    from PIL import Image

    from ..gltf.frame import to_gltf  # with NumPy, as above
    from .mesh_file import read_arrays  # with NumPy, as above

    arrays = read_arrays(mesh_file)
    positions, triangles = arrays["positions"], arrays["triangles"].astype(np.int64)
    loops = arrays["triangle_loops"].astype(np.int64)
    loop_uvs = arrays.get("loop_uvs")
    if uvs is not None:
        loop_uvs = np.load(uvs, allow_pickle=False)
    if loop_uvs is None:
        raise ProtocolError(ErrorCode.INTERNAL, "the painted mesh has no UVs to put its texture on")
    corners = np.column_stack([triangles.reshape(-1).astype(np.float64), loop_uvs[loops.reshape(-1)]])
    unique, inverse = np.unique(corners, axis=0, return_inverse=True)
    points = positions[unique[:, 0].astype(np.int64)]
    vertices = to_gltf(points)
    with Image.open(texture) as image:
        colour = image.convert("RGB")
    maps = None
    if metallic_roughness is not None:
        with Image.open(metallic_roughness) as image:
            maps = image.convert("RGB")
    # Without maps: no metal and a rough surface, what a colour alone means (as trimesh's simple material wrote).
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=colour, metallicRoughnessTexture=maps,
                                                   metallicFactor=1.0 if maps is not None else 0.0,
                                                   roughnessFactor=1.0)
    visual = trimesh.visual.TextureVisuals(uv=unique[:, 1:], material=material)
    return trimesh.Trimesh(vertices, inverse.reshape(-1, 3), visual=visual, process=False)


def base_colour_values(material: Any, textured: bool = True) -> Any:
    """A material's base colour as (H, W, 3) float32 sRGB in 0..1, as a glTF reader shows it: its colour texture
    (``textured``: the mesh has the UVs to read one) with its baseColorFactor multiplied in linear light, else the
    factor alone as one texel; None with neither (a factor in the texture unconverted bakes darker than it looks).
    The bake reads it so (``finish.bake.surface``), and so does a mesh file's conversion, which dropped the factor:
    a white texture tinted green came out white, a red material without one grey."""
    import numpy as np

    image = getattr(material, "baseColorTexture", None)  # a PBR material (glTF's)
    if image is None:
        image = getattr(material, "image", None)  # a simple material (OBJ's)
    factor = getattr(material, "baseColorFactor", None)
    linear_factor = None if factor is None else np.asarray(factor, dtype=np.float32)[:3] / 255.0
    if image is not None and textured:
        texture = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
        if linear_factor is not None and not np.allclose(linear_factor, 1.0):
            texture = linear_to_srgb(srgb_to_linear(texture) * linear_factor).astype(np.float32)
        return texture
    if linear_factor is not None:  # a flat colour: one texel
        return linear_to_srgb(linear_factor).astype(np.float32).reshape(1, 1, 3)
    return None


def metallic_roughness_values(material: Any) -> Any:
    """A glTF material's metallicRoughness texture as (H, W, 3) float32 in 0..1, as a glTF reader takes
    it: linear data (no sRGB curve), its roughness and metallic factors multiplied into G and B; None
    without one. The bake reads it so (``finish.bake.surface``), and so does a mesh file's conversion."""
    import numpy as np

    image = getattr(material, "metallicRoughnessTexture", None)
    if image is None:
        return None
    values = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    for channel, factor in ((1, getattr(material, "roughnessFactor", None)), (2, getattr(material, "metallicFactor", None))):
        if factor is not None:
            values[:, :, channel] *= float(factor)
    return values
