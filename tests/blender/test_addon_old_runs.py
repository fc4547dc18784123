"""Import Run and Re-layout in real Blender on run folders other versions of img23d wrote: one from the
first release comes in by its boxes and lays out again, one from a newer img23d is refused in one
sentence. No backend: both read the folder alone. The manifests are tests/wire/manifests/."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")

from testdata import MESH  # noqa: E402

MANIFESTS = Path(__file__).parents[1] / "wire" / "manifests"


def _run(tmp_path: Path, name: str, **changes: object) -> Path:
    data = {**json.loads((MANIFESTS / name).read_text(encoding="utf-8")), **changes}
    run = tmp_path / "20261122-100411-house_scene"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    for record in data["records"]:
        shutil.copy(MESH, run / record["mesh"])
    return run


@pytest.mark.smoke  # also run on Blender 4.2 LTS (scripts/test.sh)
def test_a_first_release_run_imports_and_lays_out_again(addon, scene, tmp_path: Path) -> None:
    run = _run(tmp_path, "first-release-bc1fe14.json")
    assert bpy.ops.img23d.import_run(filepath=str(run)) == {"FINISHED"}
    house, chimney = bpy.data.objects["house"], bpy.data.objects["chimney"]
    assert house["img23d_run"] == str(run) and chimney["img23d_target"] == "chimney"
    where = house.location.copy()
    scene.img23d.fov = 0.5  # radians: a narrower view stands the objects farther away
    bpy.context.view_layer.objects.active = house
    assert bpy.ops.img23d.relayout() == {"FINISHED"}
    assert (house.location - where).length > 1e-3


def test_a_newer_img23d_run_is_refused_in_one_sentence(addon, scene, tmp_path: Path) -> None:
    run = _run(tmp_path, "main-f49deb6-generate.json", format=2, backend_version="9.0.0")
    with pytest.raises(RuntimeError, match="this run was written by img23d 9.0.0 in run format 2, which this "
                                           r"img23d \(run format 1\) cannot read: update the add-on and the backend"):
        bpy.ops.img23d.import_run(filepath=str(run))
    assert "house" not in bpy.data.objects
