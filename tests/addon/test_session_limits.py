"""A job that starts the backend (the panel could not know its limits yet) is checked against the
limits of the hello that answers it, and refused without being sent when it is above them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from session_waits import reply_within

from img23d_client import process as process_mod
from img23d_client import session as session_mod
protocol = session_mod.protocol
FAKE_BACKEND = Path(__file__).resolve().parents[1] / "blender" / "fake_backend.py"


@pytest.fixture
def session(tmp_path: Path):
    """A session whose backend is the fake that says octree 128 and texture 1024 at most."""
    python = tmp_path / "fake-python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_BACKEND}" small_memory "$@"\n')
    python.chmod(0o755)
    settings = process_mod.LaunchSettings(python=python, runs_dir=tmp_path / "runs", models="tiny", device="cpu",
                                          offline=True, log_path=tmp_path / "backend.log")
    session = session_mod.BackendSession(lambda: settings)
    yield session
    session.stop()


def _reply(session, job_id: str, timeout: float = 60.0):
    session.await_reply(job_id)
    return reply_within(session, job_id, timeout)


def _jobs_seen(tmp_path: Path) -> list[str]:
    noted = tmp_path / "runs" / "_fake" / "jobs.jsonl"
    return noted.read_text().splitlines() if noted.exists() else []


def test_a_queued_job_above_the_hellos_limits_is_refused_unsent(session, tmp_path: Path) -> None:
    job = session.submit(protocol.GenerateRequest(image="x.png", options=protocol.JobOptions(octree_resolution=256)))
    assert session.state is session_mod.State.STARTING  # queued until the handshake
    reply = _reply(session, job)
    assert isinstance(reply, protocol.Error) and reply.code == "out_of_memory"
    assert reply.message == ("octree resolution 256 is more than the backend's cpu (8 GB) can hold (at most 128): "
                             "lower it")
    assert session.state is session_mod.State.READY and session.job_id is None
    assert session.current_hello().limits == {"octree_resolution": 128, "texture_size": 1024}
    assert _jobs_seen(tmp_path) == []
    # Within the limits, the next job is sent (and this fake refuses it itself).
    job = session.submit(protocol.GenerateRequest(image="x.png", options=protocol.JobOptions(
        octree_resolution=128, texture_size=4096, texture=False)))
    reply = _reply(session, job)
    assert isinstance(reply, protocol.Error) and reply.message == "the fake refuses jobs"
    assert len(_jobs_seen(tmp_path)) == 1
