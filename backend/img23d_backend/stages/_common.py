"""Small things every stage needs: cancellation, progress callbacks, dtype per device."""

from __future__ import annotations

import threading
from typing import Any, Callable

from ..protocol import ErrorCode, ProtocolError

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


def working_dtype(device: Any, prefer_bf16: bool = False) -> Any:
    """Half precision where the device runs it fast and well; fp32 on CPU."""
    import torch

    kind = getattr(device, "type", str(device))
    if kind == "cuda":
        if prefer_bf16 and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float16
    if kind == "mps":
        return torch.float16
    return torch.float32
