"""The Print page's picture of the bundled example mesh made printable, by the project's own code.

    .venv/bin/python scripts/print_pictures.py [--out docs/images]

``examples/house_mesh.glb`` (40,000 triangles, as a shape model hands it over) is printed twice the way
``python -m img23d_backend print examples/house_mesh.glb --height-mm 80`` prints it (``printing.request.make_print``,
the code the add-on's Print Selected runs too): solid, and ``--hollow`` with a 2 mm wall and two drain holes.
Each plate is read back from its 3MF by lib3mf, in millimetres, as a slicer reads it (``printing.threemf``),
then rendered in Cycles from one camera, three ways side by side:

  1. the mesh as generated (Blender's glTF importer),
  2. the solid print as its 3MF holds it: watertight, on a flat base, 80 mm tall, standing on a print bed,
  3. the hollow print cut open down its middle: the 2 mm wall and the drain holes through the base.

Written as ``print-plate.png`` (a palette PNG, well under 300 KB). Called by ``scripts/guide_pictures.py``;
runs alone too.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from img23d_backend.printing.request import make_print  # noqa: E402
from img23d_backend.printing.threemf import read_3mf  # noqa: E402
from img23d_protocol import PrintRequest  # noqa: E402
from render_panels import framing, picture_main, render, save, scene, side_by_side  # noqa: E402  (scripts/, beside this one)

MESH = ROOT / "examples" / "house_mesh.glb"
HEIGHT_MM, WALL_MM = 80.0, 2.0


def _printed(request: PrintRequest, work: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """The print of the example mesh, as lib3mf reads its 3MF back: vertices in metres (the plate's
    millimetres / 1000, so Blender's sun and camera see it at its printed size), faces, and its record."""
    made = make_print(request, work / "runs")
    record = made.record.objects[0]
    unit, [read] = read_3mf(made.folder / made.record.threemf)
    assert unit == "millimeter" and record.printed, made.said
    return np.asarray(read.vertices, dtype=np.float64) / 1000.0, np.asarray(read.faces), record.__dict__


def _object(name: str, vertices: np.ndarray, faces: np.ndarray, colour: tuple[float, float, float]):
    import bpy

    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(vertices.tolist(), [], faces.tolist())
    mesh.update()
    material = bpy.data.materials.new(name)
    if material.node_tree is None:  # Blender 4.x; from 5.0 a new material has its nodes (use_nodes deprecated)
        material.use_nodes = True
    material.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = (*colour, 1.0)
    mesh.materials.append(material)
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def _bed(vertices: np.ndarray) -> None:
    """A print bed under the print: a dark plate a little larger than its footprint, at Z = 0."""
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    margin = 0.25 * float(np.max(high[:2] - low[:2]))
    x0, y0, x1, y1 = low[0] - margin, low[1] - margin, high[0] + margin, high[1] + margin
    corners = np.array([[x0, y0, -0.0005], [x1, y0, -0.0005], [x1, y1, -0.0005], [x0, y1, -0.0005]])
    _object("bed", corners, np.array([[0, 1, 2, 3]]), (0.12, 0.12, 0.14))


def _cut_open(obj) -> None:
    """The front half cut away (everything in front of the plane through its middle, facing the camera), the
    cut left open, so the hollow's wall and the drain holes show."""
    import bmesh

    middle = (np.array(obj.bound_box).min(axis=0) + np.array(obj.bound_box).max(axis=0)) / 2
    mesh = bmesh.new()
    mesh.from_mesh(obj.data)
    # The camera looks from -55 degrees of azimuth (render_panels.render): cut along the plane facing it.
    bmesh.ops.bisect_plane(mesh, geom=mesh.verts[:] + mesh.edges[:] + mesh.faces[:], plane_co=middle.tolist(),
                           plane_no=(0.57, -0.82, 0.0), clear_outer=True)
    mesh.to_mesh(obj.data)
    mesh.free()
    obj.data.update()


def _frame(vertices: np.ndarray) -> tuple[tuple[float, float, float], float]:
    """``render_panels.framing`` for Blender's Z-up vertices (it takes glTF's Y up)."""
    target, distance, _ = framing(np.stack([vertices[:, 0], vertices[:, 2], -vertices[:, 1]], axis=1))
    return target, distance


def make(out: Path) -> Path:
    import bpy

    with tempfile.TemporaryDirectory(prefix="img23d-print-pictures-") as scratch:
        work = Path(scratch)
        solid, solid_faces, solid_record = _printed(PrintRequest(source=str(MESH), height_mm=HEIGHT_MM), work)
        hollow, hollow_faces, hollow_record = _printed(PrintRequest(source=str(MESH), height_mm=HEIGHT_MM, hollow=True,
                                                                    wall_mm=WALL_MM), work)
        panels = []
        stage = scene()
        bpy.ops.import_scene.gltf(filepath=str(MESH))
        generated = np.array([list(v.co) for obj in bpy.context.selected_objects if obj.type == "MESH"
                              for v in obj.data.vertices])
        render(stage, *_frame(generated), work / "generated.png")
        panels.append(work / "generated.png")
        for name, vertices, faces, cut in (("solid", solid, solid_faces, False),
                                           ("hollow", hollow, hollow_faces, True)):
            stage = scene()
            printed = _object(name, vertices, faces, (0.85, 0.55, 0.25))
            if cut:
                _cut_open(printed)
            _bed(vertices)
            render(stage, *_frame(vertices), work / f"{name}.png")
            panels.append(work / f"{name}.png")
        size = solid_record["size_mm"]
        holes = len(hollow_record["hollow"].holes) if hollow_record["hollow"] else 0
        captions = ("as generated: 40,000 triangles",
                    f"printed solid: {size[0]:.0f} x {size[1]:.0f} x {size[2]:.0f} mm, watertight",
                    f"hollow, cut open: {WALL_MM:g} mm wall, {holes} drain holes in its base")
        picture = side_by_side(panels, captions)
    return save(picture, out, "print-plate.png")


def main(argv: list[str] | None = None) -> int:
    return picture_main(__doc__, make, argv)


if __name__ == "__main__":
    sys.exit(main())
