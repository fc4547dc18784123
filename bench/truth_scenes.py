"""Builds the scene benchmark's scenes (``truth_scene_specs.SCENES``) in Blender and writes each as a scene folder.

Each scene is made of primitives in the bpy module (bmesh's cube, cone and sphere), rendered with Cycles on the
CPU, and measured by casting one ray per pixel through Blender's own scene (``Scene.ray_cast``), so the depth and
the masks are exactly what the picture shows. The folder (docs/placement.md, "Scoring a layout against the
truth"):

  picture.png   the render (sRGB, the camera's resolution)
  depth.npy     planar depth (camera-frame z) in metres, float32, inf where the ray meets nothing
  masks.png     each pixel's object index (0: background, the floor included), visible pixels only, 8-bit
  scene.json    the camera and each object: name, index, matrix_world (Blender's world: Z up, floor at Z = 0),
                mesh, support
  meshes/       each object's mesh as a GLB in its own frame (glTF Y up, front +Z, origin at its bottom centre)

    .venv/bin/python bench/truth_scenes.py --out bench/scenes [--only NAME ...] [--samples 16]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import bpy  # first: bmesh and mathutils are Blender's modules, importable once bpy is
import bmesh
import numpy as np
import trimesh
from mathutils import Matrix, Vector
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from truth_scene_specs import SCENES, Part, TruthObject, TruthScene  # noqa: E402  (the bench folder's own module)

SEGMENTS = 32
FLOOR_SIZE = 400.0
# Blender's axes to glTF's: (x, y, z) -> (x, z, -y), as Blender's glTF exporter writes them.
BLENDER_TO_GLTF = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def add_part(mesh: bmesh.types.BMesh, part: Part, material: int) -> None:
    """``part`` added to ``mesh`` in the object's frame, its faces given ``material``."""
    before = set(mesh.faces)
    x, y, z = (float(v) for v in part.at)
    if part.kind == "box":
        sx, sy, sz = part.size
        bmesh.ops.create_cube(mesh, size=1.0, matrix=Matrix.Translation((x, y, z + sz / 2)) @
                              Matrix.Diagonal((sx, sy, sz, 1.0)))
    elif part.kind == "pyramid":
        sx, sy, sz = part.size
        bmesh.ops.create_cone(mesh, cap_ends=True, segments=4, radius1=math.sqrt(0.5), radius2=0.0, depth=1.0,
                              matrix=Matrix.Translation((x, y, z + sz / 2)) @ Matrix.Diagonal((sx, sy, sz, 1.0)) @
                              Matrix.Rotation(math.pi / 4, 4, "Z"))
    elif part.kind in ("cylinder", "cone"):
        bottom, top, height = part.size
        bmesh.ops.create_cone(mesh, cap_ends=True, segments=SEGMENTS, radius1=bottom, radius2=top, depth=height,
                              matrix=Matrix.Translation((x, y, z + height / 2)))
    elif part.kind == "sphere":
        radius = part.size[0]
        bmesh.ops.create_uvsphere(mesh, u_segments=SEGMENTS, v_segments=SEGMENTS // 2, radius=radius,
                                  matrix=Matrix.Translation((x, y, z + radius)))
    else:
        raise ValueError(f"unknown primitive {part.kind!r}")
    for face in set(mesh.faces) - before:
        face.material_index = material


def material(name: str, colour: tuple[float, float, float]) -> bpy.types.Material:
    made = bpy.data.materials.new(name)
    if made.node_tree is None:  # Blender 4.x: a new material has no node tree until asked
        made.use_nodes = True
    made.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = (*colour, 1.0)
    made.diffuse_color = (*colour, 1.0)
    return made


def build_object(item: TruthObject) -> bpy.types.Object:
    mesh = bmesh.new()
    colours = list(dict.fromkeys(part.colour for part in item.parts))
    for part in item.parts:
        add_part(mesh, part, colours.index(part.colour))
    data = bpy.data.meshes.new(item.name)
    mesh.to_mesh(data)
    mesh.free()
    for n, colour in enumerate(colours):
        data.materials.append(material(f"{item.name}_{n}", colour))
    made = bpy.data.objects.new(item.name, data)
    made.matrix_world = Matrix.Translation(item.location) @ Matrix.Rotation(math.radians(item.yaw_degrees), 4, "Z")
    bpy.context.scene.collection.objects.link(made)
    return made


def write_glb(made: bpy.types.Object, path: Path) -> None:
    """The object's mesh in its own frame as a GLB (glTF's axes), triangles only."""
    data = made.data
    data.calc_loop_triangles()
    vertices = np.array([v.co[:] for v in data.vertices], dtype=np.float64) @ BLENDER_TO_GLTF.T
    faces = np.array([t.vertices[:] for t in data.loop_triangles], dtype=np.int64)
    trimesh.Trimesh(vertices, faces, process=False).export(path)


def camera_of(scene: TruthScene) -> bpy.types.Object:
    spec = scene.camera
    data = bpy.data.cameras.new("camera")
    data.sensor_fit = "HORIZONTAL" if spec.fov_across == "width" else "VERTICAL"
    data.angle = math.radians(spec.fov_degrees)
    data.clip_end = 1000.0
    made = bpy.data.objects.new("camera", data)
    made.location = (0.0, 0.0, spec.height)
    made.rotation_euler = (math.pi / 2 - math.radians(spec.pitch_degrees), 0.0, math.radians(spec.yaw_degrees))
    bpy.context.scene.collection.objects.link(made)
    bpy.context.scene.camera = made
    return made


def focal_px(scene: TruthScene) -> float:
    width, height = scene.camera.resolution
    across = width if scene.camera.fov_across == "width" else height
    return across / 2 / math.tan(math.radians(scene.camera.fov_degrees) / 2)


def cast(scene: TruthScene, camera: bpy.types.Object, index: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """(planar depth in metres, inf where nothing is hit; each pixel's object index) by one ray per pixel."""
    width, height = scene.camera.resolution
    focal = focal_px(scene)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    turn = camera.matrix_world.to_3x3()
    origin = camera.matrix_world.translation.copy()
    forward = turn @ Vector((0.0, 0.0, -1.0))
    depth = np.full((height, width), np.inf, dtype=np.float32)
    masks = np.zeros((height, width), dtype=np.uint8)
    for v in range(height):
        for u in range(width):
            # Camera frame x right, y down, z forward; Blender's camera looks down its own -Z with +Y up.
            local = Vector(((u + 0.5 - width / 2) / focal, -(v + 0.5 - height / 2) / focal, -1.0))
            hit, where, _, _, made, _ = bpy.context.scene.ray_cast(depsgraph, origin, (turn @ local).normalized())
            if hit:
                depth[v, u] = (where - origin).dot(forward)
                masks[v, u] = index.get(made.name, 0)
    return depth, masks


def render(path: Path, samples: int) -> None:
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.render.filepath = str(path)
    scene.render.image_settings.file_format = "PNG"
    bpy.ops.render.render(write_still=True)


def lights(scene: TruthScene) -> None:
    world = bpy.data.worlds.new("sky")
    if world.node_tree is None:
        world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.6, 0.7, 0.85, 1.0)
    world.node_tree.nodes["Background"].inputs["Strength"].default_value = 0.6
    bpy.context.scene.world = world
    sun = bpy.data.objects.new("sun", bpy.data.lights.new("sun", "SUN"))
    sun.data.energy = 3.5
    sun.rotation_euler = (math.radians(40), math.radians(15), math.radians(30))
    bpy.context.scene.collection.objects.link(sun)
    floor = bmesh.new()
    bmesh.ops.create_grid(floor, x_segments=1, y_segments=1, size=FLOOR_SIZE / 2)
    data = bpy.data.meshes.new("floor")
    floor.to_mesh(data)
    floor.free()
    data.materials.append(material("floor", scene.floor_colour))
    bpy.context.scene.collection.objects.link(bpy.data.objects.new("floor", data))


def build(scene: TruthScene, out: Path, samples: int) -> None:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    folder = out / scene.name
    (folder / "meshes").mkdir(parents=True, exist_ok=True)
    width, height = scene.camera.resolution
    bpy.context.scene.render.resolution_x, bpy.context.scene.render.resolution_y = width, height
    bpy.context.scene.render.resolution_percentage = 100
    lights(scene)
    camera = camera_of(scene)
    index = {item.name: n + 1 for n, item in enumerate(scene.objects)}
    objects = []
    for item in scene.objects:
        made = build_object(item)
        write_glb(made, folder / "meshes" / f"{item.name}.glb")
        objects.append({"name": item.name, "index": index[item.name],
                        "matrix_world": [list(row) for row in made.matrix_world],
                        "mesh": f"meshes/{item.name}.glb", "support": item.support})
    bpy.context.view_layer.update()
    depth, masks = cast(scene, camera, index)
    np.save(folder / "depth.npy", depth, allow_pickle=False)
    Image.fromarray(masks, "L").save(folder / "masks.png")
    render(folder / "picture.png", samples)
    spec = scene.camera
    record = {"camera": {"fov_degrees": spec.fov_degrees, "fov_across": spec.fov_across, "height": spec.height,
                         "pitch_degrees": spec.pitch_degrees, "resolution": list(spec.resolution),
                         "location": [0.0, 0.0, spec.height], "yaw_degrees": spec.yaw_degrees},
              "objects": objects, "notes": scene.notes, "made_by": "bench/truth_scenes.py (Blender primitives, CC0)"}
    (folder / "scene.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "scenes")
    parser.add_argument("--only", action="append", default=[], metavar="NAME")
    parser.add_argument("--samples", type=int, default=16)
    args = parser.parse_args(argv)
    for scene in SCENES:
        if args.only and scene.name not in args.only:
            continue
        started = time.monotonic()
        build(scene, args.out, args.samples)
        print(f"{scene.name}: {time.monotonic() - started:.1f} s -> {args.out / scene.name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
