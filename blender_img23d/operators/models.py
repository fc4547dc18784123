"""The model manager: list the configured models, download one, delete one.

Each operator sends one request to the backend and waits for its answer in
``session.replies``: modal with a timer from a button (Blender stays responsive; the
preferences redraw), blocking from a script or in background mode. The list they get back
goes into ``runtime.catalog``, which the preferences only read.
"""

from __future__ import annotations

import time
from typing import Any

import bpy
from bpy.props import BoolProperty, StringProperty

from .. import licence_consent, preferences, runtime
from ..model_catalog import format_size
import img23d_protocol as protocol
from .install import redraw_preferences

TIMER_SECONDS = 0.1
QUICK_TIMEOUT = 300.0   # listing or deleting, including starting the backend first


class ReplyOperatorMixin:
    """Send a request in ``send()``; ``on_reply()`` gets its result or error.

    ``interactive`` is set by invoke(): execute() then goes modal instead of blocking (it is
    also what Blender calls after a confirmation dialog)."""

    busy_label = ""
    timeout: float | None = QUICK_TIMEOUT
    _timer: Any = None
    _request_id = ""
    _started = 0.0

    def send(self, context: bpy.types.Context) -> str:
        raise NotImplementedError

    def on_reply(self, context: bpy.types.Context, reply: Any) -> set[str]:
        raise NotImplementedError

    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        if not bpy.app.background:
            self.interactive = True
        return self.execute(context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        catalog = runtime.catalog
        if catalog.busy:
            self.report({"ERROR"}, f"The model manager is busy ({catalog.busy}): wait for it")
            return {"CANCELLED"}
        try:
            self._request_id = self.send(context)
        except protocol.ProtocolError as exc:
            catalog.error = exc.message
            self.report({"ERROR"}, exc.message)
            return {"CANCELLED"}
        catalog.busy, catalog.error, self._started = self.busy_label, "", time.monotonic()
        if not self.interactive or bpy.app.background:
            return self._block(context)
        wm = context.window_manager
        self._timer = wm.event_timer_add(TIMER_SECONDS, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def _block(self, context: bpy.types.Context) -> set[str]:
        while (reply := self._poll()) is None:
            time.sleep(0.05)
        return self._end(context, reply)

    def modal(self, context: bpy.types.Context, event: Any) -> set[str]:
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        reply = self._poll()
        redraw_preferences(context)
        if reply is None:
            return {"PASS_THROUGH"}
        context.window_manager.event_timer_remove(self._timer)
        self._timer = None
        return self._end(context, reply)

    def cancel(self, context: bpy.types.Context) -> None:
        """Blender ended the modal wait (e.g. a file was loaded): free the model manager."""
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None
        runtime.catalog.busy = ""

    def _poll(self) -> Any:
        runtime.pump_for_waiters()
        if not runtime.has_session():  # the add-on was disabled under us
            return protocol.Error(id=self._request_id, code=protocol.ErrorCode.BACKEND_UNAVAILABLE.value,
                                  message="the backend was stopped")
        session = runtime.session()
        reply = session.take_reply(self._request_id)
        if reply is None and self.timeout is not None and time.monotonic() - self._started > self.timeout:
            reply = protocol.Error(id=self._request_id, code=protocol.ErrorCode.BACKEND_UNAVAILABLE.value,
                                   message=f"the backend did not answer within {self.timeout:.0f} s")
        return reply

    def _end(self, context: bpy.types.Context, reply: Any) -> set[str]:
        catalog = runtime.catalog
        catalog.busy = ""
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
    timeout = None  # gigabytes: as long as it takes; Cancel stops it
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
        if runtime.active_runner is not None and not runtime.active_runner.done:
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

    def _end(self, context: bpy.types.Context, reply: Any) -> set[str]:
        runtime.catalog.download_model = runtime.catalog.download_job = ""
        return super()._end(context, reply)

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
        if session is None or session.job_kind != "download" or session.job_id is None:
            self.report({"INFO"}, "No download is running")
            return {"CANCELLED"}
        try:
            session.cancel()
        except protocol.ProtocolError as exc:
            self.report({"ERROR"}, exc.message)
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
