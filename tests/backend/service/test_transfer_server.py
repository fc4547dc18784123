"""Files over the protocol with a real ``serve`` process: upload a picture, run a job on it,
fetch what it made (while it runs and after), and refuse what lies outside the runs folder."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from backend_proc import BackendProcess
from img23d_protocol import (ProtocolError, Receiver, RunListing, UploadRequest, decode_chunk, file_digest, iter_chunks,
                             local_path)
from img23d_backend.service import transfers
from img23d_backend.service.transfers import MAX_UPLOADS_IN_FLIGHT, UPLOADS_DIR, Uploads
from testdata import FAST_OPTIONS, HOUSE, MESH

pytestmark = [pytest.mark.process,  # its subject is img23d's processes (pytest.ini)
              pytest.mark.lane_c]  # in lane C all the same, for the lanes' balance

SLOW_SHAPE = {"steps": 200, "octree_resolution": 32}


def _upload_lines(upload_id: str, payload: bytes, name: str, chunk_bytes: int = 32 * 1024) -> list[dict[str, Any]]:
    handle = io.BytesIO(payload)
    size, sha = file_digest(handle)
    lines = []
    for offset, block in iter_chunks(handle, size, chunk_bytes):
        lines.append({"type": "upload", "id": upload_id, "name": name, "size": size, "sha256": sha,
                      "offset": offset, "data": base64.b64encode(block).decode(), "done": offset + len(block) >= size})
    return lines


def _upload(backend: BackendProcess, upload_id: str, payload: bytes, name: str) -> dict[str, Any]:
    for line in _upload_lines(upload_id, payload, name):
        backend.send(line)
    return backend.reply(upload_id)


def _collect_fetch(backend: BackendProcess, fetch_id: str, destination: Path, timeout: float = 60.0) -> Path:
    """Receive one fetch's chunks into ``destination`` as the add-on's mirror does."""
    ends = ("result", "error")
    if not any(e.get("id") == fetch_id and e["type"] in ends for e in backend.seen):  # it may have come already
        backend.next(lambda e: e.get("id") == fetch_id and e["type"] in ends, timeout)
    receiver = None
    for event in [e for e in backend.seen if e.get("id") == fetch_id]:
        if event["type"] == "chunk":
            if receiver is None:
                receiver = Receiver(destination, event["size"], event["sha256"])
            receiver.write(event["offset"], decode_chunk(event["data"]))
        elif event["type"] == "error":
            raise AssertionError(f"fetch {fetch_id} failed: {event}")
        elif event["type"] == "result":
            assert receiver is not None, "a result with no chunk before it"
            assert event["data"]["size"] == receiver.size and event["data"]["sha256"] == receiver.sha256
            return receiver.finish()
    raise AssertionError(f"fetch {fetch_id}: no result")


def test_the_hello_names_the_resolved_runs_folder(backend: BackendProcess, runs_dir: Path) -> None:
    assert backend.hello["runs_dir"] == str(runs_dir.resolve())


def test_an_uploaded_picture_runs_a_job_and_every_mesh_comes_back_byte_for_byte(backend: BackendProcess,
                                                                                tmp_path: Path) -> None:
    picture = HOUSE.read_bytes()
    answer = _upload(backend, "up-house", picture, "house scene.png")
    assert answer["type"] == "result", answer
    uploaded = Path(answer["data"]["path"])
    assert uploaded.read_bytes() == picture
    assert uploaded.parent.parent == Path(backend.hello["runs_dir"]) / UPLOADS_DIR
    assert uploaded.name == "house_scene.png"

    backend.send({"type": "generate", "id": "job-up", "image": str(uploaded), "targets": ["house", "chimney"],
                  "options": FAST_OPTIONS})
    local_root = tmp_path / "local runs"
    fetched: dict[str, Path] = {}
    while True:  # fetch each mesh as soon as it is announced, while the job goes on
        event = backend.next(lambda e: (e["type"] == "artifact" and e["job"] == "job-up" and e["kind"] == "mesh")
                             or (e["type"] in ("result", "error") and e.get("id") == "job-up"), timeout=300)
        if event["type"] != "artifact":
            break
        fetch_id = f"f-{len(fetched)}"
        backend.send({"type": "fetch", "id": fetch_id, "path": event["path"]})
        fetched[event["path"]] = local_path(backend.hello["runs_dir"], event["path"], local_root)
    assert event["type"] == "result", event
    assert len(fetched) == 2
    for index, (remote, local) in enumerate(fetched.items()):
        assert _collect_fetch(backend, f"f-{index}", local) == local
        assert local.read_bytes() == Path(remote).read_bytes()
    # After the job: its manifest, into the same mirror, next to the meshes.
    manifest = event["data"]["manifest"]
    backend.send({"type": "fetch", "id": "f-manifest", "path": manifest})
    local_manifest = _collect_fetch(backend, "f-manifest", local_path(backend.hello["runs_dir"], manifest,
                                                                      local_root))
    assert local_manifest.read_bytes() == Path(manifest).read_bytes()
    assert local_manifest.parent == next(iter(fetched.values())).parent
    assert not [p for p in local_root.rglob(".tmp-*")]


def test_a_file_of_many_chunks_comes_back_whole(backend: BackendProcess, runs_dir: Path, tmp_path: Path) -> None:
    remote = runs_dir / "a run" / "big mesh.glb"
    remote.parent.mkdir()
    remote.write_bytes(MESH.read_bytes() * 2)  # 940 kB: two chunks
    backend.send({"type": "fetch", "id": "f-big", "path": str(remote)})
    local = _collect_fetch(backend, "f-big", tmp_path / "big.glb")
    assert local.read_bytes() == MESH.read_bytes() * 2
    chunks = [e for e in backend.seen if e.get("id") == "f-big" and e["type"] == "chunk"]
    assert [c["offset"] for c in chunks] == [0, 512 * 1024]
    assert chunks[1]["size"] is None and chunks[1]["sha256"] is None


def test_uploads_and_fetches_are_answered_while_a_job_runs(backend: BackendProcess) -> None:
    backend.send({"type": "generate", "id": "job-slow", "image": str(HOUSE), "targets": ["house"],
                  "options": {**FAST_OPTIONS, **SLOW_SHAPE}})
    run = backend.next(lambda e: e["type"] == "artifact" and e["job"] == "job-slow" and e["kind"] == "run", 120)
    backend.next(lambda e: e["type"] == "progress" and e["job"] == "job-slow" and e["stage"] == "shape", 120)
    upload = _upload(backend, "up-during", b"\x89PNG not really", "during.png")
    assert upload["type"] == "result"
    backend.send({"type": "fetch", "id": "f-during", "path": str(Path(run["path"]) / "input.png")})
    fetched = backend.reply("f-during")
    assert fetched["type"] == "result" and fetched["data"]["size"] == (Path(run["path"]) / "input.png").stat().st_size
    status = backend.request({"type": "status", "id": "s-during"})
    assert status["data"]["job"] == "job-slow", "the job ended before the transfers were answered"
    backend.request({"type": "cancel", "id": "c-during", "job": "job-slow"})
    assert backend.reply("job-slow", timeout=60)["code"] == "cancelled"


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    secret = tmp_path_factory.mktemp("outside") / "secret.txt"
    secret.write_text("not for the add-on")
    return secret


@pytest.mark.parametrize("kind", ["absolute elsewhere", "dot-dot", "relative", "symlink out", "folder", "the runs folder",
                                  "missing", "nul"])
def test_a_fetch_of_anything_but_a_file_in_the_runs_folder_is_refused(backend: BackendProcess, runs_dir: Path,
                                                                       outside: Path, kind: str) -> None:
    link = runs_dir / "a link"
    if not link.is_symlink():
        os.symlink(outside, link)
    (runs_dir / "a folder").mkdir(exist_ok=True)
    path, why = {"absolute elsewhere": (str(outside), "not inside the runs folder"),
                 "dot-dot": (f"{runs_dir}/../{outside.parent.name}/{outside.name}", "not inside the runs folder"),
                 "relative": ("a run/big mesh.glb", "not an absolute path"),
                 "symlink out": (str(link), "not inside the runs folder"),
                 "folder": (str(runs_dir / "a folder"), "is not a file"),
                 "the runs folder": (str(runs_dir), "not inside the runs folder"),
                 "missing": (str(runs_dir / "nothing.glb"), "no file at"),
                 "nul": (f"{runs_dir}/a\x00.glb", "needs the path of a file")}[kind]
    fetch_id = f"f-{kind}"
    reply = backend.request({"type": "fetch", "id": fetch_id, "path": path})
    assert reply["type"] == "error" and reply["code"] == "bad_request" and why in reply["message"], reply
    assert not [e for e in backend.seen if e.get("id") == fetch_id and e["type"] == "chunk"]


def _uploads(backend: BackendProcess) -> list[str]:
    root = Path(backend.hello["runs_dir"]) / UPLOADS_DIR
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("fault", ["wrong checksum", "skipped chunk", "more bytes", "over the limit", "not base64"])
def test_a_bad_upload_is_one_clear_error_and_leaves_nothing(backend: BackendProcess, fault: str) -> None:
    before = _uploads(backend)
    upload_id = f"up-{fault}"
    lines = _upload_lines(upload_id, os.urandom(100_000), "bad.png")
    if fault == "wrong checksum":
        lines = [{**line, "sha256": hashlib.sha256(b"other").hexdigest()} for line in lines]
    elif fault == "skipped chunk":
        del lines[1]
    elif fault == "more bytes":
        lines = [{**line, "size": 50_000} for line in lines]
    elif fault == "over the limit":
        lines = [{**line, "size": 3 * 1024 ** 3} for line in lines]
    else:
        lines[1]["data"] = "%%%"
    for line in lines:
        backend.send(line)
    reply = backend.reply(upload_id)
    why = {"wrong checksum": "sha256", "skipped chunk": "out of order",
           "more bytes": "more bytes than", "over the limit": "more than the", "not base64": "base64"}[fault]
    assert reply["type"] == "error" and reply["code"] == "bad_request" and why in reply["message"], reply
    backend.request({"type": "status", "id": f"s-{fault}"})  # every chunk has been read by now
    assert [e for e in backend.seen if e.get("id") == upload_id] == [reply], "one error, then silence"
    assert _uploads(backend) == before


def test_a_dead_backends_uploads_are_removed_and_never_taken_for_runs(tmp_path: Path) -> None:
    from img23d_backend.runs.folders import recover_interrupted
    from img23d_backend.service.transfers import clean_uploads

    uploads = tmp_path / UPLOADS_DIR
    dead, live, other = uploads / "4194999-0a1b2c", uploads / f"{os.getpid()}-3d4e5f", uploads / "notes"
    for folder in (dead, live, other):
        folder.mkdir(parents=True)
    # An upload named like a run's manifest, saying "running" for a process that is gone.
    fake = '{"status": "running", "pid": 4194999, "job_id": "x", "kind": "generate", "backend_version": "0"}'
    (dead / "manifest.json").write_text(fake)
    (live / "manifest.json").write_text(fake)
    (live / ".tmp-half.png").write_bytes(b"half")
    assert recover_interrupted(tmp_path) == []
    assert (live / "manifest.json").read_text() == fake and (live / ".tmp-half.png").exists()
    assert clean_uploads(tmp_path) == [dead]
    assert sorted(p.name for p in uploads.iterdir()) == sorted([live.name, "notes"])


@pytest.mark.parametrize("name, expected", [("house scene.png", "house_scene.png"), ("../../etc/passwd", "passwd"),
                                            ("C:\\Users\\me\\statue.NPZ", "statue.npz"), ("", "upload"),
                                            (".bashrc", "bashrc-"), ("a\x00b\n.png", "a_b-")])
def test_an_uploaded_file_gets_a_safe_name_of_its_own(name: str, expected: str) -> None:
    from img23d_backend.service.transfers import upload_name

    safe = upload_name(name)
    assert safe.startswith(expected) and "/" not in safe and "\\" not in safe and not safe.startswith(".")
    assert all(ch.isprintable() for ch in safe)


def test_the_runs_are_listed_newest_first_and_a_runs_files_each_come_back(backend: BackendProcess,
                                                                         tmp_path: Path) -> None:
    backend.send({"type": "generate", "id": "job-listed", "image": str(HOUSE), "targets": ["barrel"],
                  "options": FAST_OPTIONS})
    done = backend.reply("job-listed", timeout=300)
    assert done["type"] == "result", done
    listing = RunListing.from_dict(backend.request({"type": "runs", "id": "r-all"})["data"])
    assert listing.runs[0].path == done["data"]["run_dir"], "the newest run comes first"
    assert (listing.runs[0].targets, listing.runs[0].done, listing.runs[0].status) == (("barrel",), 1, "finished")
    assert listing.runs[0].image == HOUSE.name
    assert UPLOADS_DIR not in {run.name for run in listing.runs} and "a run" not in {run.name for run in listing.runs}

    files = RunListing.from_dict(backend.request({"type": "runs", "id": "r-one", "run": listing.runs[0].path})["data"])
    names = {f.path for f in files.files}
    assert {"manifest.json", "barrel.glb", "input.png", "crops/barrel.png"} <= names
    for index, entry in enumerate(files.files):
        remote = f"{files.run}/{entry.path}"
        backend.send({"type": "fetch", "id": f"f-run-{index}", "path": remote})
        local = _collect_fetch(backend, f"f-run-{index}", local_path(backend.hello["runs_dir"], remote, tmp_path))
        assert local.stat().st_size == entry.size and local.read_bytes() == Path(remote).read_bytes()


@pytest.mark.parametrize("run", ["outside", "uploads", "nested", "no manifest", "relative"])
def test_the_files_of_anything_but_a_run_folder_are_refused(backend: BackendProcess, runs_dir: Path, outside: Path,
                                                            run: str) -> None:
    (runs_dir / "not a run").mkdir(exist_ok=True)
    path = {"outside": str(outside.parent), "uploads": str(runs_dir / UPLOADS_DIR),
            "nested": str(runs_dir / "a run" / ".." / ".."), "no manifest": str(runs_dir / "not a run"),
            "relative": "a run"}[run]
    reply = backend.request({"type": "runs", "id": f"r-{run}", "run": path})
    assert reply["type"] == "error" and reply["code"] == "bad_request" and "is not a run folder" in reply["message"]


def _requests(upload_id: str, payload: bytes, **changes: Any) -> list[UploadRequest]:
    return [UploadRequest(**{key: value for key, value in {**line, **changes}.items() if key != "type"})
            for line in _upload_lines(upload_id, payload, "picture.png", chunk_bytes=40_000)]


def test_an_upload_sent_again_from_its_start_after_a_refusal_is_answered(tmp_path: Path) -> None:
    """The ids of refused uploads were remembered to drop their later chunks quietly, and a whole, correct
    try with the same id was dropped too: a driver that retried waited for ever."""
    uploads, payload = Uploads(tmp_path), os.urandom(100_000)
    wrong = _requests("u", payload, sha256=hashlib.sha256(b"other").hexdigest())
    assert uploads.take(wrong[0]) is None and uploads.take(wrong[1]) is None
    with pytest.raises(ProtocolError, match="sha256"):
        uploads.take(wrong[2])
    assert uploads.take(wrong[2]) is None  # the rest of the refused try: its one error answered it
    *first, last = _requests("u", payload)
    assert all(uploads.take(chunk) is None for chunk in first)
    assert uploads.take(last).read_bytes() == payload


def test_uploads_left_unfinished_give_their_places_up_once_idle(tmp_path: Path, monkeypatch) -> None:
    """Eight uploads the add-on gave up midway held every place for the backend's life."""
    uploads = Uploads(tmp_path)
    for number in range(MAX_UPLOADS_IN_FLIGHT):
        assert uploads.take(_requests(f"left-{number}", os.urandom(100_000))[0]) is None
    [whole] = _requests("whole", b"a small picture")
    with pytest.raises(ProtocolError, match="uploads are already in progress"):
        uploads.take(whole)
    monkeypatch.setattr(transfers, "UPLOAD_IDLE_SECONDS", 0.0)  # as if five minutes had passed
    assert uploads.take(whole).read_bytes() == b"a small picture"
    assert len(list((tmp_path / UPLOADS_DIR).iterdir())) == 1  # the idle ones' folders went with them
    # One dropped so whose sender comes back is told, once (its last chunk went unanswered, the sender waiting).
    late = _requests("left-0", os.urandom(100_000))
    with pytest.raises(ProtocolError, match="upload left-0 had no chunk for 0 s and was dropped: send it again"):
        uploads.take(late[1])
    assert uploads.take(late[2]) is None


def test_another_machines_uploads_on_a_shared_runs_folder_are_left_alone(tmp_path: Path) -> None:
    """Its process ids are not this machine's: a backend starting here removed its live uploads. (Uploads named
    by an older img23d, for the host name alone: ``tests/backend/runs/test_run_owner.py`` has today's.)"""
    uploads = tmp_path / UPLOADS_DIR
    host = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
    here_dead = uploads / f"4194999-{host}-0a1b2c"
    elsewhere = uploads / "4194999-0badc0de-0a1b2c"
    for folder in (here_dead, elsewhere):
        folder.mkdir(parents=True)
    assert transfers.clean_uploads(tmp_path) == [here_dead]
    assert elsewhere.is_dir()

