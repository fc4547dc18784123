"""Run folders from other versions of img23d, as the backend's readers meet them: one from the first
release still lays out again (by its boxes: it kept no depth), and one from a newer img23d is refused
in one sentence by Re-layout (the command line), Regenerate and the recovery pass leaves it untouched.

The manifests are tests/wire/manifests/ (their docstring says where each shape comes from).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import trimesh

from cli_inprocess import RunCli
from img23d_backend.jobs.kinds.regenerate import SourceRun
from img23d_backend.layout.relayout import relayout
from img23d_backend.runs.folders import recover_interrupted
from img23d_protocol import ErrorCode, ProtocolError

MANIFESTS = Path(__file__).parents[2] / "wire" / "manifests"


def _run_folder(tmp_path: Path, manifest: str, **changes: object) -> Path:
    """A run folder holding ``manifest`` (changed by ``changes``) and a small mesh for each done object."""
    data = json.loads((MANIFESTS / manifest).read_text(encoding="utf-8"))
    data.update(changes)
    run = tmp_path / "runs" / "20261122-100411-house_scene"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    for record in data["records"]:
        if record.get("mesh"):
            trimesh.creation.box(extents=(1.0, 0.5, 2.0)).export(run / record["mesh"])
    return run


def test_a_first_release_run_lays_out_again_by_its_boxes(tmp_path: Path) -> None:
    run = _run_folder(tmp_path, "first-release-bc1fe14.json")
    before = (run / "manifest.json").read_bytes()
    result = relayout(run, fov_degrees=40.0)
    assert set(result.placements) == {"house", "chimney"} and result.camera["fov_degrees"] == 40.0
    assert (run / "manifest.json").read_bytes() == before  # the run's own record is never rewritten


@pytest.mark.parametrize("fov", ["0", "nan", "175", "-5"])
def test_a_field_of_view_out_of_generates_range_is_one_sentence(tmp_path: Path, cli: RunCli, fov: str) -> None:
    run = _run_folder(tmp_path, "first-release-bc1fe14.json")
    out = cli("relayout", str(run), "--fov", fov)
    assert out.returncode == 2 and "Traceback" not in out.stderr  # it was a ValueError from the solver
    assert "is out of range: it must be 5 to 170 degrees" in out.stderr and not (run / "relayout.json").exists()


@pytest.mark.parametrize("content", [b"garbage", b"", b"glTF\x02\x00\x00\x00"])
def test_a_damaged_mesh_in_the_run_is_one_sentence(tmp_path: Path, cli: RunCli, content: bytes) -> None:
    """A run folder may come from anywhere: a damaged GLB ended relayout in a trimesh traceback."""
    run = _run_folder(tmp_path, "first-release-bc1fe14.json")
    (run / "house.glb").write_bytes(content)
    out = cli("relayout", str(run))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"house.glb in {run} cannot be read" in out.stderr and not (run / "relayout.json").exists()


def test_a_first_release_run_can_be_regenerated_from(tmp_path: Path) -> None:
    run = _run_folder(tmp_path, "first-release-bc1fe14.json")
    (run / "mattes").mkdir()
    (run / "mattes" / "house.png").write_bytes(b"")  # a cut-out is there: the record names it
    source = SourceRun.open(str(run))
    assert source.record("house").matte == "mattes/house.png" and source.manifest.scene == {}


def test_a_newer_img23d_run_is_refused_in_one_sentence_on_the_command_line(tmp_path: Path, cli: RunCli) -> None:
    run = _run_folder(tmp_path, "main-f49deb6-generate.json", format=2, backend_version="9.0.0")
    out = cli("relayout", str(run))
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert (f"{run}: this run was written by img23d 9.0.0 in run format 2, which this img23d (run format 1) "
            "cannot read: update the add-on and the backend to open it") in out.stderr
    assert not (run / "relayout.json").exists()


def test_a_newer_img23d_run_cannot_be_regenerated_from(tmp_path: Path) -> None:
    run = _run_folder(tmp_path, "main-f49deb6-generate.json", format=2)
    with pytest.raises(ProtocolError) as caught:
        SourceRun.open(str(run))
    assert caught.value.code is ErrorCode.VERSION_MISMATCH and "run format 2" in caught.value.message


@pytest.mark.parametrize("changes", [{"format": 2}, {"hologram": {"x": 1}}], ids=["newer format", "newer keys"])
def test_the_recovery_pass_leaves_a_newer_img23d_run_as_it_is(tmp_path: Path, changes: dict[str, object]) -> None:
    run = _run_folder(tmp_path, "main-f49deb6-generate.json", status="running", pid=2 ** 22 + os.getpid(),
                      **changes)
    before = (run / "manifest.json").read_bytes()
    assert recover_interrupted(run.parent) == []
    assert (run / "manifest.json").read_bytes() == before


def test_a_run_of_a_metric_depth_model_lays_out_again_in_metres(tmp_path: Path) -> None:
    """A run whose depth map was metric (MoGe-2: ``kind`` metric, statistics 1 / z) keeps its distances on
    Re-layout, for any field of view (issue 98); the same run with a relative map puts its nearest at 4 m."""
    data = json.loads((MANIFESTS / "main-f49deb6-generate.json").read_text(encoding="utf-8"))
    data["records"][0]["depth"]["disparity"], data["records"][1]["depth"]["disparity"] = 1 / 6.0, 1 / 6.5
    metric = {**data["scene"], "depth": {**data["scene"]["depth"], "kind": "metric"}}
    run = _run_folder(tmp_path / "metric", "main-f49deb6-generate.json", records=data["records"], scene=metric)
    placed = relayout(run, fov_degrees=40.0, ground=False).placements
    assert placed["house"]["distance"] == pytest.approx(6.0) and placed["chimney"]["distance"] == pytest.approx(6.5)
    relative = _run_folder(tmp_path / "relative", "main-f49deb6-generate.json", records=data["records"])
    placed = relayout(relative, fov_degrees=40.0, ground=False).placements
    assert placed["house"]["distance"] == pytest.approx(4.0)  # the house, nearest, at 4 m
    assert placed["chimney"]["distance"] == pytest.approx(4.0 * 6.5 / 6.0)
