"""The add-on's live state for this Blender session: the backend session and the running job.

Module-level because there is one backend per Blender process; created lazily (no process
is started until the artist asks for one) and torn down by ``shutdown()`` on unregister.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .client.session import BackendSession

if TYPE_CHECKING:
    from .job_runner import JobRunner

_session: BackendSession | None = None
active_runner: "JobRunner | None" = None


def session() -> BackendSession:
    global _session
    if _session is None:
        from . import preferences
        _session = BackendSession(lambda: preferences.get().launch_settings())
    return _session


def has_session() -> bool:
    return _session is not None


def shutdown() -> None:
    """Stop the backend and forget the job (unregister, Blender quitting)."""
    global _session, active_runner
    if active_runner is not None:
        try:
            active_runner.cancel()
        except Exception:  # noqa: BLE001 - shutting down: the process is stopped next regardless
            pass
    active_runner = None
    if _session is not None:
        _session.stop()
        _session = None
