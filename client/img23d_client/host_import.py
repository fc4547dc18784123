"""Import Run from Host as steps that never wait: list the host's runs, or bring one run here.

A ``HostImport`` is a ``waiting.Wait``: Blender's operator ticks it from a modal timer (progress
in the status bar, Esc cancels: ``cancel``), so Blender's main thread never waits on the host;
scripts and background mode (where modal operators never run) step it with
``waiting.wait_to_end``. Each ``step`` pumps the session once and moves on: the run list arrives,
the backend (re)starts with the current preferences before a download, the download
(``remote_runs.RunDownload``) goes file by file. Every way it can fail ends in ``error``, one
sentence. The listing also removes what killed transfers left in the listed runs' mirrors here
(``leftovers``). No bpy here.
"""

from __future__ import annotations

import time
from enum import Enum
from pathlib import Path
from typing import Any, Callable

import img23d_protocol as protocol

from .leftovers import remove_leftovers
from .remote_runs import parse_runs
from .session import HELLO_TIMEOUT

LIST_TIMEOUT = HELLO_TIMEOUT + 60.0      # the first request may start the backend over ssh
DOWNLOAD_TIMEOUT = 1800.0              # gigabytes of meshes on a slow link; each file is checked


class Phase(str, Enum):
    LISTING = "listing"          # waiting for the host's run list
    STARTING = "starting"        # (re)starting the backend before a download
    DOWNLOADING = "downloading"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class HostImport:
    def __init__(self, session: Any, run: str = "", *, list_timeout: float = LIST_TIMEOUT,
                 download_timeout: float = DOWNLOAD_TIMEOUT, clock: Callable[[], float] = time.monotonic) -> None:
        self.session, self.run, self._clock = session, run, clock
        self.runs: list[protocol.RunSummary] = []
        self.local_dir: Path | None = None
        self.error = ""
        self.download: Any = None
        self._list_id = ""
        self._deadline = clock() + (download_timeout if run else list_timeout)
        self._timeout = download_timeout if run else list_timeout
        try:
            if not run:
                self.phase = Phase.LISTING
                self._list_id = session.request(protocol.RunsRequest())
            elif session.current_hello() is None:  # not started, stopped, or started with other settings
                self.phase = Phase.STARTING
                session.stop(wait=False)  # the old process ends on a thread: this step never waits
                session.start()
            else:
                self._start_download()
        except protocol.ProtocolError as exc:
            self._fail(exc.message)

    @property
    def finished(self) -> bool:
        return self.phase in (Phase.DONE, Phase.FAILED, Phase.CANCELLED)

    @property
    def fraction(self) -> float:
        download = self.download
        return download.fetched / max(download.total, 1) if download is not None else 0.0

    @property
    def status(self) -> str:
        host = self.session.remote_host or "the host"
        if self.phase is Phase.LISTING:
            return f"Listing the runs on {host}"
        if self.phase is Phase.STARTING:
            return f"Starting the backend on {host}"
        if self.phase is Phase.DOWNLOADING:
            return f"Bringing {self.run.rsplit('/', 1)[-1]} from {host}: {self.download.progress}"
        return self.error or self.phase.value

    def step(self) -> Phase:
        """Pump the session once and move on; never waits."""
        if self.finished:
            return self.phase
        self.session.pump()
        try:
            if self.phase is Phase.LISTING:
                self._listing()
            elif self.phase is Phase.STARTING:
                self._starting()
            elif self.phase is Phase.DOWNLOADING and self.download.done:
                if self.download.error:
                    self._fail(self.download.error[0].upper() + self.download.error[1:])
                else:
                    self.local_dir, self.phase = self.download.local_dir, Phase.DONE
        except protocol.ProtocolError as exc:
            self._fail(exc.message)
        if not self.finished and self._clock() > self._deadline:
            what = "list its runs" if self.phase is Phase.LISTING else "send the run's files"
            self.cancel(f"The backend on {self.session.remote_host} did not {what} within {self._timeout:.0f} s")
            self.phase = Phase.FAILED
        return self.phase

    def cancel(self, why: str = "Import Run from Host was cancelled") -> None:
        """Stop waiting: a download in flight is closed (its folder removed), a listing forgotten."""
        if self.finished:
            return
        if self.download is not None and not self.download.done:
            self.download.close(why)
        self.error, self.phase = why, Phase.CANCELLED

    # -- phases ----------------------------------------------------------------------------------

    def _listing(self) -> None:
        reply = self.session.take_reply(self._list_id)
        if reply is None:
            return
        if isinstance(reply, protocol.Error):
            self._fail(f"The host's runs could not be listed: {reply.message}")
            return
        try:
            mirror = self.session.mirror()
            self.runs = parse_runs(reply, mirror)
        except protocol.ProtocolError as exc:
            self._fail(f"The host's runs could not be listed: {exc.message}")
            return
        for run in self.runs:  # each checked to be a run folder of the mirror by parse_runs
            remove_leftovers(mirror.local_path(run.path))
        self.phase = Phase.DONE

    def _starting(self) -> None:
        state = getattr(self.session.state, "value", "")
        if state == "error":
            self._fail(f"The run {self.run} cannot be brought from the host: {self.session.error}")
        elif state == "ready":
            self._start_download()

    def _start_download(self) -> None:
        try:
            self.download = self.session.fetch_run(self.run)
        except protocol.ProtocolError as exc:
            self._fail(f"The run {self.run} cannot be brought from the host: {exc.message}")
            return
        self.phase = Phase.DOWNLOADING

    def _fail(self, message: str) -> None:
        self.error, self.phase = message, Phase.FAILED
