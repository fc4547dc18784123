"""Issue 58 item 8: a remote retopo's result names its low and high meshes (``mesh``, ``high_mesh``); they are
checked to lie in the job's run folder and mirrored here, as every other result file is, where a hostile
host's ``high_mesh: /etc/passwd`` reached the caller and honest runs handed back the host's paths.
Played against ``RemoteJob`` with the protocol's own messages, through the wire format."""

from __future__ import annotations

from pathlib import Path

from fetch_replies import played_job

from img23d_client import remote_jobs, transfer
protocol = transfer.protocol

REMOTE = "/srv/gpu/img23d-runs"
RUN = f"{REMOTE}/20261125-120000-chair-retopo"


def _play(local: Path, result: dict, artifacts: tuple = ()) -> list:
    job = remote_jobs.RemoteJob(protocol.RetopoRequest(id="job-1", name="chair"), transfer.Mirror(REMOTE, local),
                                "gpu-box")
    return played_job(job, (protocol.Artifact(job="job-1", kind="run", path=RUN), *artifacts,
                            protocol.Result(id="job-1", data=result)), b"glTF from the host")


def _result(**files: str) -> dict:
    return {"run_dir": RUN, "manifest": f"{RUN}/manifest.json", "mesh": f"{RUN}/chair.glb",
            "high_mesh": f"{RUN}/high/chair.glb", "finish": {"quads": 10}, **files}


def test_an_honest_retopo_result_names_the_mirrored_meshes(tmp_path: Path) -> None:
    # As a backend sends them: each mesh as an artifact first, then the result naming the same files.
    artifacts = (protocol.Artifact(job="job-1", kind="high_mesh", path=f"{RUN}/high/chair.glb", target="chair"),
                 protocol.Artifact(job="job-1", kind="mesh", path=f"{RUN}/chair.glb", target="chair"))
    out = _play(tmp_path, _result(), artifacts)
    assert not [m.message for m in out if isinstance(m, protocol.Error)]
    [result] = [m for m in out if isinstance(m, protocol.Result)]
    data = protocol.RetopoJobResult.from_dict(result.data)
    here = tmp_path / "20261125-120000-chair-retopo"
    assert (Path(data.mesh), Path(data.high_mesh)) == (here / "chair.glb", here / "high" / "chair.glb")
    assert Path(data.mesh).read_bytes() == Path(data.high_mesh).read_bytes() == b"glTF from the host"


def test_a_high_mesh_outside_the_run_never_reaches_the_caller(tmp_path: Path) -> None:
    out = _play(tmp_path, _result(high_mesh="/etc/passwd"))
    assert not any(isinstance(m, protocol.Result) for m in out)
    [error] = [m for m in out if isinstance(m, protocol.Error)]
    assert "'/etc/passwd' is not in the job's run folder" in error.message and "/etc/passwd" not in str(
        [m.data for m in out if isinstance(m, protocol.Result)])
