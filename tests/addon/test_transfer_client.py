"""The add-on's end of file transfer (``client/transfer.py``): uploads as requests, and a local
mirror of the backend's runs folder fed by chunk messages, against an honest and a hostile peer.

The backend's side is played here with the protocol's own helpers, each message through the
wire format and back, so nothing needs a process."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest


from img23d_client import transfer
protocol = transfer.protocol

REMOTE = "/srv/gpu/img23d-runs"
RUN = f"{REMOTE}/20261123-101500-house_scene"


def _wire(message, registry):
    return protocol.decode(message.to_line(), registry)


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir())


def _backend_answer(fetch_id: str, payload: bytes, chunk_bytes: int = protocol.CHUNK_BYTES) -> list:
    """What an honest backend sends for one fetch: chunks, then the result."""
    handle = io.BytesIO(payload)
    size, sha = protocol.file_digest(handle)
    messages = [protocol.Chunk(id=fetch_id, offset=offset, data=protocol.encode_chunk(block),
                               size=size if offset == 0 else None, sha256=sha if offset == 0 else None)
                for offset, block in protocol.iter_chunks(handle, size, chunk_bytes)]
    messages.append(protocol.Result(id=fetch_id, data={"path": "", "size": size, "sha256": sha}))
    return [_wire(m, protocol.EVENT_TYPES) for m in messages]


def _drive(mirror, messages: list) -> list[Path]:
    done = []
    for message in messages:
        assert mirror.owns(message)
        path = mirror.handle(message)
        if path is not None:
            done.append(path)
    return done


# --- uploads ----------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [0, 1, protocol.CHUNK_BYTES, 2 * protocol.CHUNK_BYTES + 7])
def test_upload_requests_carry_the_file_whole(tmp_path: Path, size: int) -> None:
    source = tmp_path / "phötö 家.png"
    source.write_bytes(os.urandom(size))
    requests = [_wire(r, protocol.REQUEST_TYPES) for r in transfer.upload_chunks(source, "up-1")]
    assert len(requests) == max(1, -(-size // protocol.CHUNK_BYTES))
    assert {(r.id, r.name, r.size, r.sha256) for r in requests} == {
        ("up-1", source.name, size, hashlib.sha256(source.read_bytes()).hexdigest())}
    assert [r.done for r in requests] == [False] * (len(requests) - 1) + [True]
    receiver = protocol.Receiver(tmp_path / "there" / "x.png", requests[0].size, requests[0].sha256)
    for request in requests:
        receiver.write(request.offset, protocol.decode_chunk(request.data))
    assert receiver.finish().read_bytes() == source.read_bytes()


def test_an_unreadable_file_is_refused_before_any_request(tmp_path: Path) -> None:
    with pytest.raises(protocol.ProtocolError, match="cannot read"):
        transfer.upload_chunks(tmp_path / "missing.png", "up-2")


# --- the mirror: an honest backend ------------------------------------------------------------

@pytest.fixture
def local(tmp_path: Path) -> Path:
    return tmp_path / "local runs"


def test_fetched_files_land_where_the_remote_run_has_them(local: Path) -> None:
    mirror = transfer.Mirror(REMOTE, local)
    mesh, manifest = os.urandom(3 * protocol.CHUNK_BYTES + 11), b'{"status": "finished"}\n'
    first = mirror.request(f"{RUN}/chimney.glb")
    second = mirror.request(f"{RUN}/manifest.json")
    assert sorted(mirror.in_flight) == sorted([first.id, second.id])
    answers = _backend_answer(first.id, mesh)
    interleaved = [answers[0], *_backend_answer(second.id, manifest), *answers[1:]]
    assert _drive(mirror, interleaved) == [local / RUN[len(REMOTE) + 1:] / "manifest.json",
                                           local / RUN[len(REMOTE) + 1:] / "chimney.glb"]
    assert (local / "20261123-101500-house_scene" / "chimney.glb").read_bytes() == mesh
    assert _files(local) == ["20261123-101500-house_scene/chimney.glb", "20261123-101500-house_scene/manifest.json"]
    assert mirror.in_flight == []


def test_an_empty_file_arrives_as_an_empty_file(local: Path) -> None:
    mirror = transfer.Mirror(REMOTE + "/", local)
    request = mirror.request(f"{RUN}/crops/家.png")
    assert _drive(mirror, _backend_answer(request.id, b"")) == [local / "20261123-101500-house_scene/crops/家.png"]
    assert (local / "20261123-101500-house_scene/crops/家.png").read_bytes() == b""


def test_a_backend_without_a_runs_folder_in_its_hello_cannot_be_mirrored(local: Path) -> None:
    with pytest.raises(protocol.ProtocolError, match="1.8"):
        transfer.Mirror(None, local)


# --- the mirror: a hostile backend ------------------------------------------------------------

@pytest.mark.parametrize("remote", [f"{REMOTE}/../../home/artist/.bashrc", f"{RUN}/../../../etc/cron.d/x",
                                    "/etc/passwd", f"{REMOTE}-evil/run/a.glb", f"{RUN}/a\x00.glb",
                                    f"{RUN}/a\n.glb", f"{RUN}\\..\\..\\x.glb", REMOTE])
def test_a_remote_path_that_leaves_the_runs_folder_is_refused_before_the_fetch(local: Path, remote: str) -> None:
    mirror = transfer.Mirror(REMOTE, local)
    with pytest.raises(protocol.ProtocolError) as excinfo:
        mirror.request(remote)
    assert excinfo.value.code is protocol.ErrorCode.BAD_REQUEST
    assert mirror.in_flight == [] and not local.exists()


def test_a_symlink_in_the_local_mirror_does_not_lead_writes_outside(tmp_path: Path, local: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    local.mkdir()
    os.symlink(elsewhere, local / "20261123-101500-house_scene")
    with pytest.raises(protocol.ProtocolError, match="outside the local runs folder"):
        transfer.Mirror(REMOTE, local).request(f"{RUN}/a.glb")
    assert _files(elsewhere) == []


def _hostile(mirror, fetch_id: str, fault: str) -> list:
    payload = os.urandom(2 * protocol.CHUNK_BYTES + 5)
    messages = _backend_answer(fetch_id, payload)
    if fault == "more bytes than announced":
        messages[0].size = protocol.CHUNK_BYTES
        messages[-1].data["size"] = protocol.CHUNK_BYTES
    elif fault == "wrong checksum":
        wrong = hashlib.sha256(b"another file").hexdigest()
        messages[0].sha256, messages[-1].data["sha256"] = wrong, wrong
    elif fault == "out of order":
        messages[1], messages[2] = messages[2], messages[1]
    elif fault == "first chunk without a size":
        messages[0].size = None
    elif fault == "result unlike the announcement":
        messages[-1].data["size"] += 1
    elif fault == "not base64":
        messages[1].data = "!!"
    return messages


@pytest.mark.parametrize("fault, words", [("more bytes than announced", "more bytes"), ("wrong checksum", "sha256"),
                                          ("out of order", "out of order"), ("first chunk without a size", "size"),
                                          ("result unlike the announcement", "does not match"),
                                          ("not base64", "base64")])
def test_a_hostile_fetch_is_one_error_and_leaves_no_file(local: Path, fault: str, words: str) -> None:
    mirror = transfer.Mirror(REMOTE, local)
    old = local / "20261123-101500-house_scene" / "chimney.glb"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"the mesh from before")
    request = mirror.request(f"{RUN}/chimney.glb")
    errors = []
    for message in _hostile(mirror, request.id, fault):
        try:
            assert mirror.handle(message) is None
        except protocol.ProtocolError as exc:
            errors.append(exc)
    assert len(errors) == 1 and words in errors[0].message, errors
    assert errors[0].code is protocol.ErrorCode.BAD_REQUEST
    assert _files(local) == ["20261123-101500-house_scene/chimney.glb"]
    assert old.read_bytes() == b"the mesh from before"
    assert mirror.in_flight == [] and not mirror.owns(protocol.Chunk(id=request.id))


def test_the_backends_error_mid_fetch_ends_it_without_a_file(local: Path) -> None:
    mirror = transfer.Mirror(REMOTE, local)
    request = mirror.request(f"{RUN}/chimney.glb")
    first = _backend_answer(request.id, os.urandom(protocol.CHUNK_BYTES + 1))[0]
    mirror.handle(first)
    error = _wire(protocol.Error(id=request.id, code="disk", message="cannot read it"), protocol.EVENT_TYPES)
    with pytest.raises(protocol.ProtocolError, match="cannot read it") as excinfo:
        mirror.handle(error)
    assert excinfo.value.code is protocol.ErrorCode.DISK
    assert _files(local) == []


def test_close_drops_fetches_in_flight_and_their_partial_files(local: Path) -> None:
    mirror = transfer.Mirror(REMOTE, local)
    request = mirror.request(f"{RUN}/chimney.glb")
    mirror.handle(_backend_answer(request.id, os.urandom(protocol.CHUNK_BYTES + 1))[0])
    assert len(_files(local)) == 1  # the temporary file of the fetch in flight
    mirror.close()
    assert _files(local) == [] and mirror.in_flight == []


def test_messages_of_other_requests_are_not_the_mirrors(local: Path) -> None:
    mirror = transfer.Mirror(REMOTE, local)
    mirror.request(f"{RUN}/chimney.glb")
    assert not mirror.owns(protocol.Result(id="job-1"))
    assert not mirror.owns(protocol.Artifact(job="job-1", path=f"{RUN}/chimney.glb"))
