"""Error codes and the one exception type both sides raise and report."""

from __future__ import annotations

from enum import Enum


class ErrorCode(str, Enum):
    """Machine-readable error codes; the message beside them is for people."""

    BAD_REQUEST = "bad_request"
    VERSION_MISMATCH = "version_mismatch"
    BUSY = "busy"
    IMAGE_UNREADABLE = "image_unreadable"
    TARGET_NOT_FOUND = "target_not_found"
    SHAPE_FAILED = "shape_failed"
    MODEL_MISSING = "model_missing"
    # (1.14) A model's file is there but damaged (cut off, not valid JSON or YAML, remote code that does
    # not compile, not the file the hub published): the message names the model, the file, its folder
    # and the repair. An older peer reads an unknown code as ``internal`` (``Error.to_exception``) and
    # still shows the message.
    MODEL_DAMAGED = "model_damaged"
    DOWNLOAD_FAILED = "download_failed"
    OUT_OF_MEMORY = "out_of_memory"
    DISK = "disk"
    # torch or torchvision cannot run what a model needs here (a probe failed): reinstall the backend.
    ENVIRONMENT = "environment"
    # A model whose licence restricts territory or use would be downloaded, and nobody accepted it.
    LICENCE_NOT_ACCEPTED = "licence_not_accepted"
    # (1.18) The job's slow optional steps would take hours on this device (``costs.py``) and its options
    # do not say the artist accepted that (``accept_long``).
    LONG_JOB_NOT_ACCEPTED = "long_job_not_accepted"
    CANCELLED = "cancelled"
    INTERNAL = "internal"
    # Raised by the add-on's client, never sent by the backend: it cannot start, died, or hangs.
    BACKEND_UNAVAILABLE = "backend_unavailable"


class ProtocolError(Exception):
    """An error with a code, raised anywhere and sent as an ``error`` event at the boundary."""

    def __init__(self, code: ErrorCode, message: str, detail: str | None = None,
                 target: str | None = None) -> None:
        super().__init__(message)
        self.code = ErrorCode(code)
        self.message = message
        self.detail = detail
        self.target = target

    def __str__(self) -> str:
        return f"[{self.code.value}] {self.message}"
