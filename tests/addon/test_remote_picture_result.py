"""Make Picture from a remote backend (protocol 1.25): the picture the host made (its ``picture`` artifact and
its result's ``picture``) is mirrored here and named by its local path, as a mesh is; one outside the job's run
folder never reaches the caller. Played against ``RemoteJob`` with the protocol's own messages."""

from __future__ import annotations

from pathlib import Path

from fetch_replies import played_job

from img23d_client import remote_jobs, transfer
protocol = transfer.protocol

REMOTE = "/srv/gpu/img23d-runs"
RUN = f"{REMOTE}/20261127-100000-wooden_barrel_beside-picture"


def _play(local: Path, picture: str, others: tuple[str, ...] = ()) -> list:
    job = remote_jobs.RemoteJob(protocol.PictureRequest(id="job-1", prompt="a wooden barrel"),
                                transfer.Mirror(REMOTE, local), "gpu-box")
    result = protocol.PictureJobResult(run_dir=RUN, manifest=f"{RUN}/manifest.json", picture=picture,
                                       image_size=[96, 96], seed=4, pictures=[picture, *others],
                                       seeds=list(range(4, 5 + len(others))))
    return played_job(job, (protocol.Artifact(job="job-1", kind="run", path=RUN),
                            protocol.Artifact(job="job-1", kind="picture", path=f"{RUN}/input.png"),
                            protocol.Result(id="job-1", data=result.to_dict())), b"PNG from the host")


def test_the_made_picture_is_mirrored_and_named_here(tmp_path: Path) -> None:
    out = _play(tmp_path, f"{RUN}/input.png")
    assert not [m.message for m in out if isinstance(m, protocol.Error)]
    here = tmp_path / Path(RUN).name / "input.png"
    [artifact] = [m for m in out if isinstance(m, protocol.Artifact) and m.kind == "picture"]
    [result] = [m for m in out if isinstance(m, protocol.Result)]
    assert Path(artifact.path) == Path(protocol.PictureJobResult.from_dict(result.data).picture) == here
    assert here.read_bytes() == b"PNG from the host"


def test_a_picture_outside_the_run_never_reaches_the_caller(tmp_path: Path) -> None:
    out = _play(tmp_path, "/etc/passwd")
    assert not any(isinstance(m, protocol.Result) for m in out)
    [error] = [m for m in out if isinstance(m, protocol.Error)]
    assert "'/etc/passwd' is not in the job's run folder" in error.message


def test_every_variation_is_mirrored_and_one_outside_the_run_refuses_the_result(tmp_path: Path) -> None:
    """(1.26) A picture request's variations: each of the result's ``pictures`` is fetched and named here; one that
    points outside the job's run folder refuses the whole result."""
    out = _play(tmp_path, f"{RUN}/input.png", (f"{RUN}/input-v2.png",))
    [result] = [m for m in out if isinstance(m, protocol.Result)]
    here = tmp_path / Path(RUN).name
    assert protocol.PictureJobResult.from_dict(result.data).pictures == [str(here / "input.png"),
                                                                          str(here / "input-v2.png")]
    assert (here / "input-v2.png").read_bytes() == b"PNG from the host"
    out = _play(tmp_path / "again", f"{RUN}/input.png", ("/etc/shadow",))
    assert not any(isinstance(m, protocol.Result) for m in out)
    [error] = [m for m in out if isinstance(m, protocol.Error)]
    assert "'/etc/shadow' is not in the job's run folder" in error.message
