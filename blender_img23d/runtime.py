"""The add-on's live state for this Blender session: the backend session and the running job.

Module-level because there is one backend per Blender process; created lazily (no process
is started until the artist asks for one) and torn down by ``shutdown()`` on unregister.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from img23d_client.process import LaunchSettings
from img23d_client.session import BackendSession
from img23d_installer.task import InstallTask

from .model_catalog import ModelCatalog

if TYPE_CHECKING:
    from .job_runner import JobRunner

_session: BackendSession | None = None
# Given by register(): the launch settings as the preferences say now. The runtime does not
# import the preferences (they draw what the runtime holds; the import would close a cycle).
_launch_settings: Callable[[], LaunchSettings] | None = None
active_runner: "JobRunner | None" = None
install_task: InstallTask | None = None     # the running or last backend install
catalog = ModelCatalog()                    # the model manager's list, for the preferences


def configure(launch_settings: Callable[[], LaunchSettings]) -> None:
    """What the runtime needs from the add-on's settings; called when the add-on registers."""
    global _launch_settings
    _launch_settings = launch_settings


def session() -> BackendSession:
    global _session
    if _session is None:
        if _launch_settings is None:
            raise RuntimeError("the img23d runtime is used before the add-on registered it")
        _session = BackendSession(_launch_settings)
    return _session


def has_session() -> bool:
    return _session is not None


def pump_for_waiters() -> None:
    """Drain the backend's output for operators that wait on ``session.replies``, unless a job
    runner is running: it pumps itself and needs the messages pump() hands out."""
    if active_runner is not None and not active_runner.finished:
        return
    if _session is not None:
        _session.pump()


def installing() -> bool:
    return install_task is not None and not install_task.finished


def refused_while_installing() -> str:
    """The sentence for starting the backend while Install Backend changes its environment, else "": a job or a
    model listing started it from the half-built environment ("No module named 'torch'")."""
    return "The backend is being installed: wait for it to finish (or cancel it), then try again" \
        if installing() else ""


def shutdown() -> None:
    """Stop the backend and forget the job (unregister, Blender quitting)."""
    global _session, active_runner, catalog
    if install_task is not None:
        install_task.cancel()  # its thread kills a running pip; the next install repairs the environment
        install_task.join(timeout=3)
    catalog = ModelCatalog()
    if active_runner is not None:
        try:
            active_runner.cancel()
        except Exception:  # noqa: BLE001 - shutting down: the process is stopped next regardless
            pass
    active_runner = None
    if _session is not None:
        _session.stop()
        _session = None


def current_run(context: Any) -> Path | None:
    """The run the panel's picture buttons open: the active object's (``img23d_run``), else the
    last job's. Reads no file: the panel calls it from draw()."""
    active = getattr(context, "active_object", None)
    if active is not None and active.get("img23d_run"):
        return Path(str(active["img23d_run"]))
    if active_runner is not None and active_runner.outcome.run_dir:
        return Path(active_runner.outcome.run_dir)
    return None
