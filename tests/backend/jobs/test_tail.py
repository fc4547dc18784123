"""The CPU tail runs beside the device: target i is cleaned while target i + 1 is decoded, each
object is announced when written, and a cancelled job leaves no worker behind."""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path

import pytest

from img23d_backend.env.job_control import CancelToken
from img23d_backend.families.hunyuan3d import shape
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.catalog import tiny_model_set
from img23d_backend.mesh import cleanup, tail
from img23d_protocol import Artifact, ErrorCode, GenerateRequest, JobOptions, ProtocolError
from testdata import FAST_OPTIONS, HOUSE

WAIT = 30.0  # seconds any wait below may take before the test fails


def test_tasks_run_in_order_on_the_worker_and_errors_come_back() -> None:
    order: list[tuple[int, str]] = []
    with tail.Tail(CancelToken()) as worker:
        for n in range(3):
            worker.submit(str(n), lambda n=n: order.append((n, threading.current_thread().name)) or n * 10)
        worker.submit("bad", lambda: 1 / 0)
        assert [worker.result(str(n)).value for n in range(3)] == [0, 10, 20]
        with pytest.raises(ZeroDivisionError):
            worker.result("bad")
    assert [n for n, _ in order] == [0, 1, 2]
    assert all(name.startswith("img23d-tail") for _, name in order)


def test_a_task_that_failed_is_raised_before_the_next_target_without_waiting_for_the_rest() -> None:
    """A GLB that met a full disk ended the job only once every later target was painted (minutes each on a
    CPU); the job now asks before each target, and only what has failed is raised."""
    release = threading.Event()

    def full() -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with tail.Tail(CancelToken()) as worker:
        worker.submit("written", lambda: 1)
        worker.submit("full", full)
        worker.submit("running", lambda: release.wait(WAIT))
        deadline = time.monotonic() + WAIT
        while not worker._tasks["full"].done():
            assert time.monotonic() < deadline, "the failing task never ran"
            time.sleep(0.01)
        with pytest.raises(OSError):
            worker.raise_failed()
        worker.raise_failed()  # said once; the running task is not waited for
        release.set()
        assert worker.result("written").value == 1 and worker.result("running").value is True


def test_a_full_queue_holds_the_caller_back() -> None:
    release = threading.Event()
    with tail.Tail(CancelToken()) as worker:
        for n in range(tail.MAX_PENDING):
            worker.submit(str(n), lambda: release.wait(WAIT))
        submitted = threading.Event()
        caller = threading.Thread(target=lambda: (worker.submit("more", lambda: True), submitted.set()))
        caller.start()
        assert not submitted.wait(0.3)  # four waiting: the fifth waits for room
        release.set()
        assert submitted.wait(WAIT)
        caller.join(WAIT)
        assert worker.result("more").value is True


def test_cancelling_stops_a_wait_and_closing_drops_what_has_not_started() -> None:
    cancel, started, release = CancelToken(), threading.Event(), threading.Event()
    ran: list[str] = []
    worker = tail.Tail(cancel)
    worker.submit("slow", lambda: (started.set(), release.wait(WAIT), ran.append("slow")))
    worker.submit("later", lambda: ran.append("later"))
    assert started.wait(WAIT)
    cancel.cancel()
    with pytest.raises(ProtocolError) as caught:
        worker.result("slow")
    assert caught.value.code is ErrorCode.CANCELLED
    release.set()
    worker.close()  # waits for the running task; the one not started never runs
    assert ran == ["slow"]


def test_cleaning_one_target_overlaps_decoding_the_next(tiny_root: Path, tmp_path: Path, monkeypatch) -> None:
    log: list[tuple[str, str, float]] = []
    real_decode, real_clean = shape.latents_to_mesh, cleanup.clean_mesh

    def decode(*args, **kwargs):
        mesh = real_decode(*args, **kwargs)
        time.sleep(0.3)  # a device busy long enough for the worker to get going
        log.append(("decoded", threading.current_thread().name, time.perf_counter()))
        return mesh

    def clean(*args, **kwargs):
        log.append(("cleaning", threading.current_thread().name, time.perf_counter()))
        return real_clean(*args, **kwargs)

    monkeypatch.setattr(shape, "latents_to_mesh", decode)
    monkeypatch.setattr(cleanup, "clean_mesh", clean)
    engine = Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path, device="cpu"))
    events: list = []
    request = GenerateRequest(id="t", image=str(HOUSE), targets=["house", "chimney", "door"],
                              options=JobOptions(**FAST_OPTIONS))
    data = engine.run(request, Job(id="t", emit=events.append))
    assert [r.status for r in data.targets] == ["done"] * 3
    first_clean = next(entry for entry in log if entry[0] == "cleaning")
    last_decode = [entry for entry in log if entry[0] == "decoded"][-1]
    assert first_clean[1].startswith("img23d-tail") and first_clean[2] < last_decode[2]
    meshes = [e for e in events if isinstance(e, Artifact) and e.kind == "mesh"]
    assert [m.target for m in meshes] == ["house", "chimney", "door"]
    assert all(r.timings["cleanup"] > 0 and r.timings["export"] > 0 for r in data.targets)
    deadline = time.monotonic() + WAIT
    while any(t.name.startswith("img23d-tail") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the tail's worker outlived its job"
        time.sleep(0.05)
