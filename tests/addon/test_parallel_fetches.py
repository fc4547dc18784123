"""The free-space reserve under parallel fetches (issue 46, item 2): a host that opens many
transfers before finishing any must not fill the disk. Every receiver in progress counts what it
is still owed against the free space (``disk_ledger``), in a job's fetches and Import Run from
Host alike; a refused file leaves nothing behind, and a finished or failed one gives its room back.

The disk is a chosen figure that behaves like one: ``ROOM`` bytes beyond the reserve, less what is
really written under the test's folder, so the bytes a receiver writes leave the free space as
they would on a disk. Played with the protocol's own messages against ``RemoteJob`` and
``RunDownload``, as the session drives them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from fetch_replies import played_download, wire
from img23d_client import disk_ledger, remote_jobs, transfer

protocol = transfer.protocol

REMOTE = "/srv/gpu/img23d-runs"
RUN = f"{REMOTE}/20261124-120000-house"
ROOM = 100_000       # what the disk holds beyond the reserve
SIZE = 30_000        # what each of the host's files announces
FIRST = 10_000       # what its first chunk brings


def _written(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


@pytest.fixture
def disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on a disk with ``ROOM`` bytes free beyond the reserve, less what is written in it."""
    monkeypatch.setattr(disk_ledger, "free_bytes",
                        lambda folder: disk_ledger.FREE_SPACE_RESERVE + ROOM - _written(tmp_path))
    assert disk_ledger.LEDGER.owed(tmp_path) == 0, "an earlier test left a transfer open"
    return tmp_path


def _committed(root: Path) -> int:
    """What the disk is promised: the bytes written, and those every receiver in progress awaits."""
    return _written(root) + disk_ledger.LEDGER.owed(root)


def _first_chunk(fetch_id: str, payload: bytes) -> protocol.Chunk:
    """The first chunk of ``payload``: it announces the whole file, and brings ``FIRST`` bytes."""
    return wire(protocol.Chunk(id=fetch_id, offset=0, data=protocol.encode_chunk(payload[:FIRST]), size=len(payload),
                               sha256=hashlib.sha256(payload).hexdigest()))


def _rest(fetch_id: str, payload: bytes) -> list:
    """What follows the first chunk: the rest of ``payload`` in one chunk, then the result."""
    return [wire(protocol.Chunk(id=fetch_id, offset=FIRST, data=protocol.encode_chunk(payload[FIRST:]))),
            wire(protocol.Result(id=fetch_id, data={"size": len(payload),
                                                    "sha256": hashlib.sha256(payload).hexdigest()}))]


def _leftovers(root: Path) -> list[Path]:
    return sorted(root.rglob(".tmp-*"))


def _job(root: Path) -> remote_jobs.RemoteJob:
    job = remote_jobs.RemoteJob(protocol.GenerateRequest(id="job-1", image=""), transfer.Mirror(REMOTE, root),
                                "gpu-box")
    job.handle(wire(protocol.Artifact(job="job-1", kind="run", path=RUN)))
    return job


def _flood(job: remote_jobs.RemoteJob, root: Path, count: int) -> list:
    """The host announces ``count`` meshes nobody asked for and starts every one before finishing
    any; returns the fetches that were let in (the others were refused at their first chunk)."""
    fetches = []
    for index in range(count):
        send, out = job.handle(wire(protocol.Artifact(job="job-1", kind="mesh", path=f"{RUN}/invented-{index}.glb",
                                                      target=f"invented-{index}")))
        fetches += send
        assert out == []
    for fetch in fetches:
        job.handle(_first_chunk(fetch.id, b"x" * SIZE))
        assert _committed(root) <= ROOM, "the receivers in progress were promised more than the disk holds"
    return [fetch for fetch in fetches if fetch.id in job.mirror.in_flight]


def test_a_host_that_opens_many_transfers_at_once_never_passes_the_reserve(disk: Path) -> None:
    job = _job(disk)
    let_in = _flood(job, disk, 7)
    assert len(let_in) == ROOM // SIZE        # three files of 30,000 bytes fit in 100,000
    # A refused file left nothing: only the files let in are being written.
    assert len(_leftovers(disk)) == len(let_in) and not list(disk.rglob("invented-*.glb"))
    job.close()  # the host went away without finishing them
    assert _leftovers(disk) == [] and not list(disk.rglob("invented-*.glb"))
    assert disk_ledger.LEDGER.owed(disk) == 0


def test_the_files_let_in_arrive_and_the_others_are_refused_in_one_sentence(disk: Path) -> None:
    job = _job(disk)
    out = []
    for fetch in _flood(job, disk, 5):
        for message in _rest(fetch.id, b"x" * SIZE):
            out += job.handle(message)[1]
            assert _written(disk) <= ROOM
    arrived = [m for m in out if isinstance(m, protocol.Artifact)]
    refused = [m for m in out if isinstance(m, protocol.Error)]
    assert [m.target for m in arrived] == ["invented-0", "invented-1", "invented-2"]
    assert [m.target for m in refused] == ["invented-3", "invented-4"]
    assert all("30,000 bytes would leave less than 512 MB free on the disk of" in m.message
               and "bytes of other files still arriving" in m.message for m in refused)
    assert sorted(p.name for p in disk.rglob("*.glb")) == ["invented-0.glb", "invented-1.glb", "invented-2.glb"]
    assert _leftovers(disk) == [] and disk_ledger.LEDGER.owed(disk) == 0


def test_import_run_from_host_shares_the_room_with_a_job_in_progress(disk: Path) -> None:
    job = _job(disk)
    assert len(_flood(job, disk, 3)) == 3    # the job's three files take the room, and are not done
    files = {"house.glb": b"h" * SIZE, "manifest.json": b'{"status": "finished"}'}
    download = played_download(transfer.Mirror(REMOTE, disk), RUN, files)
    assert download.done and "house.glb: 30,000 bytes would leave less than 512 MB free" in download.error
    assert _committed(disk) <= ROOM
    assert not (disk / "20261124-120000-house-2").exists()   # the download's folder went with it
    job.close()
    download = played_download(transfer.Mirror(REMOTE, disk), RUN, files)   # the room is back
    assert download.error == "" and (download.local_dir / "house.glb").read_bytes() == files["house.glb"]


def test_a_finished_or_failed_file_gives_its_room_back(disk: Path) -> None:
    mirror = transfer.Mirror(REMOTE, disk)
    payload = b"y" * SIZE
    honest = mirror.request(f"{RUN}/a.glb")
    mirror.feed(_first_chunk(honest.id, payload))
    assert disk_ledger.LEDGER.owed(disk) == SIZE - FIRST
    for message in _rest(honest.id, payload):
        mirror.handle(message)
    assert disk_ledger.LEDGER.owed(disk) == 0 and (disk / "20261124-120000-house" / "a.glb").is_file()
    broken = mirror.request(f"{RUN}/b.glb")
    mirror.feed(_first_chunk(broken.id, payload))
    assert disk_ledger.LEDGER.owed(disk) == SIZE - FIRST
    with pytest.raises(protocol.ProtocolError, match="out of order"):
        mirror.feed(wire(protocol.Chunk(id=broken.id, offset=5, data=protocol.encode_chunk(b"z"))))
    assert disk_ledger.LEDGER.owed(disk) == 0 and _leftovers(disk) == []


def test_a_transfer_dropped_without_closing_gives_its_room_back(disk: Path) -> None:
    mirror = transfer.Mirror(REMOTE, disk)
    fetch = mirror.request(f"{RUN}/a.glb")
    mirror.feed(_first_chunk(fetch.id, b"y" * SIZE))
    assert disk_ledger.LEDGER.owed(disk) == SIZE - FIRST
    del mirror, fetch  # a job forgotten mid-transfer: nothing may hold the disk for the rest of the session
    assert disk_ledger.LEDGER.owed(disk) == 0


def test_one_ledger_for_every_mirror_of_the_process(disk: Path) -> None:
    # Two mirrors (a job's and an import's): together they are held to the one disk's room.
    first, second = transfer.Mirror(REMOTE, disk), transfer.Mirror(REMOTE, disk)
    payload = b"w" * SIZE
    for mirror, name in ((first, "a.glb"), (second, "b.glb"), (first, "c.glb")):
        mirror.feed(_first_chunk(mirror.request(f"{RUN}/{name}").id, payload))
    with pytest.raises(protocol.ProtocolError) as caught:
        second.feed(_first_chunk(second.request(f"{RUN}/late.glb").id, payload))
    assert caught.value.code is protocol.ErrorCode.DISK and "60,000 bytes of other files still arriving" in \
        caught.value.message
    assert _committed(disk) <= ROOM and not (disk / "20261124-120000-house" / "late.glb").exists()
    first.close()
    second.close()
    assert _leftovers(disk) == []

