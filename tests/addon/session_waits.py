"""Backend sessions in the client tests: a local one on the tiny models, and waiting on what it pumps."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable

from img23d_client import process as process_mod
from img23d_client import session as session_mod


def local_session(tiny_root: Path, tmp_path: Path) -> session_mod.BackendSession:
    """A session that starts this checkout's backend on the tiny models, on the CPU, offline (the caller sets
    IMG23D_TINY_MODELS to ``tiny_root`` and stops the session)."""
    settings = process_mod.LaunchSettings(python=Path(sys.executable), runs_dir=tmp_path / "runs", models="tiny",
                                          device="cpu", offline=True, log_path=tmp_path / "backend.log")
    return session_mod.BackendSession(lambda: settings)


def pump_until(session: session_mod.BackendSession, done: Callable[[list[Any]], bool], what: str,
               timeout: float) -> list[Any]:
    """Pump ``session`` until ``done(messages so far)``; fails saying ``what`` did not happen in ``timeout`` s."""
    seen: list[Any] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.extend(session.pump())
        if done(seen):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout:.0f} s; last messages: {seen[-3:]}")


def reply_within(session: session_mod.BackendSession, request_id: str, timeout: float) -> Any:
    """Pump ``session`` until the reply to ``request_id`` (a request's or an awaited job's) is taken;
    fails naming it when none comes within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while (reply := session.take_reply(request_id)) is None:
        session.pump()
        assert time.monotonic() < deadline, f"no reply to {request_id} within {timeout:g} s"
        time.sleep(0.05)
    return reply
