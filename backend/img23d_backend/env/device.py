"""The device the models run on: the user's choice, turned into a torch device or a clear error."""

from __future__ import annotations

from typing import Any

from img23d_protocol import ErrorCode, ProtocolError


def pick_device(name: str) -> Any:
    """Turn the user's device choice into a torch device, with a clear error when unavailable."""
    import torch  # heavy: imported when the backend starts its engine, not when the CLI parses

    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"unknown device {name!r}; use auto, cuda, mps or cpu") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ProtocolError(ErrorCode.BAD_REQUEST,
                            f"device {name} was asked for, but this torch ({torch.__version__}) sees no CUDA GPU")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ProtocolError(ErrorCode.BAD_REQUEST, "device mps was asked for, but MPS is not available here")
    if device.type not in ("cuda", "mps", "cpu"):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"device type {device.type!r} is not supported")
    # An index no device has was taken, and the first load failed with "device cpu:3 is invalid" [internal].
    count = torch.cuda.device_count() if device.type == "cuda" else 1
    if device.index is not None and device.index >= count:
        there = f"{count} CUDA GPU{'s' if count != 1 else ''} (cuda:0 to cuda:{count - 1})" if device.type == "cuda" \
            else f"one {device.type} device ({device.type} or {device.type}:0)"
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"device {name} was asked for, but this machine has {there}")
    return device


def device_name(device: Any) -> str | None:
    """The GPU's marketing name (CUDA only), for the hello and the manifest."""
    import torch

    return torch.cuda.get_device_name(device) if device.type == "cuda" else None
