"""The batch driver's bounded waits, with a pool in this process: a worker that never starts is
given up and its pictures go to the others; with none left, what is left is not run, in one sentence;
a picture that hangs is stopped, tried once more elsewhere, then failed; a Ray address where something
else answers is refused at once. Every batch here must end by itself: each runs on a thread the test
waits for with a deadline."""

from __future__ import annotations

import http.server
import socketserver
import threading
import time
from pathlib import Path

import pytest

from batch_fakes import FakePool
from img23d_backend.batch.driver import BatchReport, BatchSettings, run_batch
from img23d_backend.batch.pool import DeathWatch
from img23d_backend.batch.ray_pool import connect, speaks_http2
from img23d_backend.batch.settings import BatchEvent
from img23d_protocol import ProtocolError

DEADLINE = 60.0   # seconds any of these batches may take (each ends in a few when the driver is right)


def _pictures(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"p-{i}.png").write_bytes(f"picture {i}".encode())
    return folder


def _run_until_it_ends(out: Path, folder: Path, pool: FakePool, **settings: object
                       ) -> tuple[BatchReport, list[BatchEvent]]:
    events: list[BatchEvent] = []
    done: list[BatchReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            done.append(run_batch(BatchSettings(inputs=[str(folder)], out=out, **settings),  # type: ignore[arg-type]
                                  on_event=events.append, pool_factory=lambda s, n: pool))
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread below
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(DEADLINE)
    assert not thread.is_alive(), f"the batch did not end within {DEADLINE:g} s: it waits for a worker forever"
    if errors:
        raise errors[0]
    return done[0], events


def test_a_worker_that_never_starts_is_given_up_and_the_others_make_its_pictures(tmp_path: Path) -> None:
    pool = FakePool(tmp_path / "out", workers=3, never_start={1}, takes=0.2)
    report, events = _run_until_it_ends(tmp_path / "out", _pictures(tmp_path / "in", 5), pool, start_timeout=0.3)
    assert report.counts["done"] == 5 and pool.given_up == [1]
    assert [e.counts["done"] for e in events if e.kind == "picture"] == [1, 2, 3, 4, 5]  # each counts itself
    assert {worker for worker, _ in pool.ran} == {0, 2}
    [given_up] = [e for e in events if e.kind == "worker"]
    assert "fake-1 did not start within 0.3 s (--worker-start-timeout)" in given_up.message


def test_no_worker_that_can_start_leaves_what_is_left_not_run_in_one_sentence_for_the_next_run(tmp_path: Path) -> None:
    """Never handed out, a picture is not run, not failed: failed, the same command skipped it next time."""
    never = FakePool(tmp_path / "a", workers=2, never_start={0, 1})
    report, _ = _run_until_it_ends(tmp_path / "a", _pictures(tmp_path / "in", 3), never, start_timeout=0.3)
    assert report.counts["cancelled"] == 3 and report.counts["failed"] == 0 and never.ran == []
    messages = {e.error["message"] for e in report.entries if e.error}
    assert len(messages) == 1 and messages.pop().startswith("not run: no worker left to run it: the worker fake-")

    broken = FakePool(tmp_path / "b", workers=2, cannot_start={0, 1})  # their constructors raised
    report, _ = _run_until_it_ends(tmp_path / "b", tmp_path / "in", broken)
    assert report.counts["cancelled"] == 3
    assert {e.error["message"] for e in report.entries if e.error} == {
        "not run: no worker left to run it: the worker fake-0 could not start: RuntimeError: no engine; the same "
        "command runs it again"}
    report, _ = _run_until_it_ends(tmp_path / "b", tmp_path / "in", FakePool(tmp_path / "b"))
    assert report.counts["done"] == 3

    one_broken = FakePool(tmp_path / "c", workers=2, cannot_start={1})
    report, _ = _run_until_it_ends(tmp_path / "c", tmp_path / "in", one_broken)
    assert report.counts["done"] == 3 and {worker for worker, _ in one_broken.ran} == {0}


def test_a_picture_that_hangs_is_stopped_and_made_on_another_worker(tmp_path: Path) -> None:
    pool = FakePool(tmp_path / "out", workers=2, hangs=lambda worker, item: worker == 0 and item.index == 0)
    report, events = _run_until_it_ends(tmp_path / "out", _pictures(tmp_path / "in", 3), pool, picture_timeout=0.4)
    assert report.counts["done"] == 3 and pool.interrupted == [(0, 0)]
    entry = report.entries[0]
    assert entry.attempts == 2 and entry.timeouts == 1 and [w.split()[0] for w in entry.workers] == ["fake-0", "fake-1"]
    assert entry.retried[0]["message"] == "it ran past the per-picture limit of 0.4 s on fake-0 (--picture-timeout)"
    assert [e.kind for e in events].count("retry") == 1


def test_a_picture_that_hangs_everywhere_fails_after_a_second_try(tmp_path: Path) -> None:
    pool = FakePool(tmp_path / "out", workers=3, hangs=lambda worker, item: item.index == 0)
    report, _ = _run_until_it_ends(tmp_path / "out", _pictures(tmp_path / "in", 3), pool, picture_timeout=0.4,
                                   attempts=5)
    entry = report.entries[0]
    assert (entry.status, entry.attempts, entry.timeouts) == ("failed", 2, 2)  # not five: a hang is not bad luck
    assert [w for w, _ in pool.interrupted] == [entry_worker for entry_worker, index in pool.ran if index == 0]
    assert len({w for w, _ in pool.interrupted}) == 2  # on two different workers
    first, second = (worker.split()[0] for worker in entry.workers)
    assert entry.error == {"code": "timeout", "message": "it ran past the per-picture limit of 0.4 s 2 time(s), on "
                                                         f"{first}, {second}, and was given up (--picture-timeout)"}
    assert report.counts["done"] == 2 and report.counts["failed"] == 1


def _serving(handler: type[socketserver.BaseRequestHandler]) -> socketserver.ThreadingTCPServer:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class _Http2(socketserver.BaseRequestHandler):
    def handle(self) -> None:   # as a gRPC server (Ray's GCS) opens: its SETTINGS frame
        self.request.recv(64)
        self.request.sendall(bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))


def test_an_address_where_something_else_answers_is_one_sentence_at_once() -> None:
    """A dashboard's or any HTTP server's port passed the TCP probe, and ray.init retried for over ten minutes
    with Ray's log lines alone; what is not gRPC is refused before ray.init."""
    web, grpc = _serving(http.server.SimpleHTTPRequestHandler), _serving(_Http2)
    try:
        assert not speaks_http2(*web.server_address) and speaks_http2(*grpc.server_address)
        pytest.importorskip("ray", reason="connect() needs Ray, an optional extra (the Python 3.13 lane has it)")
        started = time.monotonic()
        with pytest.raises(ProtocolError, match=r"is not a Ray cluster's address \(its GCS port"):
            connect(f"127.0.0.1:{web.server_address[1]}")
        assert time.monotonic() - started < 15
    finally:
        for server in (web, grpc):
            server.shutdown()
            server.server_close()


def test_an_address_without_a_port_is_one_sentence() -> None:
    """It was "invalid literal for int() with base 10"."""
    pytest.importorskip("ray", reason="connect() needs Ray, an optional extra (the Python 3.13 lane has it)")
    with pytest.raises(ProtocolError, match=r"--ray 127.0.0.1 is not an address: give the cluster's as HOST:PORT"):
        connect("127.0.0.1")


def test_deaths_during_pictures_are_the_workers_once_three_different_pictures_in_a_row_die() -> None:
    """One picture that kills its worker answers for itself (its --attempts); a worker that kills every picture
    (its models never fit) was started again for every try of every picture, 30,000 loads for 10,000 pictures."""
    watch = DeathWatch()
    assert not any(watch.counts(0) for _ in range(5))          # one picture, however often: the picture's
    assert not watch.counts(1) and watch.counts(2)              # a third different picture in a row: the worker's
    watch.made()
    assert not watch.counts(3) and watch.counts(None)          # a picture made clears it; outside a picture: always
