"""Gaussian splats within bounds (issue 66): a count capped by sampling the densest meshes down by
area, memory that follows the cap and not the face count, a file sized for a viewer, faces that
are not numbers (or have no area) left out and counted, and a disk without room ending the job as
the project's ``disk`` error in one sentence."""

from __future__ import annotations

import json
import shutil
import tracemalloc
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import trimesh

from cli_inprocess import run_cli, tiny_env
from img23d_protocol import ErrorCode, Manifest, ProtocolError, TargetRecord
from img23d_protocol import splats


def _sheet(side: int, squeeze: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A unit square in z = 0 as a (side - 1)^2 x 2 triangle grid; ``squeeze``: columns at x = t^2, so
    the faces crowd toward x = 0 (a quarter of the width holds half the faces)."""
    t = np.linspace(0.0, 1.0, side)
    x, y = np.meshgrid(t ** 2 if squeeze else t, t)
    vertices = np.column_stack([x.ravel(), y.ravel(), np.zeros(x.size)])
    index = np.arange(side * side).reshape(side, side)
    a, b, c, d = index[:-1, :-1].ravel(), index[:-1, 1:].ravel(), index[1:, 1:].ravel(), index[1:, :-1].ravel()
    return vertices, np.concatenate([np.column_stack([a, b, c]), np.column_stack([a, c, d])])


def test_a_mesh_denser_than_the_cap_is_sampled_down_by_area_the_same_every_time() -> None:
    vertices, faces = _sheet(41, squeeze=True)  # 3,200 faces, most of them near x = 0
    cloud = splats.splats_from_mesh(vertices, faces, max_splats=400)
    assert len(cloud) == 400, "the cap holds, though the mesh has more faces than splats"
    again = splats.splats_from_mesh(vertices, faces, max_splats=400)
    np.testing.assert_array_equal(cloud.positions, again.positions)
    # By area, not by face: each quarter of the square holds a quarter of the splats.
    quarters = np.histogram(cloud.positions[:, 0], bins=4, range=(0, 1))[0]
    assert np.all(np.abs(quarters - 100) <= 12), quarters
    rows = np.histogram2d(cloud.positions[:, 0], cloud.positions[:, 1], bins=5, range=((0, 1), (0, 1)))[0]
    assert rows.min() >= 8, "no part of the surface is left bare"
    # Each splat's round patch is its share of the surface: the splats overlap into a covered square.
    share = 1.0 / 400
    assert cloud.scales[:, 0] == pytest.approx(splats.COVER * np.sqrt(share / (6 * np.sqrt(3))))
    assert np.abs(cloud.normals[:, 2]).min() == pytest.approx(1)


def test_a_mesh_of_200k_faces_takes_memory_for_its_splats_not_its_faces(tmp_path: Path) -> None:
    vertices, faces = _sheet(317)  # 199,712 faces
    cap = 20_000
    tracemalloc.start()
    try:
        cloud = splats.splats_from_mesh(vertices, faces, max_splats=cap)
        path = splats.write_ply(tmp_path / "sheet.splat.ply", cloud)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(cloud) == cap and path.stat().st_size == splats.ply_size(cap)
    # The mesh's own arrays (7.2 MB) were made before; one (F, 3, 3) float64 array of its faces would
    # be 14.4 MB by itself. What is held: a float a face (1.6 MB), one chunk's corners and the splats.
    assert peak < 14e6, f"peak {peak / 1e6:.1f} MB"


def test_an_untextured_object_is_a_few_megabytes() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=3)  # 1,280 faces, one colour
    cloud = splats.splats_from_mesh(sphere.vertices, sphere.faces)
    assert 0.5 * splats.PLAIN_SPLATS <= len(cloud) <= splats.PLAIN_SPLATS
    assert splats.ply_size(len(cloud)) < 10e6


def test_the_cap_keeps_a_viewer_s_file_size() -> None:
    assert splats.BYTES_PER_SPLAT == 248
    assert splats.ply_size(splats.MAX_SPLATS) < 50e6


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_vertex_that_is_not_a_number_leaves_out_its_faces_only(bad: float) -> None:
    sphere = trimesh.creation.icosphere(subdivisions=2)
    vertices = np.array(sphere.vertices)
    vertices[0] = [bad, 0.0, 0.0]
    touching = int(np.any(sphere.faces == 0, axis=1).sum())
    cloud = splats.splats_from_mesh(vertices, sphere.faces)
    assert cloud.skipped == touching and len(cloud) > 0
    for name in splats.ARRAYS:
        assert np.isfinite(getattr(cloud, name)).all(), name


def test_faces_of_no_area_are_left_out_and_counted() -> None:
    vertices, faces = _sheet(5)
    faces = np.concatenate([faces, [[0, 0, 1], [1, 2, 3]]])  # a repeated corner; three points on a line
    cloud = splats.splats_from_mesh(vertices, faces)
    assert cloud.skipped == 2 and np.isfinite(cloud.positions).all()


# -- the job's file: a warning for faces left out, a disk without room --------------------------

def _run(tmp_path: Path) -> SimpleNamespace:
    from img23d_backend.runs.folders import RunFolder

    folder = RunFolder.create(tmp_path / "runs", "picture", Manifest(job_id="j", kind="generate",
                                                                           backend_version="t"))
    events: list = []
    return SimpleNamespace(run_folder=folder, job=SimpleNamespace(id="j", emit=events.append), events=events)


def _glb(tmp_path: Path, nan: bool = False) -> Path:
    sphere = trimesh.creation.icosphere(subdivisions=2)
    if nan:
        sphere.vertices[0] = [np.nan, 0.0, 0.0]
    path = tmp_path / "ball.glb"
    sphere.export(str(path), file_type="glb")
    return path


def test_faces_left_out_are_one_warning_in_the_run(tmp_path: Path) -> None:
    from img23d_backend.jobs.steps.splat_files import SKIPPED_FACES, write_object_splats

    run, record = _run(tmp_path), TargetRecord(target="ball", stem="ball")
    write_object_splats(run, record, _glb(tmp_path, nan=True), {"target": "ball"})
    assert record.splats == "ball.splat.ply"
    [warning] = run.run_folder.manifest.warnings
    assert warning["code"] == SKIPPED_FACES and warning["faces"] == 5
    assert warning["message"] == ("the Gaussian splats of 'ball' leave out 5 face(s) with a corner that is not a "
                                  "number or with no area")


def test_a_disk_without_room_for_the_splats_is_refused_before_the_first_byte(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from img23d_backend.jobs.steps.splat_files import write_object_splats
    from img23d_backend.runs import disk_errors

    run, record = _run(tmp_path), TargetRecord(target="ball", stem="ball")
    glb = _glb(tmp_path)
    real = shutil.disk_usage
    monkeypatch.setattr(disk_errors.shutil, "disk_usage", lambda p: real(p)._replace(free=20 << 20))
    with pytest.raises(ProtocolError) as caught:
        write_object_splats(run, record, glb, {"target": "ball"})
    assert caught.value.code is ErrorCode.DISK
    assert "ball.splat.ply: it needs " in caught.value.message and "MB free" in caught.value.message
    assert not list(run.run_folder.root.glob("*.ply")) and not list(run.run_folder.root.glob(".tmp-*"))
    assert record.splats is None and not run.events


def test_a_full_disk_while_writing_splats_ends_the_job_as_a_disk_error(capsys: pytest.CaptureFixture[str],
                                                                         tiny_root: Path, tmp_path: Path) -> None:
    from testdata import SUBJECT

    out = run_cli(capsys, "generate", str(SUBJECT), "--models", "tiny", "--device", "cpu", "--out", str(tmp_path),
                  "--steps", "3", "--octree-resolution", "32", "--face-budget", "2000", "--no-texture", "--splats",
                  env={**tiny_env(tiny_root), "IMG23D_FAILPOINTS": "write.ply:enospc"})
    assert out.returncode != 0
    assert "Traceback" not in out.stderr and "[internal]" not in out.stderr + out.stdout
    [said] = [line for line in out.stderr.splitlines() if "[disk]" in line]
    assert said.startswith("error: cannot write ") and "snowman.splat.ply: the disk is full" in said
    [run] = list(tmp_path.iterdir())
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["errors"][0]["code"] == "disk"
    assert (run / "snowman.glb").is_file() and not list(run.glob("*.ply")) and not list(run.glob(".tmp-*"))
