"""The model manager: list the configured models, download one, delete one.

Each operator sends one request to the backend and waits for its answer in ``session.replies``
(a ``ReplyWait``) as every operator waits (``_wait``): modal from a button (Blender stays
responsive; the preferences redraw; Esc stops a download after its file, or stops waiting for a
list or a deletion), to the end from a script or in background mode. The list they get back goes
into ``runtime.catalog``, which the preferences only read.
"""

from __future__ import annotations

import time
from typing import Any

import bpy
import img23d_protocol as protocol
from bpy.props import BoolProperty, StringProperty
from img23d_client.waiting import Wait

from .. import licence_consent, preferences, runtime
from ..model_catalog import format_size
from ._wait import WaitingOperator
from .backend import ask_to_cancel

QUICK_TIMEOUT = 300.0   # listing or deleting, including starting the backend first


class ReplyWait:
    """The answer to one request in ``session.replies``: the reply (a result or an error) once it
    came; an error of our own when the backend stopped, did not answer in ``timeout`` seconds, or
    the artist stopped waiting. ``job``: the request is the session's job (a download), so
    cancelling asks the backend to stop it, and its own cancelled error ends the wait."""

    def __init__(self, request_id: str, label: str, timeout: float | None, job: bool = False) -> None:
        self.request_id, self.label, self.timeout, self.job = request_id, label, timeout, job
        self.reply: Any = None
        self._started = time.monotonic()

    @property
    def finished(self) -> bool:
        return self.reply is not None

    @property
    def status(self) -> str:
        return f"img23d: {self.label}"

    @property
    def fraction(self) -> float:
        return 0.0

    def step(self) -> None:
        runtime.pump_for_waiters()
        if not runtime.has_session():  # the add-on was disabled under us
            self._end_with(protocol.ErrorCode.BACKEND_UNAVAILABLE, "the backend was stopped")
            return
        self.reply = runtime.session().take_reply(self.request_id)
        if self.reply is None and self.timeout is not None and time.monotonic() - self._started > self.timeout:
            self._end_with(protocol.ErrorCode.BACKEND_UNAVAILABLE,
                           f"the backend did not answer within {self.timeout:.0f} s")

    def cancel(self) -> None:
        if self.job and runtime.has_session():
            runtime.session().cancel()  # the backend answers with the job's cancelled error
        else:
            self._end_with(protocol.ErrorCode.CANCELLED, f"stopped waiting for the backend ({self.label})")

    def _end_with(self, code: protocol.ErrorCode, message: str) -> None:
        self.reply = protocol.Error(id=self.request_id, code=code.value, message=message)


class ReplyOperatorMixin(WaitingOperator):
    """Send a request in ``send()``; ``on_reply()`` gets its result or error.

    ``interactive`` is set by invoke(): execute() then waits modal instead of to the end (it is
    also what Blender calls after a confirmation dialog)."""

    busy_label = ""
    timeout: float | None = QUICK_TIMEOUT
    is_job = False
    redraw_areas = ("PREFERENCES", "VIEW_3D")

    def send(self, context: bpy.types.Context) -> str:
        raise NotImplementedError

    def on_reply(self, context: bpy.types.Context, reply: Any) -> set[str]:
        raise NotImplementedError

    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        if not bpy.app.background:
            self.interactive = True
        return self.execute(context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        if self.interactive and not bpy.app.background:
            return self.wait_modal(context)
        return super().execute(context)

    def begin_wait(self, context: bpy.types.Context) -> ReplyWait | None:
        if refused := runtime.refused_while_installing():
            self.report({"ERROR"}, refused)
            return None
        catalog = runtime.catalog
        if catalog.busy:
            self.report({"ERROR"}, f"The model manager is busy ({catalog.busy}): wait for it")
            return None
        try:
            request_id = self.send(context)
        except protocol.ProtocolError as exc:
            catalog.error = exc.message
            self.report({"ERROR"}, exc.message)
            return None
        catalog.busy, catalog.error = self.busy_label, ""
        return ReplyWait(request_id, self.busy_label, self.timeout, job=self.is_job)

    def wait_released(self, wait: Wait) -> None:
        runtime.catalog.busy = ""

    def end_wait(self, context: bpy.types.Context, wait: Wait) -> set[str]:
        assert isinstance(wait, ReplyWait)
        reply = wait.reply
        catalog = runtime.catalog
        if isinstance(reply, protocol.Error):
            catalog.error = reply.message
            cancelled = reply.code == protocol.ErrorCode.CANCELLED.value
            self.report({"WARNING"} if cancelled else {"ERROR"}, reply.message)
            return {"CANCELLED"}
        catalog.update(reply.data, preferences.get(context).model_configuration())
        return self.on_reply(context, reply)


class IMG23D_OT_models_refresh(ReplyOperatorMixin, bpy.types.Operator):
    """List the configured models, their sizes and whether they are downloaded (starts the backend)"""

    bl_idname = "img23d.models_refresh"
    bl_label = "Refresh Models"
    busy_label = "listing"
    interactive: BoolProperty(options={"HIDDEN", "SKIP_SAVE"})  # type: ignore[valid-type]

    def send(self, context: bpy.types.Context) -> str:
        return runtime.session().request(protocol.ModelsRequest())

    def on_reply(self, context: bpy.types.Context, reply: Any) -> set[str]:
        catalog = runtime.catalog
        catalog.message = f"{len(catalog.entries)} models" + (" (offline)" if catalog.offline else "")
        return {"FINISHED"}


class IMG23D_OT_model_download(ReplyOperatorMixin, bpy.types.Operator):
    """Download this model into the Hugging Face cache now (instead of at the first job)"""

    bl_idname = "img23d.model_download"
    bl_label = "Download Model"
    busy_label = "downloading"
    timeout = None  # gigabytes: as long as it takes; Cancel (or Esc) stops it
    is_job = True
    model: StringProperty(name="Model", options={"SKIP_SAVE"})  # type: ignore[valid-type]
    interactive: BoolProperty(options={"HIDDEN", "SKIP_SAVE"})  # type: ignore[valid-type]
    # Set by confirming the licence dialog (or by a script that accepts on the artist's behalf):
    # the model's restricted licence is accepted, and remembered in the preferences.
    accept_licence: BoolProperty(name="Accept Licence", options={"HIDDEN", "SKIP_SAVE"})  # type: ignore[valid-type]

    def _licence(self, context: bpy.types.Context) -> "protocol.Licence | None":
        """The restricted licence this download needs accepted, if the artist has not yet."""
        entry = runtime.catalog.entry(self.model)
        return licence_consent.needs_consent(entry, preferences.get(context).accepted_licence_keys()) \
            if entry is not None else None

    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        if self._licence(context) is None or bpy.app.background:
            return super().invoke(context, event)
        # Asked once: confirming sets accept_licence and runs execute(); cancelling runs nothing.
        self.interactive = self.accept_licence = True
        return context.window_manager.invoke_props_dialog(self, width=560, title="Accept the Model's Licence",
                                                          confirm_text="Accept and Download")

    def draw(self, context: bpy.types.Context) -> None:
        licence = self._licence(context)
        if licence is None:
            return
        for line in licence_consent.question(self.model, licence):
            self.layout.label(text=line)
        stated = licence_consent.of_entry(runtime.catalog.entry(self.model))
        if stated is not None:
            entry = runtime.catalog.entry(self.model)
            self.layout.operator("wm.url_open", text="Read the Licence", icon="URL").url = stated.url(entry.revision)

    def send(self, context: bpy.types.Context) -> str:
        if runtime.active_runner is not None and not runtime.active_runner.finished:
            raise protocol.ProtocolError(protocol.ErrorCode.BUSY, "A job is running: download when it is done")
        prefs = preferences.get(context)
        licence = self._licence(context)
        if licence is not None:
            if not self.accept_licence:  # nothing is sent: the backend would refuse it anyway
                raise protocol.ProtocolError(protocol.ErrorCode.LICENCE_NOT_ACCEPTED,
                                             protocol.licence_refusal(self.model, licence))
            prefs.accept_licence(licence.key)
        session = runtime.session()
        job = session.submit(protocol.DownloadRequest(model=self.model,
                                                      accepted_licences=prefs.accepted_licence_keys()))
        session.await_reply(job)
        runtime.catalog.download_model, runtime.catalog.download_job = self.model, job
        return job

    def wait_released(self, wait: Wait) -> None:
        runtime.catalog.download_model = runtime.catalog.download_job = ""
        super().wait_released(wait)

    def on_reply(self, context: bpy.types.Context, reply: Any) -> set[str]:
        runtime.catalog.message = f"Downloaded {self.model}"
        self.report({"INFO"}, runtime.catalog.message)
        return {"FINISHED"}


class IMG23D_OT_model_download_cancel(bpy.types.Operator):
    """Stop the model download after the file in progress (what was fetched is kept for next time)"""

    bl_idname = "img23d.model_download_cancel"
    bl_label = "Cancel Download"

    def execute(self, context: bpy.types.Context) -> set[str]:
        session = runtime.session() if runtime.has_session() else None
        downloading = session is not None and session.job_kind == "download" and session.job_id is not None
        if not ask_to_cancel(self, session.cancel if downloading else None, "No download is running"):
            return {"CANCELLED"}
        runtime.catalog.message = "Cancelling after the current file"
        return {"FINISHED"}


class IMG23D_OT_model_delete(ReplyOperatorMixin, bpy.types.Operator):
    """Delete this model's files from the Hugging Face cache (it is downloaded again when needed)"""

    bl_idname = "img23d.model_delete"
    bl_label = "Delete Model"
    busy_label = "deleting"
    model: StringProperty(name="Model", options={"SKIP_SAVE"})  # type: ignore[valid-type]
    interactive: BoolProperty(options={"HIDDEN", "SKIP_SAVE"})  # type: ignore[valid-type]

    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        if bpy.app.background:
            return self.execute(context)
        self.interactive = True
        entry = runtime.catalog.entry(self.model)
        shared = f" This also removes {', '.join(entry.shared_with)}." if entry and entry.shared_with else ""
        return context.window_manager.invoke_confirm(
            self, event, title="Delete Model", confirm_text="Delete", icon="WARNING",
            message=f"Delete {self.model} from the Hugging Face cache?{shared}")

    def send(self, context: bpy.types.Context) -> str:
        return runtime.session().request(protocol.DeleteRequest(model=self.model))

    def on_reply(self, context: bpy.types.Context, reply: Any) -> set[str]:
        freed = int(reply.data.get("freed_bytes", 0))
        runtime.catalog.message = f"Deleted {self.model} ({format_size(freed)} freed)" if freed else \
            f"{self.model} was not in the cache"
        self.report({"INFO"}, runtime.catalog.message)
        return {"FINISHED"}


class IMG23D_OT_licence_withdraw(bpy.types.Operator):
    """Withdraw your acceptance of this licence: its models' next download asks again"""

    bl_idname = "img23d.licence_withdraw"
    bl_label = "Withdraw Licence"
    key: StringProperty(name="Licence", options={"SKIP_SAVE"})  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> set[str]:
        prefs = preferences.get(context)
        prefs.accepted_licences = ",".join(key for key in prefs.accepted_licence_keys() if key != self.key)
        return {"FINISHED"}


classes = (IMG23D_OT_models_refresh, IMG23D_OT_model_download, IMG23D_OT_model_download_cancel,
           IMG23D_OT_model_delete, IMG23D_OT_licence_withdraw)
