"""Print Selected and Print Run in real Blender (issue 90): a Generate run's objects, one of them scaled and moved
in Blender, print as one plate into their run's folder, each as large as it stands in the scene beside the
others, whatever the scene's units say; what goes to the backend is the same under every unit setting; a bad
input is one sentence. The run is written here (boxes, no model); the print is the real backend's."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ElementTree
import zipfile
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from blender_support import StandInLayout, _module  # noqa: E402
from finished_glb import write_glb  # noqa: E402

MANIFESTS = Path(__file__).parents[1] / "wire" / "manifests"
CORE = "{http://schemas.microsoft.com/3dmanufacturing/core/2015/02}"
UNITS = [("METRIC", 1.0), ("IMPERIAL", 1.0), ("METRIC", 0.001), ("NONE", 1.0)]


def _box_glb(path: Path, extents: tuple[float, float, float]) -> Path:
    """A closed box as a GLB (glTF's Y up), its bottom at the origin."""
    corners = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (0.0, 1.0) for z in (-0.5, 0.5)]) * extents
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    triangles = [(a, b, c) for a, b, c, d in quads] + [(a, c, d) for a, b, c, d in quads]
    return write_glb(path, corners, np.array(triangles), np.zeros((8, 2)), None)


def _run(tmp_path: Path) -> Path:
    """A first release's Generate run of a house and a chimney, their meshes two boxes."""
    run = tmp_path / "20261122-100411-house_scene"
    run.mkdir()
    shutil.copy(MANIFESTS / "first-release-bc1fe14.json", run / "manifest.json")
    _box_glb(run / "house.glb", (1.2, 1.08, 1.2))
    _box_glb(run / "chimney.glb", (0.3, 1.19, 0.3))
    return run


def _height(obj) -> float:
    """The object's height as it stands in the scene (its world-space bounds), in Blender units."""
    zs = [(obj.matrix_world @ vertex.co).z for vertex in obj.data.vertices]
    return max(zs) - min(zs)


def _units(scene, system: str, scale: float) -> None:
    scene.unit_settings.system, scene.unit_settings.scale_length = system, scale


def _plate(path: Path) -> tuple[str, dict[str, float]]:
    """The 3MF's unit and each object's height in it, read as a slicer reads it (the standard library)."""
    with zipfile.ZipFile(path) as archive:
        model = ElementTree.fromstring(archive.read("3D/3dmodel.model"))
    heights = {item.get("name"): float(np.ptp([float(v.get("z")) for v in item.iter(CORE + "vertex")]))
               for item in model.iter(CORE + "object")}
    return model.get("unit", "millimeter"), heights


@pytest.mark.smoke  # also run on Blender 4.2 LTS and 5.0 (scripts/test.sh)
def test_print_run_puts_the_plate_in_the_run_as_large_as_the_objects_stand_whatever_the_units(
        addon, scene, tmp_path: Path) -> None:
    run = _run(tmp_path)
    assert bpy.ops.img23d.import_run(filepath=str(run)) == {"FINISHED"}
    house, chimney = bpy.data.objects["house"], bpy.data.objects["chimney"]
    chimney.scale *= 1.5  # the artist made it larger and moved it onto the roof: it prints so
    chimney.location.z += 0.7
    bpy.context.view_layer.update()
    _units(scene, "IMPERIAL", 0.001)  # inches, and a unit scale of a thousandth: neither reaches the print
    scene.img23d.printing.height_mm, scene.img23d.printing.object = 80.0, "house"
    scene.img23d.printing.base_mm = 0.0
    bpy.context.view_layer.objects.active = house
    try:
        assert bpy.ops.img23d.print_selected(whole_run=True) == {"FINISHED"}
    finally:
        _units(scene, "METRIC", 1.0)
    record = json.loads((run / "print" / "print.json").read_text(encoding="utf-8"))
    assert [item["name"] for item in record["objects"]] == ["house", "chimney"] and record["layout"] == "scene"
    assert all(item["printed"] and item["watertight"] for item in record["objects"])
    unit, heights = _plate(run / "print" / "plate.3mf")
    assert unit == "millimeter"
    assert heights["house"] == pytest.approx(80.0, abs=0.1)
    assert heights["chimney"] == pytest.approx(80.0 * _height(chimney) / _height(house), abs=0.1)
    assert sorted(p.name for p in run.iterdir()) == ["chimney.glb", "house.glb", "manifest.json", "print"]


def test_what_goes_to_the_backend_is_the_same_under_every_unit_setting(addon, scene, tmp_path: Path) -> None:
    print_meshes = _module(addon, "print_meshes")
    bpy.ops.mesh.primitive_cube_add(size=2.0, location=(1.0, 2.0, 3.0), rotation=(0.3, 0.0, 0.5))
    cube = bpy.context.active_object
    cube.scale = (1.0, -2.0, 0.5)  # mirrored: its faces are wound back so that they still face outward
    bpy.context.view_layer.update()
    sent = []
    for system, scale in UNITS:
        _units(scene, system, scale)
        try:
            path = tmp_path / f"{system}-{scale}" / "cube.npz"
            print_meshes.write_world_mesh(bpy.context, cube, path)
            values = print_meshes.settings_of(scene.img23d.printing)
        finally:
            _units(scene, "METRIC", 1.0)
        with np.load(path, allow_pickle=False) as mesh:
            sent.append((mesh["positions"], mesh["triangles"], values))
    positions, triangles, values = sent[0]
    assert values["height_mm"] == 80.0
    for other in sent[1:]:
        assert np.array_equal(other[0], positions) and np.array_equal(other[1], triangles) and other[2] == values
    # World space: moved, turned and scaled as the scene shows it; outward although mirrored.
    world = np.array([list(cube.matrix_world @ v.co) for v in cube.data.vertices])
    assert np.allclose(np.sort(positions, axis=0), np.sort(world, axis=0), atol=1e-5)
    corners = positions[triangles]
    volume = np.einsum("ij,ij->i", corners[:, 0], np.cross(corners[:, 1], corners[:, 2])).sum() / 6
    assert volume == pytest.approx(8.0, rel=1e-4)  # 2 x 4 x 1 and positive: outward


def test_each_bad_input_is_one_sentence_and_nothing_is_sent(addon, scene) -> None:
    printing = scene.img23d.printing
    for obj in bpy.context.view_layer.objects:
        obj.select_set(False)
    with pytest.raises(RuntimeError, match="Nothing is selected: select the mesh objects to print"):
        bpy.ops.img23d.print_selected()
    bpy.ops.mesh.primitive_cube_add(size=2.0)
    cube = bpy.context.active_object
    printing.height_mm = 0.0
    with pytest.raises(RuntimeError, match=r"Height \(mm\) 0 is out of range: the printed height must be from 1 "
                                           "to 1000 mm"):
        bpy.ops.img23d.print_selected()
    printing.height_mm, printing.hollow, printing.wall_mm = 3.0, True, 2.0
    with pytest.raises(RuntimeError, match="a 2 mm wall is thicker than half the 3 mm object"):
        bpy.ops.img23d.print_selected()
    printing.height_mm, printing.hollow, printing.object = 80.0, False, "Suzanne"
    with pytest.raises(RuntimeError, match=f"Of names 'Suzanne', which is not among the objects to print "
                                           rf"\({cube.name}\)"):
        bpy.ops.img23d.print_selected()
    printing.object = ""
    cube.select_set(False)
    bpy.context.view_layer.objects.active = cube
    with pytest.raises(RuntimeError, match="Print Run prints the Generate run of the active object"):
        bpy.ops.img23d.print_selected(whole_run=True)
    cube.select_set(True)
    prefs = bpy.context.preferences.addons[addon.module.__name__].preferences
    prefs.backend, prefs.ssh_host = "SSH", "printer-host"
    try:
        with pytest.raises(RuntimeError, match="Print needs the backend on this computer: the backend in use runs on "
                                               "printer-host"):
            bpy.ops.img23d.print_selected()
    finally:
        prefs.backend, prefs.ssh_host = "LOCAL", ""
    assert _module(addon, "runtime").active_runner is None


def test_the_print_panel_offers_the_height_whose_it_is_and_both_prints(addon, scene) -> None:
    log: list[tuple] = []
    panel = type("StandInPanel", (), {"layout": StandInLayout(log)})()
    _module(addon, "panels.printing").IMG23D_PT_print.draw(panel, bpy.context)
    assert [args[1] for name, args, _ in log if name in ("prop", "prop_search")] == [
        "height_mm", "object", "hollow", "wall_mm", "drain_holes", "base_mm"]
    assert [kwargs["text"] for name, args, kwargs in log if name == "operator"] == ["Print Selected", "Print Run"]
    assert _module(addon, "guide_pages").PAGES["IMG23D_PT_print"].page == "print"
