"""Is this exception the device running out of memory? And a step's last try of one item (``or_out_of_memory``),
whose second out-of-memory becomes an ``OutOfMemory`` in its results rather than the job's end.

Kept apart from ``memory`` (which needs psutil) because the CLI's environment probes import it
at startup, before anything has checked that the environment has its packages: a broken
environment must still get as far as naming what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, TypeVar

from .placement import release_cached_memory

T = TypeVar("T")


@dataclass
class OutOfMemory:
    """Stands in a step's per-item results (a target's mesh, a crop's cut-out) for one that ran out of memory
    twice."""

    detail: str


def free_memory_advice(device: str) -> str:
    """What the artist can close to free memory on ``device``: other programs using the GPU only where
    there is one (on a CPU the models and pictures live in the machine's own memory)."""
    kind = str(device).split(":")[0]
    if kind == "cuda":
        return "close other programs using the GPU"
    if kind == "mps":  # Apple's GPU shares the machine's memory with every program
        return "close other programs (the GPU shares this Mac's memory)"
    return "close other programs to free this machine's memory"


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA's OutOfMemoryError, MPS's RuntimeError, or plain MemoryError on the host."""
    if isinstance(exc, MemoryError):
        return True
    try:
        import torch
    except ImportError:
        return False
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def or_out_of_memory(attempt: Callable[[], T]) -> T | OutOfMemory:
    """``attempt()``, or an ``OutOfMemory`` when even that ran out: the last try of one item."""
    try:
        return attempt()
    except Exception as exc:  # a second out-of-memory fails this item only
        if not is_out_of_memory(exc):
            raise
        release_cached_memory()
        return OutOfMemory(str(exc))
