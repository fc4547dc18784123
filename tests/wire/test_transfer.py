"""Files over the protocol (``img23d_protocol.transfer``): chunking, receiving, and a hostile peer.

Everything here runs without a process: chunks are made and fed as the two ends would.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import pytest

from img23d_protocol import (CHUNK_BYTES, MAX_LINE_BYTES, REQUEST_TYPES, Chunk, ErrorCode, ProtocolError, Receiver,
                             UploadRequest, decode, decode_chunk, encode_chunk, file_digest, iter_chunks, local_path)

SIZES = {"empty": 0, "one byte": 1, "one chunk": CHUNK_BYTES, "one chunk and a byte": CHUNK_BYTES + 1,
         "many chunks": 3 * CHUNK_BYTES + 12345}


def _payload(size: int) -> bytes:
    return (hashlib.sha256(b"seed").digest() * (size // 32 + 1))[:size]


def _listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def _send(payload: bytes, chunk_bytes: int = CHUNK_BYTES) -> list[Chunk]:
    """The chunk events a backend sends for ``payload``, each through the wire and back."""
    handle = io.BytesIO(payload)
    size, sha = file_digest(handle)
    chunks = []
    for offset, block in iter_chunks(handle, size, chunk_bytes):
        first = offset == 0
        event = Chunk(id="f", offset=offset, data=encode_chunk(block), size=size if first else None,
                      sha256=sha if first else None)
        line = event.to_line()
        assert len(line.encode("utf-8")) < MAX_LINE_BYTES
        chunks.append(decode(line, {"chunk": Chunk}))
    return chunks


def _receive(chunks: list[Chunk], destination: Path) -> Path:
    receiver = Receiver(destination, chunks[0].size, chunks[0].sha256)
    for chunk in chunks:
        receiver.write(chunk.offset, decode_chunk(chunk.data))
    return receiver.finish()


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_a_chunked_file_arrives_byte_for_byte(tmp_path: Path, size: int) -> None:
    payload = _payload(size)
    chunks = _send(payload)
    assert len(chunks) == max(1, -(-size // CHUNK_BYTES))
    destination = tmp_path / "rüns" / "20261123-家" / "barrel ünï.glb"
    assert _receive(chunks, destination) == destination
    assert destination.read_bytes() == payload
    assert _listing(tmp_path) == ["rüns", "rüns/20261123-家", "rüns/20261123-家/barrel ünï.glb"]


def test_upload_chunks_round_trip_the_wire() -> None:
    block = bytes(range(256)) * 3
    message = UploadRequest(id="u", name="phötö.png", size=len(block), sha256=hashlib.sha256(block).hexdigest(),
                            offset=0, data=encode_chunk(block), done=True)
    again = decode(message.to_line(), REQUEST_TYPES)
    assert again == message and decode_chunk(again.data) == block


def test_a_full_chunk_line_stays_under_the_line_limit() -> None:
    line = Chunk(id="x" * 64, offset=10 ** 12, data=encode_chunk(b"\xff" * CHUNK_BYTES), size=10 ** 12,
                 sha256="a" * 64).to_line()
    assert len(line.encode("utf-8")) < 0.75 * MAX_LINE_BYTES


@pytest.mark.parametrize("field, value", [("offset", -1), ("offset", "0"), ("size", True), ("size", 1.5),
                                          ("done", "yes"), ("data", 5), ("sha256", ["a"])])
def test_badly_typed_upload_fields_are_bad_requests(field: str, value: object) -> None:
    data = {"v": 1, "type": "upload", "id": "u", "name": "a.png", field: value}
    with pytest.raises(ProtocolError, match=field) as excinfo:
        decode(json.dumps(data), REQUEST_TYPES)
    assert excinfo.value.code is ErrorCode.BAD_REQUEST


# --- a hostile peer: nothing half written, nothing outside ------------------------------------

def _refused(excinfo: pytest.ExceptionInfo[ProtocolError], *words: str) -> None:
    assert excinfo.value.code is ErrorCode.BAD_REQUEST
    for word in words:
        assert word in excinfo.value.message


def test_more_bytes_than_announced_are_refused_and_leave_nothing(tmp_path: Path) -> None:
    chunks = _send(_payload(2 * CHUNK_BYTES))
    receiver = Receiver(tmp_path / "a.glb", CHUNK_BYTES, chunks[0].sha256)  # announces half
    receiver.write(0, decode_chunk(chunks[0].data))
    with pytest.raises(ProtocolError) as excinfo:
        receiver.write(chunks[1].offset, decode_chunk(chunks[1].data))
    _refused(excinfo, "more bytes", str(CHUNK_BYTES))
    assert _listing(tmp_path) == []
    assert not receiver.active


def test_fewer_bytes_than_announced_are_refused_at_the_end(tmp_path: Path) -> None:
    chunks = _send(_payload(10))
    receiver = Receiver(tmp_path / "a.glb", 11, chunks[0].sha256)
    receiver.write(0, decode_chunk(chunks[0].data))
    with pytest.raises(ProtocolError) as excinfo:
        receiver.finish()
    _refused(excinfo, "10 bytes came, 11")
    assert _listing(tmp_path) == []


def test_a_wrong_checksum_is_refused_and_an_older_file_stays(tmp_path: Path) -> None:
    destination = tmp_path / "a.glb"
    destination.write_bytes(b"the old mesh")
    chunks = _send(_payload(CHUNK_BYTES + 5))
    receiver = Receiver(destination, chunks[0].size, hashlib.sha256(b"something else").hexdigest())
    for chunk in chunks:
        receiver.write(chunk.offset, decode_chunk(chunk.data))
    with pytest.raises(ProtocolError) as excinfo:
        receiver.finish()
    _refused(excinfo, "sha256")
    assert _listing(tmp_path) == ["a.glb"] and destination.read_bytes() == b"the old mesh"


@pytest.mark.parametrize("order", [[1, 0, 2], [0, 2, 1], [0, 0, 1, 2]], ids=["swapped", "skipped", "repeated"])
def test_chunks_out_of_order_are_refused(tmp_path: Path, order: list[int]) -> None:
    chunks = _send(_payload(3 * CHUNK_BYTES))
    receiver = Receiver(tmp_path / "a.glb", chunks[0].size, chunks[0].sha256)
    with pytest.raises(ProtocolError) as excinfo:
        for index in order:
            receiver.write(chunks[index].offset, decode_chunk(chunks[index].data))
        receiver.finish()
    _refused(excinfo, "out of order")
    assert _listing(tmp_path) == []


@pytest.mark.parametrize("size, sha", [(3 * 1024 ** 3, "a" * 64), (-1, "a" * 64), ("12", "a" * 64),
                                       (12, "A" * 64), (12, "abc"), (12, None)])
def test_an_announcement_over_the_limit_or_malformed_is_refused_before_any_file(tmp_path: Path, size: object,
                                                                               sha: object) -> None:
    with pytest.raises(ProtocolError) as excinfo:
        Receiver(tmp_path / "a.glb", size, sha)
    assert excinfo.value.code is ErrorCode.BAD_REQUEST
    assert _listing(tmp_path) == []


def test_a_chunk_that_is_not_base64_is_refused() -> None:
    with pytest.raises(ProtocolError) as excinfo:
        decode_chunk("not base64!\n")
    _refused(excinfo, "base64")


def test_a_spent_receiver_takes_nothing_more(tmp_path: Path) -> None:
    chunks = _send(b"abc")
    receiver = Receiver(tmp_path / "a.bin", 3, chunks[0].sha256)
    receiver.write(0, b"abc")
    receiver.finish()
    with pytest.raises(ProtocolError, match="already over"):
        receiver.write(3, b"")
    assert _listing(tmp_path) == ["a.bin"]


# --- local_path: the mirror of a remote path --------------------------------------------------

REMOTE = "/home/artist/img23d-runs"


def test_a_remote_run_file_maps_into_the_local_mirror(tmp_path: Path) -> None:
    local = local_path(REMOTE, f"{REMOTE}/20261123-house ünï/crops/家.png", tmp_path)
    assert local == tmp_path / "20261123-house ünï" / "crops" / "家.png"
    assert local_path(REMOTE + "/", f"{REMOTE}/r/a.glb", tmp_path) == tmp_path / "r" / "a.glb"


@pytest.mark.parametrize("remote", [
    f"{REMOTE}/../../etc/passwd",
    f"{REMOTE}/run/../../outside.glb",
    f"{REMOTE}/run/./a.glb",
    f"{REMOTE}//a.glb",
    f"{REMOTE}/run/",
    "/etc/passwd",
    f"{REMOTE}-other/a.glb",          # a sibling that only starts with the root's name
    REMOTE,
    "run/a.glb",
    "",
    f"{REMOTE}/run/a\x00.glb",
    f"{REMOTE}/run/a\n.glb",
    f"{REMOTE}/run/..\\..\\x.glb",      # a separator on a Windows machine
    f"{REMOTE}/C:/x.glb",
])
def test_a_remote_path_that_could_leave_the_mirror_is_refused(tmp_path: Path, remote: str) -> None:
    with pytest.raises(ProtocolError) as excinfo:
        local_path(REMOTE, remote, tmp_path)
    assert excinfo.value.code is ErrorCode.BAD_REQUEST
    assert _listing(tmp_path) == []


@pytest.mark.parametrize("root", ["relative/runs", "", "/runs\x00"])
def test_a_remote_root_that_is_not_an_absolute_posix_path_is_refused(tmp_path: Path, root: str) -> None:
    with pytest.raises(ProtocolError):
        local_path(root, f"{root}/a.glb", tmp_path)


def test_a_symbolic_link_in_the_local_mirror_cannot_lead_outside(tmp_path: Path) -> None:
    mirror, elsewhere = tmp_path / "mirror", tmp_path / "elsewhere"
    mirror.mkdir()
    elsewhere.mkdir()
    os.symlink(elsewhere, mirror / "run")
    with pytest.raises(ProtocolError, match="outside the local runs folder"):
        local_path(REMOTE, f"{REMOTE}/run/a.glb", mirror)
    assert _listing(elsewhere) == []


def test_a_file_that_shrank_while_it_was_sent_is_one_error_not_chunks_that_never_end() -> None:
    """Its chunks ended with none marked the last: the receiver (the add-on's upload, a fetch) waited for one."""
    sent = []
    with pytest.raises(ProtocolError, match="the file changed while it was sent: it ended at 100 of the 200") as caught:
        for offset, block in iter_chunks(io.BytesIO(b"x" * 100), 200, 64):
            sent.append((offset, len(block)))
    assert sent == [(0, 64), (64, 36)] and caught.value.code is ErrorCode.DISK
