"""What a stage gets from the job that runs it: the cancel token it checks between steps (set by
whoever drives the job: the server's reader thread, a signal, a batch's driver) and the progress
callback it reports through."""

from __future__ import annotations

import threading
from typing import Callable

from img23d_protocol import ErrorCode, ProtocolError

# (stage, step, total, message)
ProgressFn = Callable[[str, int, int, str], None]


class CancelToken:
    """Set by the server's reader thread; checked by stages between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise ProtocolError(ErrorCode.CANCELLED, "the job was cancelled")
