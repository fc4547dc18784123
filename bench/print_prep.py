"""The print's preparation (issue 90) measured on this CPU: seconds per object, and the defects left after repair.

Each mesh is written as a GLB and printed as a user prints it, through ``printing.request.make_print`` (the
``print`` command's own call: read, repair, scale to 80 mm, flat base, the walls measured, the 3MF and STL
written and read back); the defects are counted on the input and again on the printed STL as trimesh reads it,
by counters of the bench's own over trimesh's edges (the crossing pairs by ``printing.intersections``, which the
print's checks also use):

  boundary edges      edges of one face (holes)
  non-manifold edges  edges of three faces or more
  miswound edges      edges whose two faces run the same way along them (a flipped patch's rim)
  crossing pairs      pairs of triangles that pass through each other (``printing.intersections``)
  inside out          a closed mesh whose volume is negative

The set: the real Hunyuan3D-2 output (``../shared/data/hunyuan3d_shape_output.glb``; skipped, saying so, where
absent: its defective copies are then made from the AI-like mug), as it is and with defects built here (three
holes; three flipped patches; fused with a shifted copy of itself; thin fins glued on), the AI-like mug and lamp
(``scripts/ai_like_meshes.py``: noise, a wire handle, a sheet-like shade, floaters), an open sheet (no volume:
its refusal is the expected outcome) and, with ``--large``, the real mesh subdivided to 640,000 triangles (the
time per triangle behind ``counts.MAX_PRINT_TRIANGLES``). ``--hollow`` also prints the real mesh hollowed.

    .venv/bin/python bench/print_prep.py [--large] [--hollow] [--json bench/results/print-prep-cpu.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import trimesh

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "backend"))
sys.path.insert(0, str(REPO / "protocol"))
sys.path.insert(0, str(REPO / "scripts"))

import ai_like_meshes  # noqa: E402
from img23d_backend.printing.intersections import crossing_pairs  # noqa: E402
from img23d_backend.printing.request import make_print  # noqa: E402
from img23d_protocol import PrintRequest  # noqa: E402
from img23d_protocol import ProtocolError  # noqa: E402

REAL_MESH = REPO.parent / "shared" / "data" / "hunyuan3d_shape_output.glb"
HEIGHT_MM = 80.0


def defects(mesh: trimesh.Trimesh) -> dict[str, int]:
    """The defects of ``mesh`` (its vertices merged where they coincide), counted independently of the repair."""
    mesh = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    mesh.merge_vertices()
    _, counts = np.unique(np.sort(mesh.edges, axis=1), axis=0, return_counts=True)
    _, directed = np.unique(mesh.edges, axis=0, return_counts=True)  # one way along an edge: two faces disagree
    closed = bool((counts == 2).all())
    return {"boundary_edges": int((counts == 1).sum()), "non_manifold_edges": int((counts > 2).sum()),
            "miswound_edges": int((directed > 1).sum()),
            "crossing_pairs": int(len(crossing_pairs(mesh.vertices, mesh.faces))),
            "inside_out": int(closed and mesh.volume < 0)}


def _patches(mesh: trimesh.Trimesh, count: int, share: float, seed: int) -> list[np.ndarray]:
    """``count`` round patches of faces, each about ``share`` of the mesh's faces, around random face centres."""
    rng = np.random.default_rng(seed)
    centres = mesh.triangles_center
    found = []
    for face in rng.choice(len(mesh.faces), count, replace=False):
        distance = np.linalg.norm(centres - centres[face], axis=1)
        found.append(np.argsort(distance)[:max(int(share * len(mesh.faces)), 3)])
    return found


def holed(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    keep = np.ones(len(mesh.faces), dtype=bool)
    for patch in _patches(mesh, 3, 0.004, 1):
        keep[patch] = False
    return trimesh.Trimesh(mesh.vertices, mesh.faces[keep], process=False)


def flipped(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    faces = mesh.faces.copy()
    for patch in _patches(mesh, 3, 0.01, 2):
        faces[patch] = faces[patch][:, ::-1]
    return trimesh.Trimesh(mesh.vertices, faces, process=False)


def fused_pair(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """Two copies of the object fused into one mesh, the second shifted by 40 % of its width and turned a little:
    as a generator makes two touching objects, one surface through the other."""
    other = mesh.copy()
    other.apply_transform(trimesh.transformations.rotation_matrix(0.3, (0, 1, 0)))
    other.apply_translation((0.4 * mesh.extents[0], 0.0, 0.013 * mesh.extents[2]))
    return trimesh.util.concatenate([mesh, other])


def thin_fins(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """Three fins glued on, each 0.4 % of the object's height thick (0.3 mm at 80 mm), reaching out of it."""
    size = float(mesh.extents.max())
    fins = []
    for k, (x, z) in enumerate(((1, 0), (-1, 0), (0, 1))):
        fin = trimesh.creation.box(extents=(0.35 * size, 0.004 * size, 0.25 * size) if x else
                                   (0.004 * size, 0.25 * size, 0.35 * size))
        fin.apply_translation(mesh.centroid + np.array([x * 0.45 * mesh.extents[0], 0.05 * k * size,
                                                        z * 0.45 * mesh.extents[2]]))
        fins.append(fin)
    return trimesh.util.concatenate([mesh, *fins])


def open_sheet() -> trimesh.Trimesh:
    disc = trimesh.creation.annulus(r_min=0.0001, r_max=0.5, height=0.01)
    top = disc.faces[disc.face_normals[:, 2] > 0.9]
    return trimesh.Trimesh(disc.vertices, top, process=False)


def mesh_set(large: bool) -> tuple[list[tuple[str, trimesh.Trimesh, bool]], list[str]]:
    """(name, mesh, encloses a volume) for each mesh; and the sentences of what was left out."""
    said = []
    if REAL_MESH.is_file():
        base_name, base = "hunyuan3d", trimesh.load(REAL_MESH, force="mesh", process=False)
    else:
        said.append(f"the real Hunyuan3D-2 mesh is not at {REAL_MESH}: its defective copies are made from the AI-like "
                    "mug instead, and it is not measured itself")
        base_name, base = "mug", ai_like_meshes.make("ai-mug")
    meshes = [(base_name, base, True)] if base_name == "hunyuan3d" else []
    meshes += [(f"{base_name}-holes", holed(base), True), (f"{base_name}-flipped", flipped(base), True),
               (f"{base_name}-fused-pair", fused_pair(base), True), (f"{base_name}-thin-fins", thin_fins(base), True),
               ("ai-mug", ai_like_meshes.make("ai-mug"), True), ("ai-lamp", ai_like_meshes.make("ai-lamp"), True),
               ("open-sheet", open_sheet(), False)]
    if large:
        if base_name == "hunyuan3d":
            vertices, faces = trimesh.remesh.subdivide(base.vertices, base.faces)
            vertices, faces = trimesh.remesh.subdivide(vertices, faces)
            meshes.append(("hunyuan3d-640k", trimesh.Trimesh(vertices, faces, process=False), True))
        else:
            said.append("--large needs the real mesh: left out")
    return meshes, said


def measure(name: str, mesh: trimesh.Trimesh, encloses: bool, work: Path, hollow: bool = False) -> dict:
    source = work / f"{name}.glb"
    mesh.export(source)
    row: dict = {"mesh": name, "triangles": int(len(mesh.faces)), "encloses_volume": encloses, "hollow": hollow,
                 "defects_in": defects(mesh)}
    started = time.perf_counter()
    try:
        result = make_print(PrintRequest(source=str(source), height_mm=HEIGHT_MM, hollow=hollow), work / "runs")
    except ProtocolError as exc:
        row.update(seconds=round(time.perf_counter() - started, 2), printed=False, said=exc.message)
        return row
    row["seconds"] = round(time.perf_counter() - started, 2)
    item = result.record.objects[0]
    printed = trimesh.load(result.folder / str(item.stl), file_type="stl", force="mesh")
    row.update(printed=item.printed, checks_passed=result.record.all_passed, repairs=item.repairs,
               rebuilt_cell_mm=item.rebuilt_cell_mm, size_mm=item.size_mm, volume_mm3=item.volume_mm3,
               thinnest_wall_mm=item.thinnest_wall_mm, thin_share=item.thin_share, triangles_out=len(printed.faces),
               defects_out=defects(printed), said=result.said)
    if item.hollow is not None:
        row["drained"] = item.hollow.drained
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", action="store_true", help="also the real mesh subdivided to 640k triangles")
    parser.add_argument("--hollow", action="store_true", help="also the real mesh hollowed (2 mm wall, 2 holes)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    meshes, said = mesh_set(args.large)
    for sentence in said:
        print(sentence)
    rows = []
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="print-prep-") as folder:
        for name, mesh, encloses in meshes:
            rows.append(measure(name, mesh, encloses, Path(folder)))
            print(json.dumps(rows[-1]))
        if args.hollow and REAL_MESH.is_file():
            rows.append(measure("hunyuan3d", meshes[0][1], True, Path(folder), hollow=True))
            print(json.dumps(rows[-1]))
    left = [row["mesh"] for row in rows if row["encloses_volume"] and (not row.get("printed") or
                                                                         any(row["defects_out"].values()))]
    summary = {"goal": "0 defects after repair on every mesh that encloses a volume",
               "met": not left, "not_met_on": left}
    print(json.dumps(summary))
    if args.json:
        data = {"command": "bench/print_prep.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                "machine": {"processor": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                            "python": platform.python_version(),
                            "load_average": {"start": load_start, "end": os.getloadavg()[0]}},
                "height_mm": HEIGHT_MM, "left_out": said, "results": rows, "summary": summary}
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return 0 if not left else 1


if __name__ == "__main__":
    raise SystemExit(main())
