"""How much memory there is and how much a stage used: CUDA, MPS or plain RAM.

On CUDA, peaks come from torch's allocator (``reset_peak_memory_stats`` per stage). On CPU
and MPS there is no allocator peak to ask for, so a sampling thread records the process's
resident set size while the stage runs (every 5 ms; short spikes between samples are missed).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Any


RESERVE_BYTES = 1 << 30  # left free for activations and other programs when no budget is set


@dataclass
class DeviceMemory:
    free: int
    total: int

    def to_dict(self) -> dict[str, int]:
        return {"free": self.free, "total": self.total}


def device_memory(device: Any) -> DeviceMemory:
    """Free and total bytes where ``device``'s tensors live (RAM for CPU and MPS)."""
    kind = getattr(device, "type", str(device))
    if kind == "cuda":
        import torch
        free, total = torch.cuda.mem_get_info(device)
        return DeviceMemory(free=int(free), total=int(total))
    import psutil  # imported where used: the command line imports the preflight before it checks its environment

    ram = psutil.virtual_memory()
    return DeviceMemory(free=int(ram.available), total=int(ram.total))


def default_budget(device: Any) -> int:
    """The device budget when the user set none: what is free now minus a reserve."""
    return max(device_memory(device).free - RESERVE_BYTES, 256 << 20)


def ram_available() -> int:
    import psutil

    return int(psutil.virtual_memory().available)


def ram_total() -> int:
    import psutil

    return int(psutil.virtual_memory().total)


class PeakMeter:
    """Context manager measuring one stage's peak memory in bytes (``self.peak``)."""

    def __init__(self, device: Any, interval: float = 0.005) -> None:
        self.kind = getattr(device, "type", str(device))
        self.device = device
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "PeakMeter":
        if self.kind == "cuda":
            import torch
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            import psutil

            self._process = psutil.Process()
            self.peak = self._process.memory_info().rss
            self._thread = threading.Thread(target=self._sample, name="peak-meter", daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.kind == "cuda":
            import torch
            torch.cuda.synchronize(self.device)
            self.peak = int(torch.cuda.max_memory_allocated(self.device))
        else:
            self._stop.set()
            if self._thread is not None:
                self._thread.join()
            self.peak = max(self.peak, self._process.memory_info().rss)
