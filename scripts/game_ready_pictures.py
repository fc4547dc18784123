"""The Game-ready page's before/after picture of the bundled example mesh, made by the project's own code.

    .venv/bin/python scripts/game_ready_pictures.py [--out docs/images]

``examples/house_mesh.glb`` (40,000 triangles, as a shape model hands it over) is finished the
way ``python -m img23d_backend retopo examples/house_mesh.glb --topology quads --faces 5000`` finishes
it (``finish.retopo.retopologize``, ``finish.bake`` at 1024 px, ``finish.glb``), then rendered in
Cycles from one camera, three ways side by side:

  1. as generated: flat shaded with its edges drawn (the triangle soup),
  2. the quads, flat shaded with their edges drawn (built in Blender from the quads, as the add-on
     restores them),
  3. the finished GLB as Blender's glTF importer reads it: smooth, with its baked normal map.

Written as ``game-ready-before-after.png`` (a palette PNG, well under 300 KB). Called by
``scripts/guide_pictures.py``; runs alone too.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import trimesh

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from img23d_backend.finish.bake import BakeSettings, bake  # noqa: E402
from img23d_backend.finish.glb import write_finished_glb  # noqa: E402
from img23d_backend.gltf.made_by import MadeBy  # noqa: E402
from img23d_backend.finish.retopo import RetopoSettings, retopologize  # noqa: E402
from render_panels import framing, picture_main, render, save, scene, side_by_side  # noqa: E402  (scripts/, beside this one)

MESH = ROOT / "examples" / "house_mesh.glb"
FACES = 5000


def _wired(obj, thickness: float) -> None:
    """Draw the polygons' edges: Blender's Wireframe modifier (which follows quads, not the
    render's triangles), kept beside the faces, in a dark second material."""
    import bpy

    clay = bpy.data.materials.new("clay")
    clay.diffuse_color = (0.8, 0.8, 0.8, 1.0)
    wire = bpy.data.materials.new("wire")
    wire.diffuse_color = (0.03, 0.03, 0.05, 1.0)
    for material in (clay, wire):
        material.use_nodes = True
        material.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = material.diffuse_color
    obj.data.materials.append(clay)
    obj.data.materials.append(wire)
    modifier = obj.modifiers.new("edges", "WIREFRAME")
    modifier.thickness, modifier.use_replace, modifier.material_offset = thickness, False, 1
    modifier.use_even_offset = False


def _mesh_object(vertices: np.ndarray, polygons: np.ndarray, name: str):
    import bpy

    mesh = bpy.data.meshes.new(name)
    # glTF's (x, y, z), Y up, as Blender's (x, -z, y), Z up: as the importer places the GLB
    mesh.from_pydata(np.stack([vertices[:, 0], -vertices[:, 2], vertices[:, 1]], axis=1).tolist(), [],
                     np.asarray(polygons).tolist())
    mesh.update()
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def make(out: Path) -> Path:
    import bpy

    source = trimesh.load(MESH, force="mesh")
    vertices, faces = np.asarray(source.vertices, dtype=np.float64), np.asarray(source.faces)
    result = retopologize(vertices, faces, RetopoSettings("quads", FACES))
    baked = bake(trimesh.Trimesh(vertices, faces, process=False), result.vertices, result.triangles,
                 BakeSettings(size=1024))
    target, distance, size = framing(vertices)
    panels = []
    with tempfile.TemporaryDirectory(prefix="img23d-game-ready-pictures-") as scratch:
        work = Path(scratch)
        quads = result.quads if result.quads is not None else result.triangles
        for name, shape in (("before", (vertices, faces)), ("quads", (result.vertices, quads))):
            stage = scene()
            obj = _mesh_object(np.asarray(shape[0], dtype=np.float64), shape[1], name)
            _wired(obj, thickness=size * 0.0012)
            render(stage, target, distance, work / f"{name}.png")
            panels.append(work / f"{name}.png")
        glb = work / "finished.glb"
        write_finished_glb(glb, baked, 0 if result.quads is None else len(result.quads), MadeBy())
        stage = scene()
        bpy.ops.import_scene.gltf(filepath=str(glb))
        render(stage, target, distance, work / "after.png")
        panels.append(work / "after.png")
        made = "quads" if result.quads is not None else "triangles (the quads' fallback)"
        captions = (f"as generated: {len(faces):,} triangles", f"finished: {result.faces_out:,} {made}",
                    "with its baked normal map (1024 px)")
        picture = side_by_side(panels, captions)
    return save(picture, out, "game-ready-before-after.png")


def main(argv: list[str] | None = None) -> int:
    return picture_main(__doc__, make, argv)


if __name__ == "__main__":
    sys.exit(main())
