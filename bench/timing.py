"""What the benchmarks share for timing a call: the median of several runs, and what it returned."""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable


def timed(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median seconds of ``repeat`` (at least one) calls of ``run``, and what the last one returned."""
    seconds, result = [], None
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result
