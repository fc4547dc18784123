"""Disk against a hostile host (issue 34, item 2): what a job or an imported run may write here is
bounded in files and bytes as announced and as streamed, in files open at once, and by the free
space left; a refused transfer leaves no temporary file. Played against ``transfer.Mirror``,
``RemoteJob`` and ``RunDownload`` with the protocol's own messages."""

from __future__ import annotations

import io
from pathlib import Path

import pytest


from img23d_client import disk_ledger
from img23d_client import remote_jobs
from img23d_client import remote_runs
from img23d_client import transfer
protocol = transfer.protocol

REMOTE = "/srv/gpu/img23d-runs"
RUN = f"{REMOTE}/20261124-120000-house"


def _wire(message):
    return protocol.decode(message.to_line(), protocol.EVENT_TYPES)


def _answer(fetch_id: str, payload: bytes, chunk: int = 8192) -> list:
    handle = io.BytesIO(payload)
    size, sha = protocol.file_digest(handle)
    chunks = [protocol.Chunk(id=fetch_id, offset=offset, data=protocol.encode_chunk(block),
                             size=size if offset == 0 else None, sha256=sha if offset == 0 else None)
              for offset, block in protocol.iter_chunks(handle, size, chunk)]
    return [_wire(m) for m in [*chunks, protocol.Result(id=fetch_id, data={"size": size, "sha256": sha})]]


def _leftovers(root: Path) -> list[Path]:
    return list(root.rglob(".tmp-*")) if root.exists() else []


def test_a_listing_that_says_0_bytes_then_streams_5_mb_is_refused(tmp_path: Path) -> None:
    download = remote_runs.RunDownload(transfer.Mirror(REMOTE, tmp_path), RUN, "gpu-box")
    [listing] = download.start()
    entries = [{"path": "house.glb", "size": 0}, {"path": "manifest.json", "size": 2}]
    fetches = download.handle(_wire(protocol.Result(id=listing.id, data={"run": RUN, "files": entries})))
    glb = next(f for f in fetches if f.path.endswith("house.glb"))
    for message in _answer(glb.id, b"\0" * (5 << 20), chunk=protocol.CHUNK_BYTES):
        download.handle(message)
    assert download.done and "announces 5,242,880 bytes, the run's listing said 0" in download.error
    assert not (tmp_path / "20261124-120000-house").exists() and _leftovers(tmp_path) == []


def _job(tmp_path: Path, budget):
    job = remote_jobs.RemoteJob(protocol.GenerateRequest(id="job-1", image=""), transfer.Mirror(REMOTE, tmp_path),
                                "gpu-box", budget=budget)
    job.handle(_wire(protocol.Artifact(job="job-1", kind="run", path=RUN)))
    return job


def _mesh(job, name: str, payload: bytes) -> list:
    send, out = job.handle(_wire(protocol.Artifact(job="job-1", kind="mesh", path=f"{RUN}/{name}", target=name)))
    for request in send:
        for message in _answer(request.id, payload):
            out.extend(job.handle(message)[1])
    return out


def test_a_job_may_not_bring_more_files_than_its_budget(tmp_path: Path) -> None:
    job = _job(tmp_path, transfer.Budget(max_files=2, max_bytes=1 << 20))
    for index in range(2):
        [artifact] = _mesh(job, f"m{index}.glb", b"glTF")
        assert isinstance(artifact, protocol.Artifact)
    [error] = _mesh(job, "m2.glb", b"glTF")
    assert isinstance(error, protocol.Error) and "more than the 2 files one run may bring here" in error.message
    assert not (tmp_path / "20261124-120000-house" / "m2.glb").exists() and _leftovers(tmp_path) == []


def test_a_job_may_not_bring_more_bytes_than_its_budget(tmp_path: Path) -> None:
    job = _job(tmp_path, transfer.Budget(max_files=100, max_bytes=10_000))
    assert isinstance(_mesh(job, "a.glb", b"x" * 6000)[0], protocol.Artifact)
    [error] = _mesh(job, "b.glb", b"x" * 6000)
    assert "more than the 10,000 bytes one run may bring here" in error.message
    assert not (tmp_path / "20261124-120000-house" / "b.glb").exists() and _leftovers(tmp_path) == []


def test_at_most_so_many_files_are_written_at_once(tmp_path: Path) -> None:
    mirror = transfer.Mirror(REMOTE, tmp_path)
    requests = [mirror.request(f"{RUN}/f{i}.bin") for i in range(transfer.MAX_OPEN_FETCHES + 1)]
    refused = []
    for request in requests:  # every file's first half only: all of them open at once
        first = _answer(request.id, b"ab" * 10, chunk=20)[0]
        try:
            mirror.feed(first)
        except protocol.ProtocolError as exc:
            refused.append(exc.message)
    assert len(refused) == 1 and f"more than {transfer.MAX_OPEN_FETCHES} files sent at once" in refused[0]
    assert len(_leftovers(tmp_path)) == transfer.MAX_OPEN_FETCHES
    mirror.close()
    assert _leftovers(tmp_path) == []


def test_a_fetch_that_would_fill_the_disk_is_refused_before_its_first_byte(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(disk_ledger, "free_bytes", lambda folder: disk_ledger.FREE_SPACE_RESERVE + 1000)
    mirror = transfer.Mirror(REMOTE, tmp_path)
    request = mirror.request(f"{RUN}/house.glb")
    with pytest.raises(protocol.ProtocolError) as caught:
        for message in _answer(request.id, b"x" * 5000):
            mirror.handle(message)
    assert caught.value.code is protocol.ErrorCode.DISK
    message = caught.value.message
    assert "would leave less than 512 MB free on the disk" in message and "free some space" in message
    assert _leftovers(tmp_path) == [] and not (tmp_path / "20261124-120000-house" / "house.glb").exists()
