"""A picture with a known truth, made in Blender: two boxes on a floor seen through a known camera.

Cycles renders it small, with the Z pass (planar depth, checked against ray casts in Blender 4.2
and 5.0) and the object-index pass routed through the compositor into a float EXR, which
Blender reads back. Each box's mask comes from the index pass, its box from the mask, and its
depth statistic from the Z pass through the backend's own ``matte_statistic`` (fed disparity,
1 / Z, as the depth model's output would be). ``write_run`` lays that out as a run folder.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix, Vector

from img23d_backend.depth.driver import matte_statistic

SIZE = (320, 240)
FOV_DEGREES = 50.0
CAMERA_LOCATION = (0.0, -6.0, 1.6)
CAMERA_PITCH_DEGREES = 10.0   # looking down
# name: (bottom centre, edge length); both stand on the floor (Z = 0).
BOXES = {"near": ((-1.0, 0.0), 1.0), "far": ((1.2, 4.0), 1.5)}


@dataclass
class Truth:
    camera: Matrix                          # the camera's world matrix
    centres: dict[str, Vector]              # each box's centre
    sizes: dict[str, float]                 # each box's edge length
    boxes: dict[str, list[float]]           # each box's box in the picture (pixels, y down)
    disparity: dict[str, dict]              # each box's depth statistic, as the manifest keeps it


def render_truth(folder: Path) -> Truth:
    """Build the scene in a scene of its own, render it, and measure what the picture shows."""
    scene = bpy.data.scenes.new("img23d depth truth")
    try:
        camera = _build(scene)
        depth, index = _render_passes(scene, folder / "passes.exr")
        _render_picture(scene, folder / "input.png")
        # matrix_basis: this scene is never evaluated in a view layer, so its matrix_world stays unset.
        truth = Truth(camera=camera.matrix_basis.copy(), centres={}, sizes={}, boxes={}, disparity={})
        disparity = np.where(np.isfinite(depth) & (depth > 0), 1.0 / np.maximum(depth, 1e-9), np.nan)
        for number, (name, ((x, y), edge)) in enumerate(BOXES.items(), start=1):
            mask = np.rint(index) == number
            rows, cols = np.nonzero(mask)
            assert rows.size > 100, f"the {name} box is not in the picture"
            truth.boxes[name] = [float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1)]
            alpha = np.where(mask, 255, 0).astype(np.uint8)
            stat = matte_statistic(disparity.astype(np.float32), alpha, (0, 0, SIZE[0], SIZE[1]))
            assert stat is not None
            truth.disparity[name] = stat.to_dict()
            truth.centres[name] = Vector((x, y, edge / 2))
            truth.sizes[name] = edge
        return truth
    finally:
        for obj in list(scene.objects):
            bpy.data.objects.remove(obj, do_unlink=True)
        bpy.data.scenes.remove(scene)


def write_run(folder: Path, truth: Truth) -> Path:
    """A run folder as the backend leaves one, with unit cubes for meshes."""
    records = []
    for name in BOXES:
        _write_unit_cube(folder / f"{name}.glb")
        records.append({"target": name, "instance": 1, "stem": name, "status": "done", "mesh": f"{name}.glb",
                        "box": truth.boxes[name], "depth": truth.disparity[name]})
    manifest = {"kind": "generate", "status": "finished", "records": records, "models": {},
                "image": {"source": str(folder / "input.png"), "original_size": list(SIZE)},
                "scene": {"depth": {"model": "the render's Z pass", "kind": "disparity", "fov_estimate": None}}}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def _write_unit_cube(path: Path) -> None:
    """A GLB holding one cube of edge 1 centred on the origin (written here: the Blender 4.2 test
    environment has no mesh library)."""
    positions = [(x, y, z) for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)]
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    triangles = [i for a, b, c, d in quads for i in (a, b, c, a, c, d)]
    data = struct.pack(f"<{3 * len(positions)}f", *(v for p in positions for v in p))
    data += struct.pack(f"<{len(triangles)}H", *triangles)
    data += b"\0" * (-len(data) % 4)
    gltf = {"asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
            "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1}]}],
            "buffers": [{"byteLength": len(data)}],
            "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": 12 * len(positions)},
                            {"buffer": 0, "byteOffset": 12 * len(positions), "byteLength": 2 * len(triangles)}],
            "accessors": [{"bufferView": 0, "componentType": 5126, "count": len(positions), "type": "VEC3",
                           "min": [-0.5] * 3, "max": [0.5] * 3},
                          {"bufferView": 1, "componentType": 5123, "count": len(triangles), "type": "SCALAR"}]}
    text = json.dumps(gltf).encode()
    text += b" " * (-len(text) % 4)
    body = struct.pack("<II", len(text), 0x4E4F534A) + text + struct.pack("<II", len(data), 0x004E4942) + data
    path.write_bytes(struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body)


def _build(scene: bpy.types.Scene) -> bpy.types.Object:
    floor = bpy.data.meshes.new("floor")
    floor.from_pydata([(-20, -20, 0), (20, -20, 0), (20, 20, 0), (-20, 20, 0)], [], [(0, 1, 2, 3)])
    scene.collection.objects.link(bpy.data.objects.new("floor", floor))
    for number, (name, ((x, y), edge)) in enumerate(BOXES.items(), start=1):
        mesh = bpy.data.meshes.new(name)
        h = edge / 2
        corners = [(x + dx, y + dy, z) for z in (0.0, edge) for dx, dy in ((-h, -h), (h, -h), (h, h), (-h, h))]
        faces = [(0, 3, 2, 1), (4, 5, 6, 7), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7)]
        mesh.from_pydata(corners, [], faces)
        obj = bpy.data.objects.new(name, mesh)
        obj.pass_index = number
        scene.collection.objects.link(obj)
    camera = bpy.data.objects.new("truth camera", bpy.data.cameras.new("truth camera"))
    camera.data.sensor_fit = "HORIZONTAL"
    camera.data.angle = math.radians(FOV_DEGREES)
    camera.location = CAMERA_LOCATION
    camera.rotation_euler = (math.radians(90 - CAMERA_PITCH_DEGREES), 0.0, 0.0)
    scene.collection.objects.link(camera)
    scene.camera = camera
    sun = bpy.data.objects.new("truth sun", bpy.data.lights.new("truth sun", type="SUN"))
    sun.rotation_euler = (math.radians(40), 0.0, math.radians(30))
    scene.collection.objects.link(sun)
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 4
    scene.render.resolution_x, scene.render.resolution_y = SIZE
    scene.render.resolution_percentage = 100
    layer = scene.view_layers[0]
    layer.use_pass_z = True
    layer.use_pass_object_index = True
    return camera


def _render_passes(scene: bpy.types.Scene, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The Z pass and the object-index pass, [rows, columns] with row 0 at the top."""
    sink = _compositor_sink(scene)
    tree = sink.node.id_data
    passes = tree.nodes.new("CompositorNodeRLayers")
    passes.scene = scene
    combine = tree.nodes.new("CompositorNodeCombineColor")
    index = "Object Index" if "Object Index" in passes.outputs else "IndexOB"
    tree.links.new(passes.outputs["Depth"], combine.inputs[0])
    tree.links.new(passes.outputs[index], combine.inputs[1])
    tree.links.new(combine.outputs[0], sink)
    scene.render.use_compositing = True
    scene.render.image_settings.file_format = "OPEN_EXR"
    scene.render.image_settings.color_depth = "32"
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True, scene=scene.name)
    image = bpy.data.images.load(str(path), check_existing=False)
    try:
        width, height = image.size
        pixels = np.empty(width * height * 4, dtype=np.float32)
        image.pixels.foreach_get(pixels)
    finally:
        bpy.data.images.remove(image)
    pixels = pixels.reshape(height, width, 4)[::-1]   # Blender's rows start at the bottom
    return pixels[..., 0].copy(), pixels[..., 1].copy()


def _compositor_sink(scene: bpy.types.Scene) -> bpy.types.NodeSocket:
    """The compositor's output socket: a node group's output in Blender 5, the Composite node before."""
    if bpy.app.version >= (5, 0, 0):
        tree = bpy.data.node_groups.new("img23d depth truth", "CompositorNodeTree")
        tree.interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
        scene.compositing_node_group = tree
        return tree.nodes.new("NodeGroupOutput").inputs[0]
    scene.use_nodes = True
    tree = scene.node_tree
    for node in list(tree.nodes):
        tree.nodes.remove(node)
    return tree.nodes.new("CompositorNodeComposite").inputs["Image"]


def _render_picture(scene: bpy.types.Scene, path: Path) -> None:
    scene.render.use_compositing = False
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_depth = "8"
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True, scene=scene.name)
