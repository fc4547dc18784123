"""A job's settings against the backend's memory limits (its hello's ``limits``), in words.

The backend says in its hello the largest octree resolution and texture size that one target
fits with on its device (see the backend's ``preflight.py``); a job above them would only be
refused there, or worse, killed by the system. No bpy here: the session uses it too.
"""

from __future__ import annotations

from typing import Any

import img23d_protocol as protocol


def backend_memory(hello: Any) -> str:
    """The device the backend computes on and its memory, e.g. ``cpu (8 GB)``."""
    device = getattr(hello, "device", None) or "device"
    total = (getattr(hello, "memory", None) or {}).get("total")
    if isinstance(total, (int, float)) and not isinstance(total, bool) and total > 0:
        return f"{device} ({total / 1e9:.0f} GB)"  # GB as the backend's own messages count them
    return device


def too_big(label: str, value: int, limit: int, hello: Any) -> str:
    return (f"{label} {value} is more than the backend's {backend_memory(hello)} can hold "
            f"(at most {limit}): lower it")


def refusal(request: Any, hello: Any) -> str | None:
    """One sentence for the first of ``request``'s settings above ``hello``'s limits, naming the
    option as the protocol does; None when they all fit (or the request has no options)."""
    options = getattr(request, "options", None)
    if not isinstance(options, protocol.JobOptions):
        return None
    shapes = getattr(request, "TYPE", "") != protocol.RetextureRequest.TYPE
    over = protocol.over_limits(options, getattr(hello, "limits", None), shapes=shapes)
    if not over:
        return None
    name, value, limit = over[0]
    return too_big(name.replace("_", " "), value, limit, hello)
