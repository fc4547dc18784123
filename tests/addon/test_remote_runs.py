"""Import Run from the host, the add-on's end (``client/remote_runs.py``): a run of the backend
fetched file by file into the local mirror, the manifest last, against an honest and a hostile
peer played here with the protocol's own helpers (each message through the wire format)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fetch_replies import fetch_answer, wire

from img23d_client import remote_runs
from img23d_client import transfer
protocol = transfer.protocol

REMOTE = "/srv/gpu/img23d-runs"
RUN = f"{REMOTE}/20261123-101500-house_scene"
FILES = {"house.glb": b"glTF" * 5000, "crops/house.png": b"png" * 100, "detections.json": b"{}",
         "manifest.json": b'{"status": "interrupted"}'}


def _listing(request, files: dict[str, bytes], run: str = RUN):
    entries = [{"path": name, "size": len(data)} for name, data in files.items()]
    return wire(protocol.Result(id=request.id, data={"run": run, "files": entries}))


class Backend:
    """Answers each request of a download as an honest backend would, and records the order."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files, self.fetched, self.most_in_flight = files, [], 0

    def run(self, download) -> None:
        outgoing = download.start()
        [listing_request] = outgoing
        assert wire(listing_request, protocol.REQUEST_TYPES) == listing_request
        pending = list(download.handle(_listing(listing_request, self.files)))
        while pending:
            self.most_in_flight = max(self.most_in_flight, len(pending))
            request = pending.pop(0)
            self.fetched.append(request.path)
            for message in fetch_answer(request.id, self.files[request.path[len(RUN) + 1:]]):
                assert download.owns(message)
                pending.extend(download.handle(message))


def test_every_file_of_the_run_arrives_and_the_manifest_comes_last(tmp_path: Path) -> None:
    download = remote_runs.RunDownload(transfer.Mirror(REMOTE, tmp_path / "mirror"), RUN, "gpu-box")
    backend = Backend(FILES)
    backend.run(download)
    assert download.done and not download.error and download.progress == "4 of 4 files"
    assert backend.fetched[-1] == f"{RUN}/manifest.json"
    assert backend.most_in_flight <= remote_runs.FETCH_WINDOW
    assert download.local_dir == tmp_path / "mirror" / "20261123-101500-house_scene"
    for name, data in FILES.items():
        assert (download.local_dir / name).read_bytes() == data


def test_a_listing_that_names_a_file_outside_the_run_fetches_nothing(tmp_path: Path) -> None:
    mirror_root = tmp_path / "mirror"
    download = remote_runs.RunDownload(transfer.Mirror(REMOTE, mirror_root), RUN, "gpu-box")
    [request] = download.start()
    assert download.handle(_listing(request, {"house.glb": b"x", "../../../.bashrc": b"evil"})) == []
    assert download.done and "cannot name a file" in download.error and "gpu-box" in download.error
    assert not mirror_root.exists() or not any(mirror_root.rglob("*"))


def test_a_listing_of_another_run_or_without_a_manifest_is_refused(tmp_path: Path) -> None:
    for files, run, why in (({"a.glb": b"x"}, RUN, "has no manifest"),
                            (FILES, f"{REMOTE}/another", "not '")):
        download = remote_runs.RunDownload(transfer.Mirror(REMOTE, tmp_path / "mirror"), RUN, "gpu-box")
        [request] = download.start()
        assert download.handle(_listing(request, files, run)) == []
        assert why in download.error


def test_a_file_with_more_bytes_than_announced_ends_the_download_and_leaves_no_manifest(tmp_path: Path) -> None:
    download = remote_runs.RunDownload(transfer.Mirror(REMOTE, tmp_path / "mirror"), RUN, "gpu-box")
    [request] = download.start()
    fetches = download.handle(_listing(request, FILES))
    glb = next(f for f in fetches if f.path.endswith("house.glb"))
    lie = fetch_answer(glb.id, FILES["house.glb"])
    lie[0] = wire(protocol.Chunk(id=glb.id, offset=0, data=protocol.encode_chunk(b"glTF" * 9000), size=10,
                                  sha256=lie[0].sha256))
    for message in lie:
        download.handle(message)
    # Refused at the first chunk already: it announces other than the listing said.
    assert download.done and "the transfer announces 10 bytes, the run's listing said 20,000" in download.error
    assert not (download.local_dir / "manifest.json").exists() and not list(download.local_dir.rglob(".tmp-*"))


def test_a_backend_that_goes_away_mid_download_leaves_no_half_file(tmp_path: Path) -> None:
    download = remote_runs.RunDownload(transfer.Mirror(REMOTE, tmp_path / "mirror"), RUN, "gpu-box")
    [request] = download.start()
    fetches = download.handle(_listing(request, FILES))
    glb = next(f for f in fetches if f.path.endswith("house.glb"))
    download.handle(fetch_answer(glb.id, FILES["house.glb"])[0])  # one chunk of three
    download.close("the connection to gpu-box was lost")
    assert download.done and "connection to gpu-box was lost" in download.error
    assert not list((tmp_path / "mirror").rglob("*.glb")) and not list((tmp_path / "mirror").rglob(".tmp-*"))


@pytest.mark.parametrize("path", ["/etc", f"{REMOTE}/../etc", f"{REMOTE}/a/../../etc"])
def test_a_run_listed_outside_the_runs_folder_is_refused(tmp_path: Path, path: str) -> None:
    mirror = transfer.Mirror(REMOTE, tmp_path / "mirror")
    entry = {"path": path, "name": path.rsplit("/", 1)[-1], "status": "finished"}
    with pytest.raises(protocol.ProtocolError):
        remote_runs.parse_runs(wire(protocol.Result(id="r", data={"runs": [entry]})), mirror)


def test_a_run_brought_under_another_name_is_regenerated_as_the_hosts(tmp_path: Path) -> None:
    """Brought home as "<run>-2" (the live job's mirror was there), its Regenerate asked the host for "<run>-2":
    "the run folder is gone". The run says the host's name for it, and the new meshes land in it here."""
    from img23d_client import remote_jobs

    mirror_root = tmp_path / "mirror"
    (mirror_root / "20261123-101500-house_scene").mkdir(parents=True)   # the live job's mirror
    mirror = transfer.Mirror(REMOTE, mirror_root)
    download = remote_runs.RunDownload(mirror, RUN, "gpu-box")
    Backend(FILES).run(download)
    assert download.done and download.local_dir.name == "20261123-101500-house_scene-2"
    request = protocol.RegenerateRequest(run=str(download.local_dir), keys=["house"])
    job = remote_jobs.RemoteJob(request, mirror, "gpu-box")
    assert request.run == RUN
    new_mesh = f"{RUN}/regenerated/20261123-120000-regenerate/house.glb"
    assert job._local_of(new_mesh) == download.local_dir / "regenerated" / "20261123-120000-regenerate" / "house.glb"
    assert sorted(p.name for p in download.local_dir.iterdir()) == ["crops", "detections.json", "house.glb",
                                                                    "manifest.json"]   # the host's files alone
    # The file is read from the disk, not trusted: one naming a folder outside the host's runs folder is ignored.
    (mirror_root / transfer.HOST_RUNS).write_text('{"20261123-101500-house_scene-2": "/etc"}')
    elsewhere = protocol.RegenerateRequest(run=str(download.local_dir), keys=["house"])
    remote_jobs.RemoteJob(elsewhere, mirror, "gpu-box")
    assert elsewhere.run == f"{REMOTE}/20261123-101500-house_scene-2"


def test_a_host_name_that_cannot_be_noted_leaves_the_run_as_it_came(tmp_path: Path, monkeypatch) -> None:
    """A full disk as the host's name of a run brought home under another is noted: raised, it would have stopped
    the backend as a message that could not be taken; the run is whole, only its Regenerate asks the local name."""
    local = tmp_path / "20261123-101500-house_scene-2"
    local.mkdir()

    def full(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    transfer.note_host_run(local, RUN)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == [local.name]
    assert transfer.host_run_of(local, REMOTE) is None
