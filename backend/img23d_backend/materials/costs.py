"""How long the material step takes one painted object on this device: its measured run
(``MaterialRow.benchmark``) turned into work at the benchmark CPU's speed and divided by this device's
(``models.throughput.probe``, in the dtype the model runs in here; ``models.step_costs`` gives the
derivation). Its work per object is six views at the steps the step runs (``MaterialRow.steps``: the
benchmark's encoding and decoding as measured, its steps' share scaled), processed at the model's own side or
the painted views' where that is smaller (``driver.processing_side``), the work in proportion to the
pixels (its attention grows faster, so a smaller side costs at most that). A model of another size
than the published one (a tiny replica) works in proportion to its weights.
"""

from __future__ import annotations

from typing import Any

from ..models.specs import ModelSpec
from ..models.throughput import probe
from .driver import processing_side
from .table import material_of, row_of


def materials_seconds(spec: ModelSpec, device: Any, view_side: int = 0) -> float:
    """One painted object's seconds in the material step with the model ``spec`` on ``device``, its
    views painted at ``view_side`` (0: unknown, taken as the model's own)."""
    row = row_of(spec)
    bench = row.benchmark
    gflops = probe(device, material_of(spec).dtype(device)).gflops
    pixels = (processing_side(bench.side, [view_side or bench.side]) / bench.side) ** 2
    seconds = bench.scaled_to_steps(row.steps or bench.steps)
    return seconds * bench.gflops / gflops * spec.size_bytes / bench.published_bytes * pixels
