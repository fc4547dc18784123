"""A whole job on the backend over SSH: the picture goes up, every file the add-on reads comes
back into a local mirror of the runs folder, the connection dropped mid-job loses nothing.

The backend runs as another user on 127.0.0.1 (tests/ssh_host.py) that cannot read the test's
folders: the picture sits in the test's own temporary folder, and the local runs folder too.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

import ssh_host
from testdata import FAST_OPTIONS, HOUSE
from session_waits import pump_until, reply_within

from img23d_client import process as process_mod
from img23d_client import session as session_mod
from img23d_client import remote as remote_mod
from img23d_client import remote_runs as remote_runs_mod
from img23d_protocol import rig_weights

pytestmark = pytest.mark.process  # drives real processes (pytest.ini)
protocol = session_mod.protocol
WAIT = 300.0


def _session(host, tmp_path: Path, runs: str):
    remote = remote_mod.RemoteHost(host=ssh_host.ALIAS, python=str(host.python), runs_dir=runs,
                                   config_file=host.config, env=host.env())
    settings = process_mod.LaunchSettings(python=Path("/not/used/for/ssh"), runs_dir=tmp_path / "mirror",
                                          models="tiny", device="cpu", offline=True, log_path=tmp_path / "backend.log",
                                          remote=remote)
    return session_mod.BackendSession(lambda: settings)


@contextmanager
def _ready(host, tmp_path: Path, runs: str) -> Iterator[session_mod.BackendSession]:
    """A session on the host's backend with ``runs`` as its runs folder, its hello read; stopped after."""
    session = _session(host, tmp_path, runs)
    try:
        session.start()
        session.wait_ready(timeout=WAIT)
        yield session
    finally:
        session.stop()


QUIET_RUNS = "runs-quiet"


@pytest.fixture(scope="module")
def quiet_session(host, tmp_path_factory: pytest.TempPathFactory) -> Iterator[session_mod.BackendSession]:
    """One session on the host's backend for the two tests whose job never runs there (refused before anything
    is sent, cancelled while its picture goes up), with ``QUIET_RUNS`` as its runs folder: one backend start on
    the host for both, not one each."""
    with _ready(host, tmp_path_factory.mktemp("quiet"), str(host.path_for_host(QUIET_RUNS))) as session:
        yield session


def _until(session, done, what: str, timeout: float = WAIT) -> list:
    return pump_until(session, done, what, timeout)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_generate_job_sends_its_picture_and_brings_every_file_back(host, tmp_path: Path) -> None:
    picture = tmp_path / "private" / "my house.png"  # the host's user cannot read this folder
    picture.parent.mkdir()
    shutil.copy(HOUSE, picture)
    remote_runs = host.path_for_host("runs-generate")
    with _ready(host, tmp_path, str(remote_runs)) as session:
        # Finished at a triangle budget: each object's generated (high) mesh must come back too.
        options = protocol.JobOptions(**FAST_OPTIONS, topology="triangles", face_target=500, bake_size=128)
        request = protocol.GenerateRequest(image=str(picture), targets=["house", "chimney"], options=options)
        job = session.submit(request)
        seen = _until(session, lambda m: any(isinstance(x, (protocol.Result, protocol.Error)) and x.id == job
                                             for x in m), "the generate job over SSH")
    [result] = [m for m in seen if isinstance(m, protocol.Result)]
    mirror = tmp_path / "mirror"
    local_run = Path(result.data["run_dir"])
    assert mirror in local_run.parents and (local_run / "manifest.json").is_file()
    [remote_run] = [p for p in remote_runs.iterdir() if p.is_dir() and not p.name.startswith("_")]
    assert remote_run.name == local_run.name
    # Each mesh arrived as a local file, byte for byte the host's, before the result.
    meshes = [m for m in seen if isinstance(m, protocol.Artifact) and m.kind == "mesh"]
    assert sorted(m.target for m in meshes) == ["chimney", "house"]
    for mesh in meshes:
        local = Path(mesh.path)
        assert local.parent == local_run and _sha(local) == _sha(remote_run / local.name)
    highs = [m for m in seen if isinstance(m, protocol.Artifact) and m.kind == "high_mesh"]
    assert sorted(m.target for m in highs) == ["chimney", "house"]
    for high in highs:
        local = Path(high.path)
        assert local.parent == local_run / "high" and _sha(local) == _sha(remote_run / "high" / local.name)
    layout = next(m for m in seen if isinstance(m, protocol.Artifact) and m.kind == "layout")
    assert Path(layout.path).is_file() and mirror in Path(layout.path).parents
    assert json.loads((local_run / "manifest.json").read_text())["status"] == "finished"
    assert _sha(local_run / "layout.png") == _sha(remote_run / "layout.png")  # the run's top view came too
    assert result.data["layout_picture"] == str(local_run / "layout.png")
    # The picture travelled: the host's copy is in its uploads, the job read that one.
    manifest = json.loads((remote_run / "manifest.json").read_text())
    assert "_uploads" in manifest["image"]["source"] and manifest["image"]["sha256"] == _sha(picture)
    assert not list(mirror.rglob(".tmp-*"))


def test_a_picture_that_cannot_be_read_is_one_sentence_before_anything_runs(quiet_session, tmp_path: Path) -> None:
    with pytest.raises(protocol.ProtocolError, match="cannot read"):
        quiet_session.submit(protocol.DetectRequest(image=str(tmp_path / "nowhere.png"), targets=["house"]))
    assert quiet_session.job_id is None  # no job is left half-started


def test_cancel_while_the_picture_goes_up_ends_the_job_and_runs_nothing(host, quiet_session) -> None:
    """Esc while the picture was uploading asked the backend, which had no job yet; the job was sent when the
    picture arrived and ran to its end (minutes of a GPU, objects imported after the artist cancelled)."""
    remote_runs, session = host.path_for_host(QUIET_RUNS), quiet_session
    job = session.submit(protocol.DetectRequest(image=str(HOUSE), targets=["house"]))
    assert session.cancel()
    seen = _until(session, lambda m: any(isinstance(x, (protocol.Result, protocol.Error)) and x.id == job
                                         for x in m), "the cancelled job's answer")
    [answer] = [m for m in seen if getattr(m, "id", None) == job]
    assert isinstance(answer, protocol.Error) and answer.code == "cancelled" and session.job_id is None
    time.sleep(2)   # the picture's arrival would have sent the job by now
    session.pump()
    status = reply_within(session, session.request(protocol.StatusRequest()), 60)
    assert status.data["state"] == "idle" and status.data["job"] is None
    runs = [path.name for path in remote_runs.iterdir() if path.name != "_uploads"]   # the picture's upload folder
    assert runs == [], "a job ran on the host after its cancel"


def test_a_connection_dropped_mid_job_stops_the_remote_job_and_leaves_no_half_file(host, tmp_path: Path) -> None:
    picture = tmp_path / "house.png"
    shutil.copy(HOUSE, picture)
    remote_runs = host.path_for_host("runs-dropped")
    with _ready(host, tmp_path, str(remote_runs)) as session:
        slow = protocol.JobOptions(**{**FAST_OPTIONS, "steps": 200})
        job = session.submit(protocol.GenerateRequest(image=str(picture), targets=["house", "door"], options=slow))
        _until(session, lambda m: session.progress is not None and session.progress.stage == "shape",
               "the shape stage over SSH")
        session.process.kill()  # the ssh client dies: the connection is gone
        seen = _until(session, lambda m: any(isinstance(x, protocol.Error) and x.id == job for x in m),
                      "the lost job's error")
    [error] = [m for m in seen if isinstance(m, protocol.Error) and m.id == job]
    assert error.code == "backend_unavailable"
    # The host's backend saw its input end and closed the run's manifest; nothing stays "running".
    [manifest_path] = list(remote_runs.glob("*/manifest.json"))
    deadline = time.monotonic() + 60
    while json.loads(manifest_path.read_text())["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert json.loads(manifest_path.read_text())["status"] in ("cancelled", "failed", "interrupted")
    assert not list((tmp_path / "mirror").rglob(".tmp-*"))
    # What the host finished is not lost: Import Run from the host lists that run and brings it here.
    with _ready(host, tmp_path, str(remote_runs)) as later:
        listed = later.request(protocol.RunsRequest())
        _until(later, lambda m: listed in later.replies, "the host's list of runs")
        [run] = remote_runs_mod.parse_runs(later.take_reply(listed), later.mirror())
        assert run.path == str(manifest_path.parent) and run.status == json.loads(manifest_path.read_text())["status"]
        download = later.fetch_run(run.path)
        _until(later, lambda m: download.done, "the run's download")
    assert not download.error, download.error
    remote_files = sorted(p.relative_to(manifest_path.parent).as_posix() for p in manifest_path.parent.rglob("*")
                          if p.is_file())
    local_files = sorted(p.relative_to(download.local_dir).as_posix() for p in download.local_dir.rglob("*")
                         if p.is_file())
    assert local_files == remote_files and "manifest.json" in local_files
    assert all(_sha(download.local_dir / name) == _sha(manifest_path.parent / name) for name in remote_files)


def _column(path: Path, rings: int = 9) -> int:
    """A 0.2 x 0.2 x 1 column (rings of four vertices, capped) as the add-on's mesh file; its vertex count."""
    square = ((-0.1, -0.1), (0.1, -0.1), (0.1, 0.1), (-0.1, 0.1))
    positions = np.array([(x, y, z) for z in np.linspace(0.0, 1.0, rings) for x, y in square], np.float32)
    sides = [(r * 4 + k, r * 4 + (k + 1) % 4, r * 4 + 4 + (k + 1) % 4, r * 4 + 4 + k)
             for r in range(rings - 1) for k in range(4)]
    top = (rings - 1) * 4
    triangles = np.array([t for a, b, c, d in sides for t in ((a, b, c), (a, c, d))]
                         + [(0, 2, 1), (0, 3, 2), (top, top + 1, top + 2), (top, top + 2, top + 3)], np.int32)
    loops = np.arange(triangles.size, dtype=np.int32).reshape(-1, 3)
    protocol.write_mesh_file(path, protocol.MeshFile(positions=positions, triangles=triangles, triangle_loops=loops))
    return len(positions)


def test_a_rig_job_brings_back_its_weights_and_rigged_glb(host, tmp_path: Path) -> None:
    # Issue 73 item 5: only the rig's manifest came back, so Rig Selected could never finish over SSH.
    mesh = tmp_path / "private" / "column.npz"   # the host's user cannot read this folder: it travels
    mesh.parent.mkdir()
    vertices = _column(mesh)
    bones = [protocol.RigBone(name="lower", head=(0.0, 0.0, 0.0), tail=(0.0, 0.0, 0.5)),
             protocol.RigBone(name="upper", head=(0.0, 0.0, 0.5), tail=(0.0, 0.0, 1.0), parent=0)]
    remote_runs = host.path_for_host("runs-rig")
    with _ready(host, tmp_path, str(remote_runs)) as session:
        job = session.submit(protocol.RigRequest(mesh=str(mesh), name="column", skeleton=bones, weights="geometric",
                                                 options=protocol.JobOptions(**FAST_OPTIONS)))
        seen = _until(session, lambda m: any(isinstance(x, (protocol.Result, protocol.Error)) and x.id == job
                                             for x in m), "the rig job over SSH")
    assert not [m.message for m in seen if isinstance(m, protocol.Error)]
    [reply] = [m for m in seen if isinstance(m, protocol.Result) and m.id == job]
    result = protocol.RigJobResult.from_dict(reply.data)
    local_run = Path(result.run_dir)
    [remote_run] = [p for p in remote_runs.iterdir() if p.is_dir() and not p.name.startswith("_")]
    assert tmp_path / "mirror" in local_run.parents and local_run.name == remote_run.name
    for name in (result.weights, result.rigged, "manifest.json"):
        assert _sha(local_run / name) == _sha(remote_run / name), name
    # What Rig Selected reads next: the weights for every vertex of the column, on its two bones.
    weights = rig_weights.read_weights(local_run / result.weights, vertices, len(result.bones))
    assert [bone.name for bone in result.bones] == ["lower", "upper"]
    assert np.allclose(weights.weights.sum(axis=1), 1.0, atol=1e-4)
    strongest = weights.joints[np.arange(vertices), weights.weights.argmax(axis=1)]
    assert set(strongest[:4].tolist()) == {0} and set(strongest[-4:].tolist()) == {1}   # the foot, the top
    assert not list((tmp_path / "mirror").rglob(".tmp-*"))
