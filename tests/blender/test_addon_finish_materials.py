"""A mesh file of two materials finished to quads arrives in Blender as it went in (issue 54): one
object with a slot per material, every quad restored, the body and the handle each one closed
part. The file is the backend's own: ``retopo`` run on the two-material mug as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from blender_support import ADDON_MODULE, BACKEND_PYTHON  # noqa: E402
from mesh_topology import blender_topology  # noqa: E402
from testdata import REPO  # noqa: E402

QUADS = 2000  # the mug's wall is thinner than a quad at a few hundred: its quads would be refused


@pytest.fixture(scope="module")
def finished_mug(tmp_path_factory: pytest.TempPathFactory, backend_env: dict[str, str]) -> Path:
    """The two-material mug (tests/finish_meshes.py) finished to quads by the backend's command."""
    work = tmp_path_factory.mktemp("mug runs")
    made = subprocess.run([BACKEND_PYTHON, "-c", f"import sys; sys.path.insert(0, {str(REPO / 'tests')!r}); "
                           f"from pathlib import Path; from finish_meshes import mug_glb; mug_glb(Path({str(work)!r}) / 'mug.glb')"],
                          env=backend_env, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr[-3000:]
    done = subprocess.run([BACKEND_PYTHON, "-m", "img23d_backend", "retopo", str(work / "mug.glb"), "--topology", "quads",
                           "--faces", str(QUADS), "--bake-size", "128", "--out", str(work / "runs")],
                          env=backend_env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "quads failed" not in done.stdout, done.stdout
    return next((work / "runs").glob("*/mug.glb"))


def test_two_materials_arrive_as_one_object_with_two_slots_and_its_quads(addon, scene, finished_mug) -> None:
    notes: list[str] = []
    obj = sys.modules[f"{ADDON_MODULE}.scene_import"].import_glb(finished_mug, "mug", notes)
    mesh = obj.data
    assert notes == []
    assert sorted(slot.material.name for slot in obj.material_slots) == ["body", "handle"]
    sizes = [len(polygon.vertices) for polygon in mesh.polygons]
    assert sizes == [4] * len(sizes) and abs(len(sizes) - QUADS) <= 0.15 * QUADS  # every pair joined
    assert blender_topology(mesh)[:3] == (2, 0, 0)  # the body and the handle, each closed
    slots = {slot.material.name: index for index, slot in enumerate(obj.material_slots)}
    reach = {name: [] for name in slots}
    for polygon in mesh.polygons:  # Blender's axes: the mug stands along Z, the handle out along +X
        name = obj.material_slots[polygon.material_index].material.name
        reach[name].append(float(np.hypot(polygon.center.x, polygon.center.y)))
    assert min(reach["handle"]) > 0.3 and max(reach["body"]) < 0.45
