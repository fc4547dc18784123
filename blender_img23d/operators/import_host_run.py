"""``img23d.import_host_run``: Import Run from the host, for a backend on another machine.

The host keeps every run in its own runs folder; a run whose files did not all travel (the
connection dropped mid-job, or the job ran from another computer) is brought here whole: the
host's runs are listed (newest first), the artist chooses one (``img23d.import_host_run_choose``),
and it is fetched into a new local folder (``img23d_client.remote_runs``: never over a run that
is here), then imported as ``img23d.import_run`` imports a local run.

It waits on an ``img23d_client.host_import.HostImport`` as every operator waits (``_wait``): from
a button on a modal timer, with its progress in the status bar, and Esc cancels; Blender's main
thread never waits on the host. ``execute`` (scripts, background mode, where modal operators never
run) steps the same task to its end. It refuses while a job runs: the job's own messages must
reach the job.
"""

from __future__ import annotations

from typing import Any

import bpy
import img23d_protocol as protocol
from bpy.props import EnumProperty, StringProperty
from img23d_client.host_import import HostImport, Phase
from img23d_client.waiting import Wait, wait_to_end

from .. import preferences, runtime
from ._wait import WaitingOperator

# The host's runs the dialog offers, as the last listing gave them (the enum's items read it).
listed_runs: list[protocol.RunSummary] = []


def _run_items(self: Any, context: Any) -> list[tuple[str, str, str]]:
    # Blender keeps the strings of dynamic enum items only while they are referenced: keep them here.
    _run_items.items = [(str(index), run.label[:200], run.path) for index, run in enumerate(listed_runs)] \
        or [("NONE", "No runs on the host", "")]
    return _run_items.items


class HostRunFailed(Exception):
    """Listing or fetching failed; the message is the one sentence to report."""


def _check_idle() -> None:
    runner = runtime.active_runner
    if runner is not None and not runner.finished:
        raise HostRunFailed("A job is running: import a run from the host when it is done")


def _chosen(choice: str) -> str:
    if choice == "NONE" or not choice.isdigit() or int(choice) >= len(listed_runs):
        raise HostRunFailed("Choose a run of the host (the list is empty or out of date: open it again)")
    return listed_runs[int(choice)].path


class IMG23D_OT_import_host_run(WaitingOperator, bpy.types.Operator):
    """Bring a run from the SSH backend's host into the local Runs Folder and import its meshes (what
    a dropped connection or another computer left on the host)"""

    bl_idname = "img23d.import_host_run"
    bl_label = "Import Run from Host..."
    bl_options = {"REGISTER", "UNDO"}

    choice: EnumProperty(name="Run", items=_run_items)  # type: ignore[valid-type]
    run: StringProperty(  # type: ignore[valid-type]
        name="Run on the Host", options={"SKIP_SAVE"},
        description="The run folder's path on the host (instead of choosing from the list)")

    # From a button with no ``run``: list the host's runs to choose from; from a script: ``choice``.
    _from_button = False

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if preferences.get(context).backend != "SSH":
            cls.poll_message_set("The backend runs on this computer: use Import Run")
            return False
        return True

    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        """From a button: list the runs (no ``run``) or bring ``run`` here, without waiting."""
        self._from_button = not bpy.app.background
        return super().invoke(context, event)

    def begin_wait(self, context: bpy.types.Context) -> HostImport | None:
        """Bring the run (``run``, else the listed ``choice``) here, or list the runs (a button, no ``run``)."""
        try:
            _check_idle()
            run = self.run.strip() or ("" if self._from_button else _chosen(self.choice))
        except HostRunFailed as exc:
            self.report({"ERROR"}, str(exc))
            return None
        return HostImport(runtime.session(), run)

    def end_wait(self, context: bpy.types.Context, wait: Wait) -> set[str]:
        task = wait
        assert isinstance(task, HostImport)
        if task.phase is Phase.CANCELLED:
            self.report({"WARNING"}, task.error)
            return {"CANCELLED"}
        if task.phase is Phase.FAILED:
            self.report({"ERROR"}, task.error)
            return {"CANCELLED"}
        if task.local_dir is not None:
            return bpy.ops.img23d.import_run(filepath=str(task.local_dir))
        listed_runs[:] = task.runs
        if not listed_runs:
            self.report({"WARNING"}, f"There are no runs on {runtime.session().remote_host} yet")
            return {"CANCELLED"}
        bpy.ops.img23d.import_host_run_choose("INVOKE_DEFAULT")
        return {"FINISHED"}

    @staticmethod
    def _list() -> list[protocol.RunSummary]:
        """The host's runs, waiting for them (scripts and tests)."""
        task = HostImport(runtime.session())
        wait_to_end(task)
        if task.phase is not Phase.DONE:
            raise HostRunFailed(task.error)
        return task.runs


class IMG23D_OT_import_host_run_choose(bpy.types.Operator):
    """Choose which of the host's runs to bring here"""

    bl_idname = "img23d.import_host_run_choose"
    bl_label = "Import Run from Host"
    bl_options = {"INTERNAL"}

    choice: EnumProperty(name="Run", items=_run_items)  # type: ignore[valid-type]

    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        return context.window_manager.invoke_props_dialog(self, width=720)

    def draw(self, context: bpy.types.Context) -> None:
        self.layout.label(text=f"Runs on {runtime.session().remote_host}, newest first:")
        self.layout.prop(self, "choice", text="")

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            run = _chosen(self.choice)
        except HostRunFailed as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return bpy.ops.img23d.import_host_run("INVOKE_DEFAULT", run=run)


classes = (IMG23D_OT_import_host_run, IMG23D_OT_import_host_run_choose)
