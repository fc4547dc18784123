"""``img23d.import_host_run``: Import Run from the host, for a backend on another machine.

The host keeps every run in its own runs folder; a run whose files did not all travel (the
connection dropped mid-job, or the job ran from another computer) is brought here whole: the
dialog lists the host's runs (newest first), the chosen one is fetched into the local mirror of
the host's runs folder (``client.remote_runs``), then imported as ``img23d.import_run`` imports a
local run. It waits for the transfer (a run is megabytes), so it refuses while a job runs: the
job's own messages must reach the job.
"""

from __future__ import annotations

import time
from typing import Any

import bpy
import img23d_protocol as protocol
from bpy.props import EnumProperty, StringProperty

from .. import preferences, runtime
from ..client.remote_runs import parse_runs
from ..client.session import HELLO_TIMEOUT

LIST_TIMEOUT = HELLO_TIMEOUT + 60.0    # the first request may start the backend over ssh
DOWNLOAD_TIMEOUT = 1800.0              # gigabytes of meshes on a slow link; each file is checked
POLL_SECONDS = 0.05

# The host's runs the dialog offers, as the last listing gave them (the enum's items read it).
listed_runs: list[protocol.RunSummary] = []


def _run_items(self: Any, context: Any) -> list[tuple[str, str, str]]:
    # Blender keeps the strings of dynamic enum items only while they are referenced: keep them here.
    _run_items.items = [(str(index), run.label[:200], run.path) for index, run in enumerate(listed_runs)] \
        or [("NONE", "No runs on the host", "")]
    return _run_items.items


class HostRunFailed(Exception):
    """Listing or fetching failed; the message is the one sentence to report."""


class IMG23D_OT_import_host_run(bpy.types.Operator):
    """Bring a run from the SSH backend's host into the local Runs Folder and import its meshes (what
    a dropped connection or another computer left on the host)"""

    bl_idname = "img23d.import_host_run"
    bl_label = "Import Run from Host..."
    bl_options = {"REGISTER", "UNDO"}

    choice: EnumProperty(name="Run", items=_run_items)  # type: ignore[valid-type]
    run: StringProperty(  # type: ignore[valid-type]
        name="Run on the Host", options={"SKIP_SAVE"},
        description="The run folder's path on the host (instead of choosing from the list)")

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if preferences.get(context).backend != "SSH":
            cls.poll_message_set("The backend runs on this computer: use Import Run")
            return False
        return True

    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        try:
            self._check_idle()
            listed_runs[:] = self._list()
        except HostRunFailed as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if not listed_runs:
            self.report({"WARNING"}, f"There are no runs on {runtime.session().remote_host} yet")
            return {"CANCELLED"}
        return context.window_manager.invoke_props_dialog(self, width=720)

    def draw(self, context: bpy.types.Context) -> None:
        self.layout.label(text=f"Runs on {runtime.session().remote_host}, newest first:")
        self.layout.prop(self, "choice", text="")

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            self._check_idle()
            run = self.run.strip() or self._chosen()
            local = self._download(context, run)
        except HostRunFailed as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return bpy.ops.img23d.import_run(filepath=str(local))

    # -- steps ---------------------------------------------------------------------------------

    @staticmethod
    def _check_idle() -> None:
        runner = runtime.active_runner
        if runner is not None and not runner.done:
            raise HostRunFailed("A job is running: import a run from the host when it is done")

    def _chosen(self) -> str:
        if self.choice == "NONE" or not self.choice.isdigit() or int(self.choice) >= len(listed_runs):
            raise HostRunFailed("Choose a run of the host (the list is empty or out of date: open it again)")
        return listed_runs[int(self.choice)].path

    @staticmethod
    def _list() -> list[protocol.RunSummary]:
        session = runtime.session()
        try:
            request_id = session.request(protocol.RunsRequest())
            reply = _wait(lambda: session.take_reply(request_id), LIST_TIMEOUT, "list its runs")
            if isinstance(reply, protocol.Error):
                raise HostRunFailed(f"The host's runs could not be listed: {reply.message}")
            return parse_runs(reply, session.mirror())
        except protocol.ProtocolError as exc:
            raise HostRunFailed(f"The host's runs could not be listed: {exc.message}") from exc

    @staticmethod
    def _download(context: bpy.types.Context, run: str) -> Any:
        session = runtime.session()
        wm = context.window_manager
        try:
            if session.current_hello() is None:  # not started, stopped, or started with other settings
                session.stop()
                session.start()
                session.wait_ready()
            download = session.fetch_run(run)
        except protocol.ProtocolError as exc:
            raise HostRunFailed(f"The run {run} cannot be brought from the host: {exc.message}") from exc
        wm.progress_begin(0, 1)
        try:
            _wait(lambda: download.done or None, DOWNLOAD_TIMEOUT, "send the run's files",
                  tick=lambda: wm.progress_update(download.fetched / max(download.total, 1)))
        except HostRunFailed:
            download.close("it took too long")
            raise
        finally:
            wm.progress_end()
        if download.error:
            raise HostRunFailed(download.error[0].upper() + download.error[1:])
        return download.local_dir


def _wait(ready: Any, timeout: float, what: str, tick: Any = None) -> Any:
    """Pump the session until ``ready()`` gives something; ``HostRunFailed`` past ``timeout``."""
    session = runtime.session()
    deadline = time.monotonic() + timeout
    while (value := ready()) is None:
        session.pump()
        if tick is not None:
            tick()
        if time.monotonic() > deadline:
            raise HostRunFailed(f"The backend on {session.remote_host} did not {what} within {timeout:.0f} s")
        time.sleep(POLL_SECONDS)
    return value


classes = (IMG23D_OT_import_host_run,)
