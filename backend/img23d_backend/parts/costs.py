"""How long a parts run takes on this device, before it starts, and its refusal when that is hours.

``models.step_costs`` gives the derivation: the benchmark measured one DiT forward, one decode and the
conditioner on one CPU in float32 (``PartsRow.benchmark``) with that CPU's matrix-product speed; the
forward's operations come from the architecture (``PartsWork.forward_flops``), so its measured seconds
say how far the DiT runs from the probe's rate, and that ratio carries to this device's probe
(``models.throughput.probe``). A part is ``forwards_per_step`` x ``steps`` forwards, one decode at the
request's grid (the measured decode is the coarse pass, 64 cells a side, dense; each finer level queries a
band around the surface, whose cells grow with the square of the side: the measured one scaled so), and
the host's share (``PartsRow.host``, timed through the model's own functions): the part's clean-up and,
when no mask names the parts, its overlap check, both for a trained part's triangles at the grid
(``part_faces`` at 256, with the square of the side). After each part but the last the history is encoded
again (``history_seconds``: surface samples on the host, farthest-point steps on the device); a given mesh
is encoded once first; a picture without a mesh draws the whole object first (``whole_forwards_per_step``
x ``steps``). Without a mask the loop may stop early: the estimate is for every part asked, "up to".
A replica of another size than the published one works in proportion to its weights, and samples its
history at its own sizes (``tiny_history``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..models.specs import ModelSpec
from ..models.step_costs import refuse_long_run
from ..models.throughput import probe
from .generator import HistoryWork, PartsRow
from .part import PartsRequest
from .table import row_of


# One farthest-point step on a CUDA GPU: seven small kernels (the point's index, subtract, square, sum, minimum,
# argmax, the index's store) over the pool's 65,536 points, replayed from a CUDA graph (``neural.point_sampling``),
# a few microseconds each. Derived, not measured (no GPU was lent since the graphs were written):
# ``bench/parts_rig_gpu.py`` times a whole part on the next lent GPU.
GPU_FPS_STEP_S = 2.5e-5

# One guided DiT forward (batch 3) on a CUDA GPU is bound by its kernels' launches, not arithmetic: scaled from the
# CPU by the H200's bfloat16 probe it is 12 ms, and the estimate said 4.0 s for a part that took 8.4 s there
# (``bench/results/parts-rig-gpu-h200-d6cac49.json``). That part less the estimate's other terms (the given mesh's
# encoding 1.1 s, the decode 0.35 s, the clean-up and overlap check 0.8 s) over its 150 forwards is 41 ms, which a
# GPU's forward is never counted under. Derived from the whole part, not timed alone: the benchmark now records the
# estimate's split beside the part (``part_estimate_split``) for the next lent GPU to check.
GPU_FORWARD_FLOOR_S = 0.041


@dataclass(frozen=True)
class PartsAsk:
    """What a request asks that the estimate reads: parts, steps a part, the grid, whether the whole object is
    drawn from a picture first (no mesh), whether a mask names the parts."""

    parts: int
    steps: int
    grid: int
    whole: bool
    masked: bool


@dataclass(frozen=True)
class PartsEstimate:
    """A run's seconds here: the whole object's drawing (or the given mesh's encoding), each part's (drawing,
    decoding, clean-up), each history encoding between parts, and the parts counted."""

    whole_s: float
    part_s: float
    history_s: float
    parts: int

    @property
    def total_s(self) -> float:
        return self.whole_s + self.part_s * self.parts + self.history_s * max(0, self.parts - 1)


def forward_seconds(row: PartsRow, gflops: float, on_gpu: bool = False) -> float:
    """One DiT forward's seconds at ``gflops`` (this device's probe), at the benchmark's distance from it; on a
    GPU at least ``GPU_FORWARD_FLOOR_S``."""
    bench = row.benchmark
    slowness = bench.forward_s / (row.work.forward_flops() / 1e9 / bench.gflops)
    scaled = row.work.forward_flops() / 1e9 / gflops * slowness
    return max(scaled, GPU_FORWARD_FLOOR_S) if on_gpu else scaled


def history_seconds(row: PartsRow, history: HistoryWork, on_gpu: bool) -> float:
    """One encoding of the history: its surface samples on the host, its farthest-point steps on the device (a
    CPU's step reads the whole pool; a GPU's is its launches, ``GPU_FPS_STEP_S``)."""
    host = row.host
    step = GPU_FPS_STEP_S if on_gpu else host.fps_step_s * history.fps_pool / host.fps_pool
    return host.sample_s * history.samples / host.samples + history.fps_steps * step


def parts_estimate(row: PartsRow, gflops: float, ask: PartsAsk, share: float = 1.0,
                   history: HistoryWork | None = None, on_gpu: bool = False) -> PartsEstimate:
    """``ask`` at this device's probe (``gflops``); ``share``: the model's size against the published one, whose
    networks' seconds it scales; ``history``: the model's own sampling sizes (the published one's by default)."""
    bench, work, host = row.benchmark, row.work, row.host
    scale = bench.gflops / gflops
    forward = forward_seconds(row, gflops, on_gpu)
    decode = bench.decode_s * max(1.0, ask.grid / bench.decode_grid) ** 2 * scale
    faces = row.part_faces * (ask.grid / 256) ** 2 / host.faces
    tidy = host.clean_s * faces + (0.0 if ask.masked else host.overlap_s * faces)
    encode = history_seconds(row, history or row.history, on_gpu)
    part = (work.forwards_per_step * ask.steps * forward + decode) * share + tidy
    whole_s = (work.whole_forwards_per_step * ask.steps * forward + bench.condition_s * scale) * share \
        if ask.whole else encode
    return PartsEstimate(whole_s=whole_s, part_s=part, history_s=encode, parts=ask.parts)


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
    ask = PartsAsk(parts=parts, steps=request.steps, grid=request.grid, whole=request.vertices is None,
                   masked=request.mask is not None)
    history = row.tiny_history if spec.options.get("replica") == "tiny" else row.history
    return parts_estimate(row, probe(device, torch.bfloat16 if on_gpu else torch.float32).gflops, ask, share,
                          history, on_gpu)


def refuse_long_parts(spec: ModelSpec, device: Any, request: PartsRequest, accept_long: bool) -> PartsEstimate:
    """The estimate; ``long_job_not_accepted`` in one sentence when it is an hour or more and not accepted."""
    estimate = request_estimate(spec, device, request)
    refuse_long_run(f"making up to {estimate.parts} parts ({estimate.part_s / 60:.0f} min each)", estimate.total_s,
                    device, accept_long, "ask for fewer parts or fewer steps")
    return estimate
