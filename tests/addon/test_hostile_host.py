"""A backend that lies, floods or breaks the protocol (tests/addon/hostile_backend.py behind the add-on's
real process and session): Blender's memory and disk stay bounded, the session says one sentence
and stays usable. The loopback SSH host's own faults are in test_remote_faults.py."""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

import pytest


from img23d_client import process as process_mod
from img23d_client import session as session_mod
from img23d_client import events as events_mod
from img23d_client import capped_log
protocol = session_mod.protocol
HOSTILE = Path(__file__).resolve().parent / "hostile_backend.py"


def _session(tmp_path: Path, *mode: str, watchdog: float = 600.0):
    python = tmp_path / "hostile-python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{HOSTILE}" {" ".join(mode)} "$@"\n')
    python.chmod(0o755)
    settings = process_mod.LaunchSettings(python=python, runs_dir=tmp_path / "runs", models="tiny", device="cpu",
                                          offline=True, log_path=tmp_path / "backend.log", watchdog_seconds=watchdog)
    return session_mod.BackendSession(lambda: settings)


def _pump_until(session, done, timeout: float, what: str) -> list:
    seen = []
    deadline = time.monotonic() + timeout
    while not done():
        seen.extend(session.pump())
        assert time.monotonic() < deadline, f"{what} within {timeout:g} s"
        time.sleep(0.02)
    return seen


OVERLONG = ("the backend on this computer sent a line over the 1048576 bytes a message may have, so it is broken "
            "(or hostile), and was stopped; the next job starts a new one")


def test_a_line_of_64_mb_without_a_newline_ends_the_start_at_once_without_being_held(tmp_path: Path) -> None:
    session = _session(tmp_path, "long_line", "64")
    started = time.monotonic()
    tracemalloc.start()
    try:
        with pytest.raises(protocol.ProtocolError) as caught:
            session.start()
            session.wait_ready(timeout=60)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        session.stop()
    assert caught.value.code is protocol.ErrorCode.BACKEND_UNAVAILABLE and caught.value.message == OVERLONG
    assert time.monotonic() - started < 10, "the start waited for the rest of the line"
    assert peak < 8 << 20, f"reading the long line held {peak / 2**20:.0f} MiB"


def test_a_line_over_the_limit_mid_job_ends_the_job_within_seconds(tmp_path: Path) -> None:
    """The line never ends (the host keeps writing): the job must not wait for the 600 s watchdog,
    nor for the rest of the line."""
    session = _session(tmp_path, "endless_line")
    try:
        started = time.monotonic()
        job = session.submit(protocol.GenerateRequest(image="x.png"))
        session.await_reply(job)
        process = session.process
        seen = _pump_until(session, lambda: session.replies.get(job) is not None, 30,
                           "the over-long line did not end the job")
        assert time.monotonic() - started < 30
        assert any(isinstance(m, protocol.Progress) and m.job == job for m in seen)  # it ended mid-job
        reply = session.take_reply(job)
        assert isinstance(reply, protocol.Error) and reply.code == "backend_unavailable" and reply.message == OVERLONG
        assert session.state is session_mod.State.ERROR and session.job_id is None
        _pump_until(session, lambda: not process.alive, 10, "the backend was not stopped")
    finally:
        session.stop()


def test_a_flood_between_jobs_is_bounded_then_dropped_with_one_sentence(tmp_path: Path) -> None:
    session = _session(tmp_path, "flood")
    try:
        session.start()
        session.wait_ready(timeout=60)
        process = session.process
        time.sleep(1.5)  # nobody pumps: the reader must wait for room, not buffer the flood
        assert process.events.qsize() <= events_mod.MAX_ITEMS
        _pump_until(session, lambda: session.state is session_mod.State.ERROR, 30, "the flood was not dropped")
        assert session.error.startswith("the backend on this computer sent more than 500 messages that answer "
                                        "nothing asked of it, and was stopped")
        assert not process.alive
        _pump_until(session, lambda: session.process.events.qsize() == 0, 10, "the reader never ended")
        session.pump()
        assert session.error.startswith("the backend on this computer sent more than 500 messages")  # still why
    finally:
        session.stop()


def test_the_backends_stderr_is_capped_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(capped_log, "LOG_CAP_BYTES", 4 << 20)
    session = _session(tmp_path, "stderr", "20")
    try:
        session.start()
        session.wait_ready(timeout=60)
        deadline = time.monotonic() + 30
        while not (tmp_path / "backend.log.1").exists():
            assert time.monotonic() < deadline, "the log was never rotated"
            time.sleep(0.1)
        time.sleep(1.0)
    finally:
        session.stop()
    sizes = [path.stat().st_size for path in tmp_path.glob("backend.log*")]
    assert max(sizes) <= 4 << 20 and sum(sizes) <= 8 << 20, sizes


def test_a_backend_of_another_major_version_is_refused_at_once(tmp_path: Path) -> None:
    session = _session(tmp_path, "version")
    started = time.monotonic()
    with pytest.raises(protocol.ProtocolError) as caught:
        session.start()
        session.wait_ready(timeout=60)
    session.stop()
    assert time.monotonic() - started < 10
    assert caught.value.message == ("the backend speaks protocol 2 (version hostile), this side needs 1: "
                                    "reinstall so both come from the same release")


def _job_answer(session, timeout: float = 60, what: str = "the job never ended"):
    """A generate job's answer: submitted, pumped until it comes."""
    job = session.submit(protocol.GenerateRequest(image="x.png"))
    session.await_reply(job)
    _pump_until(session, lambda: session.replies.get(job) is not None, timeout, what)
    return session.take_reply(job)


def test_a_second_hello_mid_job_ends_the_job_with_one_sentence(tmp_path: Path) -> None:
    session = _session(tmp_path, "hello_again")
    try:
        reply = _job_answer(session)
        assert isinstance(reply, protocol.Error)
        assert reply.message == ("the backend on this computer said hello again in the middle of a session, and was "
                                 "stopped; the next job starts a new one")
        assert session.job_id is None and not session.process.alive
    finally:
        session.stop()


def test_a_message_whose_fields_are_of_the_wrong_type_ends_the_job_with_one_sentence(tmp_path: Path) -> None:
    """A progress whose step is text (the add-on's modal tick divided it: TypeError every tick), or an error
    whose target is a number (the pump raised), left the session busy for good; now the job ends, the
    backend is stopped, and the next job starts a new one."""
    session = _session(tmp_path, "bad_field")
    try:
        reply = _job_answer(session)
        assert isinstance(reply, protocol.Error) and reply.code == "backend_unavailable"
        assert reply.message == ("the backend sent a message the add-on cannot read (its progress message has a step "
                                 "of the wrong type (str; int is meant)) and was stopped; the next job starts a new one")
        assert session.job_id is None and session.state is session_mod.State.ERROR
        _pump_until(session, lambda: not session.process.alive, 10, "the backend was not stopped")
    finally:
        session.stop()


def test_an_event_type_of_a_newer_minor_version_is_skipped_not_refused(tmp_path: Path) -> None:
    """A host on a newer minor version may send event types this add-on does not know (1.8 added chunk): they are
    skipped, as before, and only a known event whose fields do not hold stops the backend."""
    session = _session(tmp_path, "newer_event")
    try:
        reply = _job_answer(session)
        assert isinstance(reply, protocol.Error) and (reply.code, reply.message) == ("shape_failed", "made nothing")
        assert session.process.alive
    finally:
        session.stop()


def test_lines_that_answer_nothing_do_not_keep_the_watchdog_quiet(tmp_path: Path) -> None:
    session = _session(tmp_path, "chatter", watchdog=2.0)
    try:
        assert _job_answer(session, 30, "the watchdog never fired").message.startswith("the backend made no progress for 2 s and was stopped")
    finally:
        session.stop()


def test_a_quick_request_left_unanswered_is_watched_too(tmp_path: Path) -> None:
    session = _session(tmp_path, "long_line", "0", watchdog=1.0)  # says hello, then never answers
    try:
        session.start()
        session.wait_ready(timeout=60)
        request = session.request(protocol.ModelsRequest())
        _pump_until(session, lambda: session.replies.get(request) is not None, 30, "the watchdog never fired")
        assert session.take_reply(request).message.startswith("the backend made no progress for 1 s")
    finally:
        session.stop()


def test_the_event_queue_waits_for_room_and_takes_the_last_word_whatever_the_bound() -> None:
    events = events_mod.EventQueue(max_items=3, max_bytes=100)
    assert all(events.put(i, 10) for i in range(3))
    events.end("exited")
    assert events.qsize() == 4 and [events.get_nowait() for _ in range(4)] == [0, 1, 2, "exited"]
    events.close()
    assert events.put("late", 1) is False


def test_installer_output_without_newlines_is_dropped_unheld_and_its_log_capped(tmp_path: Path) -> None:
    from img23d_installer import commands
    script = ("import sys\nout = sys.stdout.buffer\nfor _ in range(48): out.write(b'x' * (1 << 20))\n"
              "out.write(b'\\n')\nfor _ in range(6000): out.write(b'pip says ' + b'y' * 1000 + b'\\n')\n"
              "out.write(b'done\\n')\n")
    log_path = tmp_path / "install.log"
    tracemalloc.start()
    try:
        with capped_log.CappedLog(log_path, 4 << 20, truncate=True) as log:
            code = commands.run_logged([sys.executable, "-c", script], log, cancel=lambda: False, timeout=120)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == 0
    assert peak < 8 << 20, f"the installer's output held {peak / 2**20:.0f} MiB"
    text = log_path.read_text()
    assert text.rstrip().endswith("done") and log_path.stat().st_size <= 4 << 20
    assert "an output line of 50331649 bytes was dropped" in (tmp_path / "install.log.1").read_text()


def test_stop_during_a_job_ends_it_with_one_sentence_at_once_and_the_next_job_starts(tmp_path: Path) -> None:
    session = _session(tmp_path, "hang")
    try:
        job = session.submit(protocol.GenerateRequest(image="x.png"))
        _pump_until(session, lambda: session.progress is not None, 60, "the job never made progress")
        started = time.monotonic()
        session.stop(wait=False)
        assert time.monotonic() - started < 0.5, "Stop waited for the backend"
        [error] = [m for m in session.pump() if isinstance(m, protocol.Error)]
        assert error.id == job and error.message == "the backend was stopped during the job; what already arrived stays"
        assert session.state is session_mod.State.STOPPED and session.job_id is None
        again = session.submit(protocol.GenerateRequest(image="x.png"))
        _pump_until(session, lambda: session.progress is not None and session.progress.job == again, 60,
                    "the next job did not start")
    finally:
        session.stop()


def test_a_hello_with_fields_of_the_wrong_type_is_refused_in_one_sentence(tmp_path: Path) -> None:
    session = _session(tmp_path, "bad_hello")
    with pytest.raises(protocol.ProtocolError) as caught:
        session.start()
        session.wait_ready(timeout=60)
    assert caught.value.message == "the backend's hello is malformed: its memory is str, not dict"
    assert session.state is session_mod.State.ERROR and not session.process.alive
    session.stop()
    assert session.state is session_mod.State.STOPPED


def test_a_run_folder_name_of_300_characters_ends_the_job_with_one_sentence(tmp_path: Path) -> None:
    from img23d_client import remote_jobs
    from img23d_client import transfer
    job = remote_jobs.RemoteJob(protocol.GenerateRequest(id="job-1", image=""),
                                transfer.Mirror("/srv/runs", tmp_path), "gpu-box")
    artifact = protocol.decode(protocol.Artifact(job="job-1", kind="run", path="/srv/runs/" + "r" * 300).to_line(),
                               protocol.EVENT_TYPES)
    with pytest.raises(protocol.ProtocolError) as caught:
        job.handle(artifact)
    assert caught.value.message.startswith("the backend on gpu-box named a run folder that cannot be used here: ")
    assert caught.value.message.endswith("cannot name a file here: it is over 255 bytes")
    assert list(tmp_path.iterdir()) == []


def test_a_backend_that_stops_reading_while_it_floods_never_holds_the_sender_for_good(tmp_path: Path) -> None:
    """Blender writes a request while the backend floods its output and reads nothing: the pipe to
    it fills, the queue from it fills, and nobody pumps (the main thread is the one writing). The
    write must fail after ``send_stuck_seconds``, not wait for ever."""
    import threading

    session = _session(tmp_path, "deaf_flood")
    settings = session._settings()
    settings.send_stuck_seconds = 2.0
    outcome: list = []

    def write_uploads() -> None:
        chunk = protocol.UploadRequest(id="u", name="p.png", size=1, sha256="0" * 64, offset=0,
                                       data=protocol.encode_chunk(b"\0" * protocol.CHUNK_BYTES))
        try:
            for _ in range(20):  # 14 MB: far more than a pipe holds
                session.process.send(chunk)
            outcome.append("sent")
        except protocol.ProtocolError as exc:
            outcome.append(exc.message)

    try:
        session.start()
        session.wait_ready(timeout=60)
        writer = threading.Thread(target=write_uploads, daemon=True)
        writer.start()
        writer.join(timeout=20)
        assert not writer.is_alive(), "the write waited on a backend that reads nothing (Blender would freeze)"
        assert outcome == ["the backend stopped accepting requests"]
        _pump_until(session, lambda: session.state is session_mod.State.ERROR, 30, "the session never heard")
        assert session.error == ("the backend on this computer took nothing of what Blender sent it for 2 s and "
                                 "was stopped; the next job starts a new one")
    finally:
        if session.process is not None:
            session.process.kill()
        session.stop()
