"""How long a parts run takes on this device, before it starts, and its refusal when that is hours.

``models.step_costs`` gives the derivation: the benchmark measured one DiT forward, one decode and the
conditioner on one CPU in float32 (``PartsRow.benchmark``) with that CPU's matrix-product speed; the
forward's operations come from the architecture (``PartsWork.forward_flops``), so its measured seconds
say how far the DiT runs from the probe's rate, and that ratio carries to this device's probe
(``models.throughput.probe``). A part is ``forwards_per_step`` x ``steps`` forwards, one decode at the
request's grid (the measured decode is the coarse pass, 64 cells a side, dense; each finer level queries a
band around the surface, whose cells grow with the square of the side: the measured one scaled so) and
the history's re-encoding (one VAE encode, under a forward: not counted); a picture without a mesh draws the whole object first (``whole_forwards_per_step``
x ``steps``). Without a mask the loop may stop early: the estimate is for every part asked, "up to".
A replica of another size than the published one works in proportion to its weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..models.specs import ModelSpec
from ..models.step_costs import refuse_long_run
from ..models.throughput import probe
from .generator import PartsRow
from .part import PartsRequest
from .table import row_of


@dataclass(frozen=True)
class PartsEstimate:
    """A run's seconds here: the whole object's drawing (0 with a mesh), each part's, and the parts counted."""

    whole_s: float
    part_s: float
    parts: int

    @property
    def total_s(self) -> float:
        return self.whole_s + self.part_s * self.parts


def forward_seconds(row: PartsRow, gflops: float) -> float:
    """One DiT forward's seconds at ``gflops`` (this device's probe), at the benchmark's distance from it."""
    bench = row.benchmark
    slowness = bench.forward_s / (row.work.forward_flops() / 1e9 / bench.gflops)
    return row.work.forward_flops() / 1e9 / gflops * slowness


def parts_estimate(row: PartsRow, gflops: float, parts: int, steps: int, grid: int, whole: bool,
                   share: float = 1.0) -> PartsEstimate:
    """``parts`` parts at ``steps`` steps decoded at ``grid``, the whole object drawn first when ``whole``;
    ``share``: the model's size against the published one."""
    bench, work = row.benchmark, row.work
    scale = bench.gflops / gflops
    forward = forward_seconds(row, gflops)
    decode = bench.decode_s * max(1.0, grid / bench.decode_grid) ** 2 * scale
    part = work.forwards_per_step * steps * forward + decode
    whole_s = work.whole_forwards_per_step * steps * forward + bench.condition_s * scale if whole else 0.0
    return PartsEstimate(whole_s=whole_s * share, part_s=part * share, parts=parts)


def request_estimate(spec: ModelSpec, device: Any, request: PartsRequest) -> PartsEstimate:
    """``request``'s estimate with the parts model ``spec`` on ``device``, at the probe's speed in the dtype its
    products run in there: bfloat16 on a CUDA GPU (autocast, as the release runs it), float32 elsewhere."""
    import torch

    on_gpu = getattr(device, "type", str(device)) == "cuda"
    row = row_of(spec)
    share = spec.size_bytes / row.spec.size_bytes if spec.size_bytes else 1.0
    parts = request.max_parts
    if request.mask is not None:
        import numpy as np

        parts = len([value for value in np.unique(request.mask) if value != 0])
    return parts_estimate(row, probe(device, torch.bfloat16 if on_gpu else torch.float32).gflops, parts,
                          request.steps, request.grid,
                          whole=request.vertices is None, share=share)


def refuse_long_parts(spec: ModelSpec, device: Any, request: PartsRequest, accept_long: bool) -> PartsEstimate:
    """The estimate; ``long_job_not_accepted`` in one sentence when it is an hour or more and not accepted."""
    estimate = request_estimate(spec, device, request)
    refuse_long_run(f"making up to {estimate.parts} parts ({estimate.part_s / 60:.0f} min each)", estimate.total_s,
                    device, accept_long, "ask for fewer parts or fewer steps")
    return estimate
