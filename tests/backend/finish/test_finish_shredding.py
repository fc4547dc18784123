"""The finish on the two meshes issue 54 saw shredded as quads, made here and run through the
``retopo`` command as a user runs it: a can whose wall and rim are 1.5 % of its height (a soda can
with its top cut off), and a mug whose body and handle carry two materials (a GLB of two
primitives). Each comes back whole (as many parts as it had, closed as it was); the can's quads,
which join its wall's two sides, are refused with one sentence that names the thin parts and
what count would keep them; the mug keeps both its materials."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh

from img23d_backend.commands import cli
from img23d_backend.finish.canonical import canonical
from img23d_backend.finish.glb import read_glb_json
from img23d_backend.finish.materials import FaceMaterials, Slots, by_material
from img23d_backend.finish.quad_mesh import triangulate_quads
from img23d_backend.finish.retopo import RetopoResult, quad_side
from img23d_backend.finish.thin_parts import MOST_QUADS, thin_parts
from finish_meshes import can, mug_glb

needs_instant_meshes = pytest.mark.skipif(
    not any(os.path.isdir(os.path.join(p, "pynanoinstantmeshes")) for p in sys.path if p),
    reason="pynanoinstantmeshes is not installed in this environment")


def _run(mesh: Path, out: Path, capsys: pytest.CaptureFixture[str], faces: int) -> tuple[Path, str]:
    """The command's own entry point on ``mesh``: (its run folder, what it printed)."""
    code = cli.main(["retopo", str(mesh), "--out", str(out), "--topology", "quads", "--faces", str(faces),
                     "--bake-size", "128", "--device", "cpu"])
    said = capsys.readouterr()
    assert code == 0, said.err
    [run] = out.iterdir()
    return run, said.out


def _whole(path: Path) -> tuple[int, bool]:
    """The finished file's parts and whether it is closed, its copies joined by position as a reader does."""
    mesh = trimesh.load(path, force="mesh", process=False)
    mesh.merge_vertices(merge_tex=True, merge_norm=True)
    parts = mesh.split(only_watertight=False)
    return len(parts), bool(mesh.is_watertight)


@needs_instant_meshes
def test_a_cans_thin_wall_is_said_and_the_can_comes_back_whole(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    source = can()
    assert source.is_watertight and len(source.split(only_watertight=False)) == 1
    source.export(tmp_path / "can.glb")
    run, out = _run(tmp_path / "can.glb", tmp_path / "runs", capsys, faces=300)
    # One sentence that names the cause and what would keep quads, not the check's diagonals or counts.
    [said] = [line for line in out.splitlines() if line.startswith("quads failed: ")]
    assert " of the mesh is thinner than a quad (walls or rims about 1.1 % of its size across" in said, said
    assert "quads would keep them; decimated to " in said and said.endswith(" triangles instead"), said
    assert _whole(run / "can.glb") == (1, True)


@needs_instant_meshes
def test_a_mug_of_two_materials_keeps_both_and_comes_back_whole(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    mug_glb(tmp_path / "mug.glb")
    run, _ = _run(tmp_path / "mug.glb", tmp_path / "runs", capsys, faces=300)
    assert _whole(run / "mug.glb") == (2, True)  # the body and the handle, each closed
    gltf = read_glb_json(run / "mug.glb")
    [mesh] = gltf["meshes"]  # one object in Blender, one material slot per input material
    names = [gltf["materials"][primitive["material"]]["name"] for primitive in mesh["primitives"]]
    assert sorted(names) == ["body", "handle"]
    # Each material on its own part: the handle's faces lie out beyond the body's wall.
    scene = trimesh.load(run / "mug.glb")
    parts = {geometry.visual.material.name: geometry for geometry in scene.geometry.values()}
    assert np.linalg.norm(parts["handle"].triangles_center[:, [0, 2]], axis=1).min() > 0.3
    assert np.linalg.norm(parts["body"].triangles_center[:, [0, 2]], axis=1).max() < 0.45
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert sorted(manifest["records"][0]["finish"]["materials"]) == ["body", "handle"]


def test_quads_put_in_order_of_material_keep_their_triangle_pairs() -> None:
    # A flat strip of four quads, the input's left half one material and its right half another,
    # the quads given right, left, right, left: they come back left ones first, each quad's two
    # triangles still the pair 2k, 2k + 1 that make it.
    points = np.array([[x, y, 0.0] for y in (0.0, 1.0) for x in range(5)], dtype=np.float64)
    quads = np.array([[3, 4, 9, 8], [0, 1, 6, 5], [2, 3, 8, 7], [1, 2, 7, 6]])
    result = RetopoResult(points, triangulate_quads(points, quads), quads, "instant-meshes", None, 8, 4, 0.0)
    halves = FaceMaterials(("left", "right"), points, np.array([[0, 2, 7], [0, 7, 5], [2, 4, 9], [2, 9, 7]]),
                           np.array([0, 0, 1, 1]))
    ordered, slots = by_material(result, halves)
    assert slots == Slots(("left", "right"), (4, 4))
    assert ordered.quads.tolist() == [[0, 1, 6, 5], [1, 2, 7, 6], [3, 4, 9, 8], [2, 3, 8, 7]]
    for k, quad in enumerate(ordered.quads.tolist()):
        assert set(ordered.triangles[2 * k].tolist()) | set(ordered.triangles[2 * k + 1].tolist()) == set(quad)


def test_the_quads_said_to_keep_thin_parts_are_set_by_the_thinnest() -> None:
    """A plate 0.02 thick beside a fin 0.005 thick (a fifth of the surface): the typical thickness
    is the plate's, but a quad count made for it would still fold the fin (a mug's rim after its
    wall: 8,800 quads said, then 28,000 said at 8,800). The count is the one that leaves the fin
    no thinner than a quad."""
    plate = trimesh.creation.box(extents=(1.0, 1.0, 0.02))
    fin = trimesh.creation.box(extents=(1.0, 0.3, 0.005))
    fin.apply_translation((0.0, 1.0, 0.0))
    both = trimesh.util.concatenate([plate, fin])
    thin = thin_parts(both.vertices, both.faces, 0.05, 1000)
    assert abs(thin.thickness - 0.02) < 0.002  # the typical (median) thickness: the plate's
    assert thin.quads_needed >= 1000 * (0.05 / 0.0055) ** 2  # the fin's: about 100,000, not 6,250


def test_a_sheet_is_said_to_need_more_quads_than_the_finish_makes_not_a_count_of_trillions() -> None:
    """A box a micron thick: keeping its two sides apart would take some 10^12 quads; the sentence says no count
    the finish takes would (it said "about 2,000,000,000,000 quads would keep them")."""
    card = trimesh.creation.box(extents=(1.0, 1.0, 1e-6))
    sheet = canonical(card.vertices, card.faces)
    thin = thin_parts(sheet.vertices, sheet.faces, quad_side(sheet, 5000), 5000)
    assert thin.quads_needed > MOST_QUADS and thin.sentence is not None
    assert thin.sentence.endswith(f"no quad count up to the {MOST_QUADS:,} the finish makes would keep them")


def test_thin_parts_are_found_on_the_cans_wall_and_not_on_a_ball() -> None:
    wall = canonical(can().vertices, can().faces)  # the unit frame: distances are shares of the diagonal
    thin = thin_parts(wall.vertices, wall.faces, quad_side(wall, 300), 300)
    assert thin.area_share > 0.9 and abs(thin.thickness - 0.015 / np.sqrt(0.66 ** 2 * 2 + 1.0)) < 0.002
    assert thin.quads_needed > 10_000 and thin.sentence is not None
    ball = trimesh.creation.icosphere(subdivisions=3)
    solid = canonical(ball.vertices, ball.faces)
    assert thin_parts(solid.vertices, solid.faces, quad_side(solid, 300), 300).sentence is None
