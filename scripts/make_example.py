"""The repository's example pictures and mesh, made by the project's own code (CC0: see examples/README.md).

    .venv/bin/python scripts/make_example.py [--out examples] [--samples 32]

Builds three things from primitives in Blender (the ``bpy`` module, headless) and renders them
with Cycles on the CPU:

  house_scene.png   1024x1024 palette PNG whose palette has transparent entries (the background;
                    white where the alpha is dropped), several nameable parts: a house, its chimney and door,
                    two trees, three barrels, two rocks, a flight of stairs. Each part is fitted so
                    that its box in the picture is the box the tiny grounding replica answers
                    (``img23d_backend.grounding.qwen3_vl.replica_answer.ANSWER``, 0..1000 of the picture): the
                    tiny models' detections land on the parts they name.
  snowman.png       500x500 RGBA, one subject (a snowman with a hat and a scarf) on a transparent
                    background: the picture for "one object from the whole image".
  house_mesh.glb    the house (walls, roof, chimney, door) as one closed, voxel-remeshed triangle
                    mesh of 40,000 faces without UVs, like a shape model's output: the mesh for
                    tests and Re-texture that only need "a mesh".

Nothing here is random: running it again gives the same scene (the render's noise aside).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import bpy
from bpy_extras.object_utils import world_to_camera_view
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))
from img23d_backend.grounding.qwen3_vl.replica_answer import ANSWER  # noqa: E402  (the boxes the scene is fitted to)

SCENE_SIZE = 1024
SUBJECT_SIZE = 500
MESH_FACES = 40_000    # as many as a Hunyuan3D-2 output after its default clean-up
MESH_HALF_EXTENT = 0.55  # the largest half-side, about what the shape models' meshes span
FIT_ROUNDS = 6

Colour = tuple[float, float, float]


@dataclass(frozen=True)
class Part:
    """One nameable part: its label in the replica's answer, which box of that label, its depth
    (metres behind the house's front wall; negative is in front) and how it is built."""

    label: str
    index: int
    depth: float
    kind: str


PARTS = [
    Part("house", 0, 0.0, "house"),
    Part("chimney", 0, -0.15, "chimney"),
    Part("door", 0, -0.05, "door"),
    Part("tree", 0, -1.0, "tree"),
    Part("tree", 1, 1.5, "tree"),
    Part("barrel", 0, -2.5, "barrel"),
    Part("barrel", 1, -2.0, "barrel"),
    Part("barrel", 2, -1.6, "barrel"),
    Part("rock", 0, -2.2, "rock"),
    Part("rock", 1, -1.4, "rock"),
    Part("stairs", 0, -2.8, "stairs"),
]


def answer_boxes() -> dict[str, list[tuple[float, float, float, float]]]:
    """The replica's boxes by label, as fractions of the picture (left, top, right, bottom)."""
    boxes: dict[str, list[tuple[float, float, float, float]]] = {}
    for x0, y0, x1, y1, label in re.findall(r'\[(\d+), (\d+), (\d+), (\d+)\], "label": "(\w+)"', ANSWER):
        boxes.setdefault(label, []).append((int(x0) / 1000, int(y0) / 1000, int(x1) / 1000, int(y1) / 1000))
    return boxes


def material(name: str, colour: Colour, roughness: float = 0.7) -> bpy.types.Material:
    mat = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0):
        mat.use_nodes = True  # 5.x materials have their node tree already (use_nodes is deprecated there)
    shader = mat.node_tree.nodes["Principled BSDF"]
    shader.inputs["Base Color"].default_value = (*colour, 1.0)
    shader.inputs["Roughness"].default_value = roughness
    return mat


def painted(obj: bpy.types.Object, mat: bpy.types.Material) -> bpy.types.Object:
    obj.data.materials.append(mat)
    return obj


def join(objects: list[bpy.types.Object], name: str) -> bpy.types.Object:
    """One object from several, so a part is fitted (and later remeshed) as a whole."""
    bpy.ops.object.select_all(action="DESELECT")
    for obj in objects:
        obj.select_set(True)
    bpy.context.view_layer.objects.active = objects[0]
    bpy.ops.object.join()
    joined = bpy.context.view_layer.objects.active
    joined.name = name
    bpy.ops.object.transform_apply(location=False, rotation=True, scale=True)
    return joined


def cube(size: tuple[float, float, float], at: tuple[float, float, float], mat: bpy.types.Material) -> bpy.types.Object:
    bpy.ops.mesh.primitive_cube_add(size=1.0, location=at)
    obj = bpy.context.object
    obj.scale = size
    return painted(obj, mat)


def build_house() -> bpy.types.Object:
    """Walls and a gabled roof, 1 unit wide; the roof overhangs the walls a little."""
    walls = cube((0.9, 0.6, 0.55), (0, 0.3, 0.275), material("walls", (0.93, 0.85, 0.68)))
    bpy.ops.mesh.primitive_cylinder_add(vertices=3, radius=0.5, depth=0.7, location=(0, 0.3, 0.55))
    roof = bpy.context.object
    roof.rotation_euler = (math.pi / 2, 0, 0)
    roof.scale = (1.0, 0.8, 1.0)
    painted(roof, material("roof", (0.25, 0.3, 0.45), 0.5))
    window = material("window", (0.45, 0.65, 0.85), 0.1)
    panes = [cube((0.16, 0.02, 0.14), (x, -0.005, 0.33), window) for x in (-0.28, 0.28)]
    return join([walls, roof, *panes], "house")


def build_chimney() -> bpy.types.Object:
    brick = material("brick", (0.62, 0.22, 0.15))
    stack = cube((0.3, 0.3, 1.0), (0, 0, 0.5), brick)
    cap = cube((0.36, 0.36, 0.08), (0, 0, 1.0), material("cap", (0.3, 0.3, 0.3)))
    return join([stack, cap], "chimney")


def build_door() -> bpy.types.Object:
    door = cube((0.4, 0.06, 1.0), (0, 0, 0.5), material("door", (0.45, 0.26, 0.12)))
    knob = cube((0.05, 0.04, 0.05), (0.12, -0.04, 0.5), material("knob", (0.85, 0.7, 0.2), 0.3))
    return join([door, knob], "door")


def build_tree() -> bpy.types.Object:
    bpy.ops.mesh.primitive_cylinder_add(vertices=12, radius=0.08, depth=0.3, location=(0, 0, 0.15))
    trunk = painted(bpy.context.object, material("trunk", (0.35, 0.22, 0.1)))
    bpy.ops.mesh.primitive_cone_add(vertices=16, radius1=0.45, depth=0.9, location=(0, 0, 0.75))
    crown = painted(bpy.context.object, material("leaves", (0.2, 0.5, 0.2)))
    return join([trunk, crown], "tree")


def build_barrel() -> bpy.types.Object:
    bpy.ops.mesh.primitive_cylinder_add(vertices=24, radius=0.5, depth=1.0, location=(0, 0, 0.5))
    staves = painted(bpy.context.object, material("barrel", (0.55, 0.33, 0.15)))
    hoop = material("hoop", (0.25, 0.25, 0.27), 0.35)
    hoops = []
    for z in (0.2, 0.8):
        bpy.ops.mesh.primitive_cylinder_add(vertices=24, radius=0.52, depth=0.07, location=(0, 0, z))
        hoops.append(painted(bpy.context.object, hoop))
    return join([staves, *hoops], "barrel")


def build_rock() -> bpy.types.Object:
    bpy.ops.mesh.primitive_ico_sphere_add(subdivisions=2, radius=0.5, location=(0, 0, 0.5))
    rock = painted(bpy.context.object, material("rock", (0.5, 0.5, 0.48), 0.9))
    for i, vertex in enumerate(rock.data.vertices):  # a fixed dent pattern: no randomness
        vertex.co *= 1.0 + 0.12 * math.sin(i * 2.39)
    return rock


def build_stairs() -> bpy.types.Object:
    stone = material("steps", (0.68, 0.66, 0.62))
    steps = [cube((1.0, 0.34 * (3 - i), 0.34), (0, 0.17 * i, 0.17 + 0.34 * i), stone) for i in range(3)]
    return join(steps, "stairs")


BUILDERS = {"house": build_house, "chimney": build_chimney, "door": build_door, "tree": build_tree,
            "barrel": build_barrel, "rock": build_rock, "stairs": build_stairs}


def projected_box(obj: bpy.types.Object, camera: bpy.types.Object) -> tuple[float, float, float, float]:
    """The object's box in the camera's picture, as fractions (left, top, right, bottom)."""
    scene = bpy.context.scene
    bpy.context.view_layer.update()
    points = [world_to_camera_view(scene, camera, obj.matrix_world @ v.co) for v in obj.data.vertices]
    xs, ys = [p.x for p in points], [1.0 - p.y for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def fit(obj: bpy.types.Object, box: tuple[float, float, float, float], front: float, camera: bpy.types.Object) -> float:
    """Scale and move ``obj`` (its front face kept at ``front`` on the depth axis) until its
    picture box is ``box``; the worst side's error left, in fractions of the picture."""
    for _ in range(FIT_ROUNDS):
        left, top, right, bottom = projected_box(obj, camera)
        width, height = right - left, bottom - top
        obj.scale.x *= (box[2] - box[0]) / width
        obj.scale.z *= (box[3] - box[1]) / height
        obj.scale.y *= (box[2] - box[0]) / width  # depth follows width: round things stay round
        bpy.context.view_layer.update()
        obj.location.y += front - min((obj.matrix_world @ v.co).y for v in obj.data.vertices)
        left, top, right, bottom = projected_box(obj, camera)
        per_unit = (right - left) / obj.dimensions.x
        obj.location.x += ((box[0] + box[2]) - (left + right)) / 2 / per_unit
        obj.location.z -= ((box[1] + box[3]) - (top + bottom)) / 2 / per_unit
    return max(abs(a - b) for a, b in zip(projected_box(obj, camera), box))


def empty_scene(size: tuple[int, int], samples: int) -> bpy.types.Scene:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_denoising = True
    scene.render.resolution_x, scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = True
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"
    scene.view_settings.view_transform = "Standard"
    world = bpy.data.worlds.new("sky")
    world.color = (0.8, 0.82, 0.85)
    if bpy.app.version < (5, 0, 0):
        world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.8, 0.82, 0.85, 1.0)
    world.node_tree.nodes["Background"].inputs["Strength"].default_value = 0.45
    scene.world = world
    sun = bpy.data.objects.new("sun", bpy.data.lights.new("sun", "SUN"))
    sun.data.energy = 2.6
    sun.rotation_euler = (math.radians(50), math.radians(-20), math.radians(-30))
    scene.collection.objects.link(sun)
    return scene


def add_camera(scene: bpy.types.Scene, at: tuple[float, float, float], tilt_deg: float, lens: float) -> bpy.types.Object:
    camera = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    camera.location = at
    camera.rotation_euler = (math.radians(90 - tilt_deg), 0, 0)  # looking along +y, tilted down
    camera.data.lens = lens
    scene.collection.objects.link(camera)
    scene.camera = camera
    return camera


def render(scene: bpy.types.Scene, target: Path, palette: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="img23d-example-") as work:
        raw = Path(work) / "render.png"
        scene.render.filepath = str(raw)
        bpy.ops.render.render(write_still=True)
        with Image.open(raw) as image:
            picture = image.convert("RGBA")
    # Transparent pixels white, so a viewer that drops the alpha shows the scene on white.
    white = Image.new("RGBA", picture.size, (255, 255, 255, 0))
    picture = Image.composite(picture, white, picture.getchannel("A").point(lambda a: 255 if a else 0))
    if palette:  # a palette with transparent entries (as many pictures on the web): small, and still cut out
        picture = picture.quantize(256, method=Image.Quantize.FASTOCTREE)
    picture.save(target, format="PNG", optimize=True)
    print(f"{target}: {picture.size[0]}x{picture.size[1]} {picture.mode}, {target.stat().st_size // 1024} KB")


def make_scene(out: Path, samples: int) -> list[bpy.types.Object]:
    scene = empty_scene((SCENE_SIZE, SCENE_SIZE), samples)
    camera = add_camera(scene, (0.0, -14.0, 4.0), 12.0, 50.0)
    boxes = answer_boxes()
    fitted = []
    for part in PARTS:
        obj = BUILDERS[part.kind]()
        obj.name = f"{part.label}.{part.index}"
        error = fit(obj, boxes[part.label][part.index], part.depth, camera)
        print(f"{obj.name:10s} fitted to its box within {error * 1000:.1f} / 1000")
        if error > 0.01:
            raise SystemExit(f"{obj.name} could not be fitted to its box (off by {error * 1000:.0f} / 1000)")
        fitted.append(obj)
    render(scene, out / "house_scene.png", palette=True)
    return fitted


def export_house_mesh(parts: list[bpy.types.Object], target: Path) -> None:
    """The house, chimney and door as one closed mesh, like a shape model's output: voxel-remeshed
    into one surface, decimated to about ``MESH_FACES`` triangles, no UVs, no materials."""
    keep = [p for p in parts if p.name.split(".")[0] in ("house", "chimney", "door")]
    for obj in bpy.context.scene.objects:
        obj.select_set(False)
    copies = []
    for obj in keep:
        copy = obj.copy()
        copy.data = obj.data.copy()
        bpy.context.scene.collection.objects.link(copy)
        copies.append(copy)
    mesh = join(copies, "house_mesh")
    bpy.ops.object.transform_apply(location=True, rotation=True, scale=True)
    mesh.data.materials.clear()
    remesh = mesh.modifiers.new("remesh", "REMESH")
    remesh.mode, remesh.voxel_size = "VOXEL", max(mesh.dimensions) / 160
    bpy.ops.object.modifier_apply(modifier=remesh.name)
    decimate = mesh.modifiers.new("decimate", "DECIMATE")
    decimate.use_collapse_triangulate = True
    decimate.ratio = MESH_FACES / (2 * len(mesh.data.polygons))
    bpy.ops.object.modifier_apply(modifier=decimate.name)
    triangulate = mesh.modifiers.new("triangulate", "TRIANGULATE")
    bpy.ops.object.modifier_apply(modifier=triangulate.name)
    while mesh.data.uv_layers:
        mesh.data.uv_layers.remove(mesh.data.uv_layers[0])
    bpy.ops.object.origin_set(type="ORIGIN_GEOMETRY", center="BOUNDS")
    mesh.location = (0.0, 0.0, 0.0)  # centred on the origin and about as large as a shape model's mesh
    mesh.scale = [MESH_HALF_EXTENT * 2 / max(mesh.dimensions)] * 3
    bpy.ops.object.transform_apply(location=False, rotation=False, scale=True)
    bpy.ops.object.select_all(action="DESELECT")
    mesh.select_set(True)
    bpy.ops.export_scene.gltf(filepath=str(target), use_selection=True, export_format="GLB",
                              export_materials="NONE", export_texcoords=False,
                              export_normals=False)  # positions and triangles only, like a shape model's GLB
    print(f"{target}: {len(mesh.data.polygons)} triangles, {target.stat().st_size // 1024} KB")


def make_snowman(out: Path, samples: int) -> None:
    scene = empty_scene((SUBJECT_SIZE, SUBJECT_SIZE), samples)
    add_camera(scene, (0.0, -4.6, 1.25), 3.0, 50.0)
    snow = material("snow", (0.95, 0.96, 0.98), 0.6)
    for radius, z in ((0.5, 0.5), (0.36, 1.2), (0.26, 1.7)):
        bpy.ops.mesh.primitive_uv_sphere_add(segments=48, ring_count=24, radius=radius, location=(0, 0, z))
        painted(bpy.context.object, snow)
        bpy.ops.object.shade_smooth()
    black = material("coal", (0.05, 0.05, 0.05), 0.4)
    cube((0.5, 0.5, 0.04), (0, 0, 1.9), black)
    cube((0.34, 0.34, 0.3), (0, 0, 2.07), black)
    bpy.ops.mesh.primitive_torus_add(major_radius=0.27, minor_radius=0.06, location=(0, 0, 1.48))
    painted(bpy.context.object, material("scarf", (0.8, 0.1, 0.12)))
    bpy.ops.mesh.primitive_cone_add(radius1=0.05, depth=0.3, location=(0, -0.35, 1.7), rotation=(math.pi / 2, 0, 0))
    painted(bpy.context.object, material("carrot", (0.95, 0.45, 0.05)))
    for x in (-0.09, 0.09):
        bpy.ops.mesh.primitive_uv_sphere_add(radius=0.03, location=(x, -0.23, 1.8))
        painted(bpy.context.object, black)
    render(scene, out / "snowman.png", palette=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "examples")
    parser.add_argument("--samples", type=int, default=32, help="Cycles samples a pixel (denoised)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    parts = make_scene(args.out, args.samples)
    export_house_mesh(parts, args.out / "house_mesh.glb")
    make_snowman(args.out, args.samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
