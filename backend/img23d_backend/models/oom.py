"""Is this exception the device running out of memory?

Kept apart from ``memory`` (which needs psutil) because the CLI's environment probes import it
at startup, before anything has checked that the environment has its packages: a broken
environment must still get as far as naming what is missing.
"""

from __future__ import annotations


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
