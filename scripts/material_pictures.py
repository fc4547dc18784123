"""The Textures page's before/after picture of PBR materials, made by the project's own code.

    .venv/bin/python scripts/material_pictures.py [--out docs/images]

``examples/house_mesh.glb`` is re-textured from ``examples/house_scene.png`` the way
``python -m img23d_backend retexture`` does it (``Session.retexture``: the paint model, then the
material model on the painted views, both maps baked onto the mesh's UVs, the GLB written with
``baseColorTexture`` and ``metallicRoughnessTexture``), with the tiny offline models, then Blender's
glTF importer reads that GLB and Cycles renders it from one camera, three ways side by side:

  1. before: the colour alone (the material's Roughness and Metallic left at the importer's
     defaults for a colour-only GLB: rough, no metal), what img23d made before the material step,
  2. the metallic-roughness map itself on the surface (roughness in green, metallic in blue),
  3. after: the GLB as imported, the map wired into the Principled BSDF by the importer.

The tiny models' weights are random, so the colour and the map are noise: the picture shows where
each map goes and how Blender wires it, not what the real models estimate. Written as
``textures-before-after.png`` (a palette PNG). Called by ``scripts/guide_pictures.py``; runs alone too.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import trimesh

ROOT = Path(__file__).resolve().parents[1]
for source in ("backend", "protocol"):
    sys.path.insert(0, str(ROOT / source))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from img23d_backend.session import Models, Session  # noqa: E402
from img23d_protocol import JobOptions  # noqa: E402
from render_panels import framing, picture_main, render, save, scene, side_by_side  # noqa: E402  (scripts/, beside this one)

MESH = ROOT / "examples" / "house_mesh.glb"
PICTURE = ROOT / "examples" / "house_scene.png"
# Small and quick: the tiny models paint noise at any size.
OPTIONS = {"texture_size": 512, "render_size": 512, "paint_steps": 2, "delight_steps": 2, "face_budget": 0}
COLOURS = 160     # the maps are noise: more colours than the flat-grey Game-ready sheet needs


def painted_glb(runs: Path) -> Path:
    """The example mesh re-textured with both maps, through the command line's own session."""
    with Session(runs, Models(models="tiny", device="cpu")) as session:
        result = session.retexture(MESH, PICTURE, JobOptions(texture=True, materials=True, **OPTIONS), name="house")
    if result.metallic_roughness is None:
        raise SystemExit(f"the material step was skipped: {result.materials_skipped}")
    return result.mesh


def _principled(obj: Any) -> Any:
    return next(n for n in obj.active_material.node_tree.nodes if n.type == "BSDF_PRINCIPLED")


def _colour_only(obj: Any) -> None:
    """Unwire the map: Roughness and Metallic back to a colour-only GLB's (roughness 1, metallic 0)."""
    shader = _principled(obj)
    links = obj.active_material.node_tree.links
    for name, value in (("Roughness", 1.0), ("Metallic", 0.0)):
        for link in list(shader.inputs[name].links):
            links.remove(link)
        shader.inputs[name].default_value = value


def _map_as_colour(obj: Any) -> None:
    """Show the metallic-roughness image itself as the surface's colour (matte, no metal)."""
    shader = _principled(obj)
    tree = obj.active_material.node_tree
    separate = shader.inputs["Roughness"].links[0].from_node
    image_node = separate.inputs[0].links[0].from_node
    _colour_only(obj)
    for link in list(shader.inputs["Base Color"].links):
        tree.links.remove(link)
    tree.links.new(image_node.outputs["Color"], shader.inputs["Base Color"])


def make(out: Path) -> Path:
    import bpy

    with tempfile.TemporaryDirectory(prefix="img23d-material-pictures-") as scratch:
        work = Path(scratch)
        glb = painted_glb(work / "runs")
        source = trimesh.load(glb, force="mesh")
        target, distance, _ = framing(np.asarray(source.vertices))
        panels = []
        for name, change in (("before", _colour_only), ("map", _map_as_colour), ("after", None)):
            stage = scene()
            bpy.ops.import_scene.gltf(filepath=str(glb))
            obj = next(o for o in bpy.context.selected_objects if o.type == "MESH")
            if change is not None:
                change(obj)
            render(stage, target, distance, work / f"{name}.png")
            panels.append(work / f"{name}.png")
        captions = ("before: the colour alone", "the metallic-roughness map (G, B)",
                    "after: colour, roughness, metallic")
        picture = side_by_side(panels, captions, COLOURS)
    return save(picture, out, "textures-before-after.png")


def main(argv: list[str] | None = None) -> int:
    return picture_main(__doc__, make, argv)


if __name__ == "__main__":
    sys.exit(main())
