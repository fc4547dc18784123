"""Blender's side of the game-ready benchmark (``bench/game_ready.py``), through the ``bpy`` module:
its QuadriFlow and Decimate on a mesh, and Cycles renders of a GLB from fixed cameras.

QuadriFlow is run as the operator an artist presses (``bpy.ops.object.quadriflow_remesh`` with a
face target, nothing else changed), and once more after Blender's *Merge by Distance* (``bmesh``'s
``remove_doubles`` at 1e-4), the usual advice when it refuses: its operator checks the input first
and refuses a mesh with an edge shorter than 1e-4 along every axis (blender/blender,
``object_remesh.cc``, ``mesh_is_manifold_consistent``: "zero length edges"), which marching
cubes makes. The merge joins points closer than 1e-4 (a length), the check refuses edges up to 1e-4
along each axis, so some are left and a merged mesh can be refused again. Decimate is the Decimate
modifier in Collapse mode with ratio target / faces.

The renders: Cycles on the CPU, direct light only (no bounces, two sun lamps with sharp shadows,
a black world), so the two renders of an object differ by their geometry and maps, not by noise;
the Standard view transform, a transparent film. Four cameras around at 20 degrees above the
horizon and one from above, framing the high mesh's bounding sphere; the low mesh is rendered from
the very same cameras.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import bpy  # first: bmesh and mathutils are importable once bpy is
import bmesh
import numpy as np
from mathutils import Vector

MERGE_DISTANCE = 1e-4  # Blender's own zero-length test in QuadriFlow's check, and Merge by Distance's default


@dataclass
class BlenderResult:
    """A remesh by Blender: its polygons (any size), or the reason it gave none."""

    ok: bool
    status: str                   # the operator's return, and why when it refused
    vertices: np.ndarray          # (V, 3)
    polygons: list[np.ndarray]    # one index array per polygon
    seconds: float


def _object(vertices: np.ndarray, faces: np.ndarray, name: str) -> bpy.types.Object:
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(np.asarray(vertices, dtype=np.float64).tolist(), [], np.asarray(faces).tolist())
    mesh.update()
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def _read(obj_mesh: bpy.types.Mesh) -> tuple[np.ndarray, list[np.ndarray]]:
    vertices = np.empty(len(obj_mesh.vertices) * 3)
    obj_mesh.vertices.foreach_get("co", vertices)
    loops = np.empty(len(obj_mesh.loops), dtype=np.int64)
    obj_mesh.loops.foreach_get("vertex_index", loops)
    starts = np.empty(len(obj_mesh.polygons), dtype=np.int64)
    obj_mesh.polygons.foreach_get("loop_start", starts)
    return vertices.reshape(-1, 3), np.split(loops, starts[1:]) if len(starts) else []


def _drop(obj: bpy.types.Object) -> None:
    mesh = obj.data
    bpy.data.objects.remove(obj)
    bpy.data.meshes.remove(mesh)


def short_edges(vertices: np.ndarray, faces: np.ndarray) -> int:
    """Edges QuadriFlow's check calls zero length: shorter than 1e-4 along every axis."""
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    delta = np.abs(vertices[edges[:, 0]] - vertices[edges[:, 1]])
    return int(np.sum(np.all(delta <= MERGE_DISTANCE, axis=1)) // 2)


def quadriflow(vertices: np.ndarray, faces: np.ndarray, target: int, merge_first: bool) -> BlenderResult:
    obj = _object(vertices, faces, "quadriflow")
    try:
        started = time.perf_counter()
        if merge_first:
            work = bmesh.new()
            work.from_mesh(obj.data)
            bmesh.ops.remove_doubles(work, verts=work.verts, dist=MERGE_DISTANCE)
            work.to_mesh(obj.data)
            work.free()
        with bpy.context.temp_override(object=obj, active_object=obj, selected_objects=[obj],
                                       selected_editable_objects=[obj]):
            status = bpy.ops.object.quadriflow_remesh(target_faces=target, use_mesh_symmetry=False, seed=0)
        seconds = time.perf_counter() - started
        out_v, polygons = _read(obj.data)
        finished = "FINISHED" in status
        # A refusal leaves the mesh as it was (a triangle mesh): that is no result.
        ok = finished and any(len(p) == 4 for p in polygons)
        said = "FINISHED" if finished else "CANCELLED"
        if not finished and not merge_first:
            said += f" (refused: {short_edges(np.asarray(vertices), np.asarray(faces)):,} zero-length edges by its test)"
        return BlenderResult(ok, said, out_v, polygons if ok else [], seconds)
    finally:
        _drop(obj)


def decimate(vertices: np.ndarray, faces: np.ndarray, target: int) -> BlenderResult:
    obj = _object(vertices, faces, "decimate")
    try:
        started = time.perf_counter()
        modifier = obj.modifiers.new("decimate", "DECIMATE")
        modifier.decimate_type = "COLLAPSE"
        modifier.ratio = min(1.0, target / max(len(faces), 1))
        evaluated = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
        mesh = evaluated.to_mesh()
        out_v, polygons = _read(mesh)
        evaluated.to_mesh_clear()
        seconds = time.perf_counter() - started
        return BlenderResult(len(polygons) > 0, "FINISHED", out_v, polygons, seconds)
    finally:
        _drop(obj)


@dataclass(frozen=True)
class Views:
    """Where the cameras stand: around the high mesh's bounding sphere (Blender's axes, Z up)."""

    centre: tuple[float, float, float]
    radius: float
    size: int = 256
    samples: int = 16


def _scene(views: Views) -> bpy.types.Scene:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = views.samples
    scene.cycles.use_denoising = False
    scene.cycles.max_bounces = 0  # direct light only: no path noise between the two renders
    scene.cycles.seed = 0
    scene.render.resolution_x = scene.render.resolution_y = views.size
    scene.render.film_transparent = True
    scene.view_settings.view_transform = "Standard"
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"
    world = bpy.data.worlds.new("black")
    world.color = (0.0, 0.0, 0.0)
    scene.world = world
    for name, strength, rotation in (("key", 3.0, (50.0, 10.0, 35.0)), ("fill", 1.2, (60.0, -10.0, 215.0))):
        light = bpy.data.lights.new(name, "SUN")
        light.energy, light.angle = strength, 0.0
        obj = bpy.data.objects.new(name, light)
        obj.rotation_euler = tuple(math.radians(a) for a in rotation)
        scene.collection.objects.link(obj)
    camera = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    camera.data.angle = math.radians(40.0)
    scene.collection.objects.link(camera)
    scene.camera = camera
    return scene


def camera_positions(views: Views) -> list[tuple[str, Vector]]:
    distance = views.radius / math.sin(math.radians(20.0)) * 1.05
    centre = Vector(views.centre)
    out = []
    for azimuth in (45, 135, 225, 315):
        a, e = math.radians(azimuth), math.radians(20.0)
        out.append((f"around-{azimuth}", centre + distance * Vector((math.cos(a) * math.cos(e),
                                                                     math.sin(a) * math.cos(e), math.sin(e)))))
    out.append(("above", centre + Vector((0.0, -0.01 * distance, distance))))
    return out


def render_glb(glb: Path, views: Views, out: Path) -> list[np.ndarray]:
    """Renders of the GLB from each camera, as float RGBA arrays (0..1); PNGs kept under ``out``."""
    scene = _scene(views)
    bpy.ops.import_scene.gltf(filepath=str(glb))
    out.mkdir(parents=True, exist_ok=True)
    images = []
    for name, position in camera_positions(views):
        scene.camera.location = position
        scene.camera.rotation_euler = (Vector(views.centre) - position).to_track_quat("-Z", "Y").to_euler()
        scene.render.filepath = str(out / f"{name}.png")
        bpy.ops.render.render(write_still=True)
        pixels = bpy.data.images.load(scene.render.filepath)
        array = np.empty(views.size * views.size * 4, dtype=np.float32)
        pixels.pixels.foreach_get(array)
        bpy.data.images.remove(pixels)
        images.append(array.reshape(views.size, views.size, 4))
    return images


def psnr(high: list[np.ndarray], low: list[np.ndarray]) -> tuple[float, list[float]]:
    """PSNR (dB) over the pixels either render covers, colour premultiplied by coverage, all views
    together and per view."""
    def one(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
        mask = (a[..., 3] > 0) | (b[..., 3] > 0)
        diff = a[..., :3] * a[..., 3:] - b[..., :3] * b[..., 3:]
        return float(np.sum(diff[mask] ** 2)), int(mask.sum()) * 3

    parts = [one(a, b) for a, b in zip(high, low)]
    per_view = [10.0 * math.log10(n / max(s, 1e-12)) for s, n in parts]
    total = 10.0 * math.log10(sum(n for _, n in parts) / max(sum(s for s, _ in parts), 1e-12))
    return total, per_view


def version() -> str:
    return bpy.app.version_string
