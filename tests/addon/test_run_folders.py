"""Only this job's folder (issue 34, item 3): a backend on another machine writes nothing here but
the new run folder of the job that announced it; Import Run from Host never writes over a run; a
name this side's disks cannot hold safely is refused; a manifest's mesh stays inside its run.
Played against ``RemoteJob``, ``RunDownload`` and the manifest reader with the protocol's own
messages (each through the wire format), as a hostile host would send them."""

from __future__ import annotations

from pathlib import Path

import pytest

from fetch_replies import fetch_answer, played_download, wire

from img23d_client import remote_jobs
from img23d_client import transfer
from img23d_client import run_layout
protocol = transfer.protocol

REMOTE = "/srv/gpu/img23d-runs"
OLD_RUN = f"{REMOTE}/20261101-090000-kitchen"
NEW_RUN = f"{REMOTE}/20261124-120000-house"


class HostileHost:
    """Feeds a job's messages to ``RemoteJob`` and answers every fetch it asks for with ``payload``."""

    def __init__(self, job, payload: bytes = b"written by the host") -> None:
        self.job, self.payload, self.out, self.ended = job, payload, [], ""

    def say(self, message) -> None:
        try:
            send, out = self.job.handle(wire(message))
        except protocol.ProtocolError as exc:  # the job ends here: the session stops the backend
            self.ended = exc.message
            return
        self.out.extend(out)
        for request in send:
            for reply in fetch_answer(request.id, self.payload):
                more, out = self.job.handle(reply)
                assert not more
                self.out.extend(out)


@pytest.fixture
def local(tmp_path: Path) -> Path:
    """The local mirror, with a run an earlier job brought back."""
    old = tmp_path / "mirror" / "20261101-090000-kitchen"
    old.mkdir(parents=True)
    (old / "kettle.glb").write_bytes(b"the artist's kettle")
    return tmp_path / "mirror"


def _job(local: Path):
    request = protocol.GenerateRequest(id="job-1", image="")
    return remote_jobs.RemoteJob(request, transfer.Mirror(REMOTE, local), "gpu-box")


def _errors(host) -> list[str]:
    return [m.message for m in host.out if isinstance(m, protocol.Error)]


def test_an_artifact_in_another_run_folder_is_refused_and_that_run_is_untouched(local: Path) -> None:
    host = HostileHost(_job(local))
    host.say(protocol.Artifact(job="job-1", kind="run", path=NEW_RUN))
    host.say(protocol.Artifact(job="job-1", kind="mesh", path=f"{OLD_RUN}/kettle.glb", target="kettle"))
    assert (local / "20261101-090000-kitchen" / "kettle.glb").read_bytes() == b"the artist's kettle"
    [error] = _errors(host)
    assert "is not in the job's run folder" in error and "gpu-box" in error
    # The job's own files still arrive.
    host.say(protocol.Artifact(job="job-1", kind="mesh", path=f"{NEW_RUN}/house.glb", target="house"))
    assert (local / "20261124-120000-house" / "house.glb").read_bytes() == b"written by the host"


def test_a_file_before_the_run_folder_and_a_second_run_folder_are_refused(local: Path) -> None:
    host = HostileHost(_job(local))
    host.say(protocol.Artifact(job="job-1", kind="mesh", path=f"{OLD_RUN}/kettle.glb", target="kettle"))
    host.say(protocol.Artifact(job="job-1", kind="run", path=NEW_RUN))
    host.say(protocol.Artifact(job="job-1", kind="run", path=OLD_RUN))
    assert (local / "20261101-090000-kitchen" / "kettle.glb").read_bytes() == b"the artist's kettle"
    [error] = _errors(host)
    assert "before its run folder" in error
    assert host.ended.startswith("the backend on gpu-box named a run folder that cannot be used here: the job "
                                 "named a second run folder")


def test_a_run_folder_that_is_already_here_is_never_written_over(local: Path) -> None:
    host = HostileHost(_job(local))
    host.say(protocol.Artifact(job="job-1", kind="run", path=OLD_RUN))
    host.say(protocol.Artifact(job="job-1", kind="mesh", path=f"{OLD_RUN}/kettle.glb", target="kettle"))
    assert (local / "20261101-090000-kitchen" / "kettle.glb").read_bytes() == b"the artist's kettle"
    assert "is already here: a run is never written over" in host.ended


def test_a_result_naming_another_run_fetches_nothing_there(local: Path) -> None:
    host = HostileHost(_job(local))
    host.say(protocol.Artifact(job="job-1", kind="run", path=NEW_RUN))
    host.say(protocol.Result(id="job-1", data={"run_dir": OLD_RUN, "manifest": f"{OLD_RUN}/kettle.glb"}))
    assert (local / "20261101-090000-kitchen" / "kettle.glb").read_bytes() == b"the artist's kettle"
    assert len(_errors(host)) == 1


@pytest.mark.parametrize("name, why", [
    ("CON", "Windows device name"), ("nul.glb", "Windows device name"), ("Com1.txt", "Windows device name"),
    ("house.glb.", "ends with a dot"), ("house.glb ", "a space"), ("a<b.glb", "<>"), ("a|b.glb", "<>"),
    ("what?.glb", "<>"), ("star*.glb", "<>"), ("x" * 252 + ".glb", "over 255 bytes"),
    ("家" * 84 + ".glb", "over 255 bytes"), (".bashrc", "hidden file"), (".git", "hidden file"),
    ("house\u202egpj.glb", "U+202E, which changes the direction"), ("a\u2067b.glb", "U+2067")])
def test_a_name_this_disk_cannot_hold_safely_is_refused(local: Path, name: str, why: str) -> None:
    host = HostileHost(_job(local))
    host.say(protocol.Artifact(job="job-1", kind="run", path=NEW_RUN))
    host.say(protocol.Artifact(job="job-1", kind="mesh", path=f"{NEW_RUN}/{name}", target="house"))
    [error] = _errors(host)
    assert why in error
    assert list((local / "20261124-120000-house").iterdir()) == []


@pytest.mark.parametrize("first, second", [("house.glb", "House.GLB"), ("caf\u00e9.glb", "cafe\u0301.glb")])
def test_two_names_one_disk_would_take_for_one_file_are_refused(local: Path, first: str, second: str) -> None:
    host = HostileHost(_job(local))
    host.say(protocol.Artifact(job="job-1", kind="run", path=NEW_RUN))
    host.payload = b"first"
    host.say(protocol.Artifact(job="job-1", kind="mesh", path=f"{NEW_RUN}/{first}", target="house"))
    host.payload = b"second"
    host.say(protocol.Artifact(job="job-1", kind="mesh", path=f"{NEW_RUN}/{second}", target="house"))
    [error] = _errors(host)
    assert "only by case or Unicode normalisation" in error
    assert [p.read_bytes() for p in (local / "20261124-120000-house").iterdir()] == [b"first"]


def _download(local: Path, run: str, files: dict[str, bytes]):
    return played_download(transfer.Mirror(REMOTE, local), run, files)


def test_import_from_the_host_never_writes_over_a_run_here(local: Path) -> None:
    files = {"kettle.glb": b"the host's kettle", "manifest.json": b"{}"}
    download = _download(local, OLD_RUN, files)
    assert download.done and not download.error
    assert (local / "20261101-090000-kitchen" / "kettle.glb").read_bytes() == b"the artist's kettle"
    assert download.local_dir == local / "20261101-090000-kitchen-2"
    assert (download.local_dir / "kettle.glb").read_bytes() == b"the host's kettle"
    again = _download(local, OLD_RUN, files)
    assert again.local_dir == local / "20261101-090000-kitchen-3"


@pytest.mark.parametrize("listed", [{"nul.glb": b"x"}, {"House.glb": b"x", "house.glb": b"y"}, {".bashrc": b"x"}])
def test_an_import_listing_with_an_unsafe_name_fetches_nothing_and_leaves_no_folder(local: Path, listed) -> None:
    download = _download(local, NEW_RUN, {**listed, "manifest.json": b"{}"})
    assert download.done and "cannot name a file here" in download.error
    assert not (local / "20261124-120000-house").exists()


@pytest.mark.parametrize("mesh", ["../20261101-090000-kitchen/kettle.glb", "/etc/passwd", "a/../../x.glb",
                                  "nul.glb", ".hidden.glb", 42])
def test_a_manifests_mesh_path_must_stay_inside_its_run(tmp_path: Path, mesh) -> None:
    with pytest.raises(run_layout.NotARun, match="the manifest names the mesh"):
        run_layout.record_mesh(tmp_path / "run", mesh)
    assert run_layout.record_mesh(tmp_path / "run", "meshes/house.glb") == tmp_path / "run" / "meshes" / "house.glb"


def test_a_mesh_path_through_a_link_out_of_the_run_is_refused(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "out").symlink_to(tmp_path)
    with pytest.raises(run_layout.NotARun, match="outside its run folder"):
        run_layout.record_mesh(run, "out/secret.glb")
