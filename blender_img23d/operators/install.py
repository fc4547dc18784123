"""Install Backend: the installer on a worker thread, its progress in the preferences.

From the button it runs on a thread and the operator stays modal (a timer redraws the
preferences and reports the end); from a script or in background mode it blocks, like
the job operators.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import bpy
import img23d_installer as installer
from bpy.props import StringProperty
from img23d_client.paths import backend_source_dir, protocol_wheel
from img23d_client.remote import RemoteHost
from img23d_installer.remote_install import HostInstall, install_on_host
from img23d_installer.task import InstallTask

from .. import preferences, runtime
from ..user_folders import installed_env_dir, user_dir
from ._wait import redraw

TIMER_SECONDS = 0.25


class IMG23D_OT_install_backend(bpy.types.Operator):
    """Create (or repair) the backend's own Python environment: PyTorch for this machine (or, with the SSH
    backend chosen, on the host), the models' libraries and the backend. Takes minutes; downloads a few GB
    from PyPI and pytorch.org"""

    bl_idname = "img23d.install_backend"
    bl_label = "Install Backend"

    target: StringProperty(  # type: ignore[valid-type]
        name="Folder", options={"SKIP_SAVE"},
        description="Where the environment goes. Empty: the add-on's user folder (backend-env)")
    torch_spec: StringProperty(  # type: ignore[valid-type]
        name="Torch Packages", options={"SKIP_SAVE"},
        description='Exact torch packages instead of the automatic choice, e.g. "torch==2.13.0 torchvision==0.28.0"')
    index_url: StringProperty(name="Torch Index", options={"SKIP_SAVE"})  # type: ignore[valid-type]
    pip_args: StringProperty(  # type: ignore[valid-type]
        name="Extra pip Arguments", options={"SKIP_SAVE"},
        description='Added to every pip install, e.g. "--find-links /wheels" for an offline mirror')

    _timer: Any = None

    def execute(self, context: bpy.types.Context) -> set[str]:
        work = self._checked_work(context)
        task = self._begin(context) if work is not None else None
        if task is None:
            return {"CANCELLED"}
        task.run_here(work)
        return self._finish(task)

    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        if bpy.app.background:
            return self.execute(context)
        work = self._checked_work(context)
        task = self._begin(context) if work is not None else None
        if task is None:
            return {"CANCELLED"}
        task.start(work)
        wm = context.window_manager
        self._timer = wm.event_timer_add(TIMER_SECONDS, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: Any) -> set[str]:
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        redraw_preferences(context)
        task = runtime.install_task
        if task is not None and not task.finished:
            return {"PASS_THROUGH"}
        context.window_manager.event_timer_remove(self._timer)
        self._timer = None
        return self._finish(task) if task is not None else {"CANCELLED"}

    def _begin(self, context: bpy.types.Context) -> InstallTask | None:
        if runtime.installing():
            self.report({"ERROR"}, "The backend is already being installed")
            return None
        if runtime.active_runner is not None and not runtime.active_runner.finished:
            self.report({"ERROR"}, "A job is running: wait for it or cancel it before installing")
            return None
        if runtime.has_session():
            runtime.session().stop()  # it may run from the very environment pip is about to change
        runtime.install_task = InstallTask()
        return runtime.install_task

    def _checked_work(self, context: bpy.types.Context) -> Any:
        """The install's work, or None once its one sentence is reported: read before the task is made (an
        unclosed quote in Extra pip Arguments raised after it was, and the add-on said "installing" for good)."""
        try:
            return self._work(context)
        except ValueError as exc:  # shlex's "No closing quotation"
            self.report({"ERROR"}, f"Extra pip Arguments cannot be read ({exc}): close its quotes")
            return None

    def _work(self, context: bpy.types.Context) -> Any:
        """The install as a closure: everything read from bpy here, on the main thread."""
        prefs = preferences.get(context)
        remote = prefs.remote_host()
        if remote is not None:
            return self._work_on_host(prefs, remote)
        target = Path(bpy.path.abspath(self.target)) if self.target else installed_env_dir()
        log_path = user_dir() / "logs" / "install.log"
        build, torch_spec, index_url = prefs.torch_build, self.torch_spec.strip(), self.index_url.strip()
        base_python = prefs.install_interpreter()
        pip_args = shlex.split(self.pip_args)
        source, wheel = backend_source_dir(), protocol_wheel()
        family = prefs.family
        claimed = target == installed_env_dir()  # the add-on's own folder: a venv there is one img23d made

        def work(progress: Any, cancel: Any) -> installer.InstallResult:
            # nvidia-smi may take seconds: probe on the worker, not in the UI.
            choice = installer.plan_torch(installer.probe_system(), build=build, torch_spec=torch_spec or None,
                                          index_url=index_url or None)
            return installer.install(target, source, wheel, python=base_python, torch=choice, pip_args=pip_args,
                                     log_path=log_path, progress=progress, cancel=cancel, family=family,
                                     claimed=claimed)

        return work

    def _work_on_host(self, prefs: Any, remote: RemoteHost) -> Any:
        """The install on the SSH host: the same installer, sent there and run there (``remote_install``)."""
        job = HostInstall(remote=remote, base_python=prefs.ssh_install_python.strip() or "python3",
                          torch_build=prefs.torch_build, torch_spec=self.torch_spec.strip(),
                          index_url=self.index_url.strip(), pip_args=shlex.split(self.pip_args), family=prefs.family)
        log_path = user_dir() / "logs" / "install-remote.log"

        def work(progress: Any, cancel: Any) -> installer.InstallResult:
            return install_on_host(job, log_path=log_path, progress=progress, cancel=cancel)

        return work

    def _finish(self, task: InstallTask) -> set[str]:
        if task.result is not None:
            # Installed, but a probe failed: the real models would not run, and the user must know.
            self.report({"WARNING"} if task.result.warnings else {"INFO"}, task.result.summary())
            return {"FINISHED"}
        self.report({"WARNING"} if task.cancelled else {"ERROR"}, task.error)
        return {"CANCELLED"}


class IMG23D_OT_install_cancel(bpy.types.Operator):
    """Stop the backend install (the running pip is stopped; installing again repairs the environment)"""

    bl_idname = "img23d.install_cancel"
    bl_label = "Cancel Install"

    def execute(self, context: bpy.types.Context) -> set[str]:
        if not runtime.installing():
            self.report({"INFO"}, "No install is running")
            return {"CANCELLED"}
        runtime.install_task.cancel()
        return {"FINISHED"}


def redraw_preferences(context: bpy.types.Context) -> None:
    redraw(context, ("PREFERENCES", "VIEW_3D"))


classes = (IMG23D_OT_install_backend, IMG23D_OT_install_cancel)
