"""How fast this process's device multiplies matrices now, in the dtype a model runs in: the one
measured figure the step-time estimates (``step_costs``) scale the benchmarks' work by.

A short probe: square matrix products of a fixed side (1024 on a CPU, 4096 on a GPU), one to warm
up, then the fastest of a few, counted as 2 n^3 floating-point operations each. It takes about a
tenth of a second on a 2-core CPU in float32 and is kept per device and dtype for the life of the
backend process (``probe``), so the hello and every job's preflight share one measurement.

The failpoint ``throughput:slow`` (``env.failpoints``) divides what was measured by a million: a
test's stand-in for a much slower device, through this same code.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..env import failpoints

CPU_SIDE = 1024
GPU_SIDE = 4096
REPEATS = 3
# What ``throughput:slow`` divides the measured rate by: hours for any model, a tiny replica included.
SLOW_FACTOR = 1e6

# The processor flags that decide how fast a CPU runs a model: bfloat16 matrix units (Intel's AMX),
# bfloat16 and 512-bit vector instructions, and AVX2, the widest every x86-64 CPU of the last decade has.
SPEED_FLAGS = ("amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx2", "fma")

_measured: dict[tuple[str, str], "Throughput"] = {}


@dataclass(frozen=True)
class Processor:
    """The CPU: its model name, which of ``SPEED_FLAGS`` it has (None: not known), its cores."""

    model: str
    flags: tuple[str, ...] | None
    cores: int | None


def processor(cpuinfo: Path = Path("/proc/cpuinfo")) -> Processor:
    """This machine's CPU from Linux's /proc/cpuinfo; elsewhere the platform's name, flags unknown."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return Processor(platform.processor() or platform.machine(), None, os.cpu_count())
    found: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        found.setdefault(key.strip(), value.strip())
    flags = set(found.get("flags", "").split())
    return Processor(found.get("model name") or platform.machine(), tuple(f for f in SPEED_FLAGS if f in flags),
                     os.cpu_count())


@dataclass(frozen=True)
class Throughput:
    """Matrix-product speed on one device in one dtype, in billions of operations a second."""

    device: str
    dtype: str
    gflops: float


def probe(device: Any, dtype: Any) -> Throughput:
    """The device's matrix-product speed in ``dtype`` (measured once per process, then kept)."""
    key = (str(device), str(dtype).removeprefix("torch."))
    if key not in _measured:
        _measured[key] = measure(device, dtype)
    found = _measured[key]
    factor = failpoints.slowdown("throughput", SLOW_FACTOR)
    return found if factor == 1.0 else Throughput(found.device, found.dtype, found.gflops / factor)


def measure(device: Any, dtype: Any) -> Throughput:
    """One fresh measurement (``probe`` keeps it): the fastest of ``REPEATS`` products after a warm-up."""
    import torch

    device = torch.device(device)
    side = GPU_SIDE if device.type in ("cuda", "mps") else CPU_SIDE
    generator = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(side, side, generator=generator).to(device=device, dtype=dtype)
    b = torch.randn(side, side, generator=generator).to(device=device, dtype=dtype)
    best = float("inf")
    with torch.inference_mode():
        for run in range(REPEATS + 1):
            _sync(device)
            started = time.perf_counter()
            (a @ b).sum()
            _sync(device)
            if run:  # the first pays one-time costs (kernel choice, allocation)
                best = min(best, time.perf_counter() - started)
    return Throughput(str(device), str(dtype).removeprefix("torch."), 2.0 * side ** 3 / max(best, 1e-9) / 1e9)


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
