"""Is this exception the device running out of memory?

Kept apart from ``memory`` (which needs psutil) because the CLI's environment probes import it
at startup, before anything has checked that the environment has its packages: a broken
environment must still get as far as naming what is missing.
"""

from __future__ import annotations


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
