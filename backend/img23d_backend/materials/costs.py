"""How long the material step takes one painted object on this device: its measured run
(``MaterialRow.benchmark``) turned into work at the benchmark CPU's speed and divided by this device's
(``models.throughput.probe``, in the dtype the model runs in here; ``models.step_costs`` gives the
derivation). Its work per object is fixed: six views at the model's own resolution and steps. A model
of another size than the published one (a tiny replica) works in proportion to its weights.
"""

from __future__ import annotations

from typing import Any

from ..models.specs import ModelSpec
from ..models.throughput import probe
from .table import material_of, row_of


def materials_seconds(spec: ModelSpec, device: Any) -> float:
    """One painted object's seconds in the material step with the model ``spec`` on ``device``."""
    bench = row_of(spec).benchmark
    gflops = probe(device, material_of(spec).dtype(device)).gflops
    return bench.seconds * bench.gflops / gflops * spec.size_bytes / bench.published_bytes
