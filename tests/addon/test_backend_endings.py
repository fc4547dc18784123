"""What the session says when the real backend on this computer ends under a job (issue 46, item 6):
a signal is named, with what most often sends it, and what stays and what the next job does. The
SSH road (a link lost, a backend killed on the host) is in test_remote_link_lost.py."""

from __future__ import annotations

import os
import signal

import pytest

from testdata import FAST_OPTIONS, HOUSE
from session_waits import pump_until

from img23d_client import session as session_mod

pytestmark = pytest.mark.process  # drives real processes (pytest.ini)
protocol = session_mod.protocol
WAIT = 300.0


def _until(session, done, what: str, timeout: float = WAIT) -> list:
    return pump_until(session, done, what, timeout)


@pytest.mark.fault("addon")
def test_a_backend_killed_by_sigkill_mid_job_is_named_and_the_next_job_starts_a_new_one(session) -> None:
    slow = protocol.JobOptions(**{**FAST_OPTIONS, "steps": 200})
    job = session.submit(protocol.GenerateRequest(image=str(HOUSE), targets=["house"], options=slow))
    _until(session, lambda seen: session.progress is not None and session.progress.stage == "shape",
           "the shape stage")
    os.kill(session.process.pid, signal.SIGKILL)  # as the system's out-of-memory killer does
    seen = _until(session, lambda seen: any(isinstance(m, protocol.Error) and m.id == job for m in seen),
                  "the killed job's error", timeout=30)
    [error] = [m for m in seen if isinstance(m, protocol.Error) and m.id == job]
    assert error.code == "backend_unavailable"
    assert error.message.startswith("the backend on this computer was killed by SIGKILL (most often the system's "
                                    "out-of-memory killer: memory ran out); what already arrived stays, and the "
                                    "next job starts a new backend"), error.message
    killed = session.process.pid
    again = session.submit(protocol.DetectRequest(image=str(HOUSE), targets=["house"]))
    _until(session, lambda seen: any(isinstance(m, protocol.Result) and m.id == again for m in seen),
           "the next job")
    assert session.process.pid != killed
