"""What the benchmarks share for timing: the median of several runs of a call and what it returned;
each call of one module's forward (a UNet's steps inside a pipeline's call)."""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator


def timed(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median seconds of ``repeat`` (at least one) calls of ``run``, and what the last one returned."""
    seconds, result = [], None
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


@contextmanager
def forward_calls(module: Any, device: Any) -> Iterator[list[tuple[float, tuple[int, ...]]]]:
    """For the block, every call of ``module.forward`` timed (on CUDA, to the end of its kernels), as
    (seconds, the shape of what it ran on) in order; the module's own forward again afterwards."""
    import torch

    calls: list[tuple[float, tuple[int, ...]]] = []
    forward = module.forward

    def timed_forward(*args: Any, **kwargs: Any) -> Any:
        begun = time.perf_counter()
        out = forward(*args, **kwargs)
        if getattr(device, "type", str(device)) == "cuda":
            torch.cuda.synchronize(device)
        # What it ran on: the first argument (a UNet's sample), or the first tensor passed by name (a
        # diffusers transformer's hidden_states).
        first = args[0] if args else next((v for v in kwargs.values() if isinstance(v, torch.Tensor)), None)
        calls.append((time.perf_counter() - begun, tuple(first.shape) if first is not None else ()))
        return out

    module.forward = timed_forward
    try:
        yield calls
    finally:
        del module.forward  # the instance attribute: the class's forward shows again


def steady(calls: list[tuple[float, tuple[int, ...]]]) -> float:
    """The median call after the first, which pays one-time costs (allocations, kernel choices)."""
    return statistics.median(seconds for seconds, _ in (calls[1:] or calls))
