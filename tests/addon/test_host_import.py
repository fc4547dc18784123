"""Import Run from Host never waits on Blender's main thread (issue 34, item 4): ``HostImport`` is
stepped by the operator's modal timer, each step returns at once whatever the host does, Esc
cancels a download (its new folder removed), and a host that never answers ends in one sentence.
Driven here against a stand-in session whose host answers only when told to."""

from __future__ import annotations

import io
import time
from pathlib import Path


from img23d_client import host_import
from img23d_client import remote_runs
from img23d_client import transfer
protocol = transfer.protocol

REMOTE = "/srv/gpu/img23d-runs"
RUN = f"{REMOTE}/20261124-120000-house"


class Ready:
    value = "ready"


class StandInSession:
    """What HostImport uses of a session, with a host that says nothing until the test speaks."""

    remote_host, state, error = "gpu-box", Ready(), ""

    def __init__(self, local: Path) -> None:
        self.mirror_ = transfer.Mirror(REMOTE, local)
        self.replies: dict = {}
        self.sent: list = []
        self.download = None
        self.pumps = 0

    def request(self, message) -> str:
        message.id = "list-1"
        self.sent.append(message)
        return message.id

    def take_reply(self, request_id: str):
        return self.replies.pop(request_id, None)

    def pump(self) -> list:
        self.pumps += 1
        return []

    def mirror(self):
        return self.mirror_

    def current_hello(self):
        return object()

    def fetch_run(self, run: str):
        self.download = remote_runs.RunDownload(self.mirror_, run, self.remote_host)
        self.sent.extend(self.download.start())
        return self.download


def _listing(files: dict[str, bytes]):
    return protocol.Result(id="list-1", data={"runs": [{"path": RUN, "name": RUN.rsplit("/", 1)[1], "kind": "generate",
                                                         "status": "finished", "created": "2026-11-24T12:00",
                                                         "targets": ["house"], "done": 1}]})


def test_every_step_returns_at_once_while_the_host_is_silent_and_the_list_arrives_later(tmp_path: Path) -> None:
    session = StandInSession(tmp_path)
    task = host_import.HostImport(session)
    for _ in range(20):
        started = time.perf_counter()
        assert task.step() is host_import.Phase.LISTING
        assert time.perf_counter() - started < 0.05
    assert "Listing the runs on gpu-box" == task.status
    session.replies["list-1"] = protocol.decode(_listing({}).to_line(), protocol.EVENT_TYPES)
    assert task.step() is host_import.Phase.DONE and [run.path for run in task.runs] == [RUN]


def test_a_host_that_never_answers_ends_in_one_sentence(tmp_path: Path) -> None:
    now = [0.0]
    task = host_import.HostImport(StandInSession(tmp_path), clock=lambda: now[0], list_timeout=30)
    task.step()
    now[0] = 31.0
    assert task.step() is host_import.Phase.FAILED
    assert task.error == "The backend on gpu-box did not list its runs within 30 s"


def test_esc_during_a_download_cancels_it_and_removes_its_new_folder(tmp_path: Path) -> None:
    session = StandInSession(tmp_path)
    task = host_import.HostImport(session, RUN)
    assert task.phase is host_import.Phase.DOWNLOADING
    download = session.download
    files = {"house.glb": b"glTF" * 1000, "manifest.json": b"{}"}
    entries = [{"path": name, "size": len(data)} for name, data in files.items()]
    fetches = download.handle(protocol.decode(protocol.Result(id=download.list_id, data={"run": RUN, "files": entries})
                                              .to_line(), protocol.EVENT_TYPES))
    glb = next(f for f in fetches if f.path.endswith("house.glb"))
    handle = io.BytesIO(files["house.glb"])
    size, sha = protocol.file_digest(handle)
    download.handle(protocol.Chunk(id=glb.id, offset=0, data=protocol.encode_chunk(b"glTF" * 10), size=size,
                                   sha256=sha))
    assert list((tmp_path / "20261124-120000-house").rglob(".tmp-*"))  # half a file on its way
    task.step()
    assert task.status.startswith("Bringing 20261124-120000-house from gpu-box: 0 of 2 files")
    task.cancel()
    assert task.phase is host_import.Phase.CANCELLED and task.error == "Import Run from Host was cancelled"
    assert not (tmp_path / "20261124-120000-house").exists()
    # The host streams on: its late chunks are the cancelled download's, taken and dropped.
    late = protocol.Chunk(id=glb.id, offset=40, data=protocol.encode_chunk(b"glTF"))
    assert download.owns(late) and download.handle(late) == []
    assert not (tmp_path / "20261124-120000-house").exists()


def test_an_import_after_a_cancelled_one_takes_the_cancelled_ones_late_chunks_and_drops_them(tmp_path: Path) -> None:
    """Import Run from Host again after Esc: the host still streamed the cancelled fetches, the new download did
    not know them, and after 500 such chunks the backend was stopped as a flood (the session's fetch_run has
    the new download follow the old)."""
    session = StandInSession(tmp_path)
    first = session.fetch_run(RUN)
    files = {"house.glb": b"glTF" * 1000, "manifest.json": b"{}"}
    entries = [{"path": name, "size": len(data)} for name, data in files.items()]
    fetches = first.handle(protocol.decode(protocol.Result(id=first.list_id, data={"run": RUN, "files": entries})
                                           .to_line(), protocol.EVENT_TYPES))
    first.close("Import Run from Host was cancelled")
    second = remote_runs.RunDownload(session.mirror_, RUN, session.remote_host)
    second.follow(first)
    late = protocol.Chunk(id=fetches[0].id, offset=0, data=protocol.encode_chunk(b"glTF"))
    assert second.owns(late) and second.handle(late) == [] and not second.done and not second.error
