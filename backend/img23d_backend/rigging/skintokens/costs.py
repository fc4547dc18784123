"""How long and how much memory a SkinTokens rig takes on this device, before it starts.

Time: ``bench/skintokens_cost.py`` timed the full-size architecture's parts on one CPU in float32
(``BENCHMARK``, with that CPU's matrix-product speed, ``models.throughput``): the two encoders on the
surface samples, the language model's prefill, one decoding step of all beams, the skin decoder's sample
features and one joint's skin. A rig of J joints, B of them after a branch, is ``tokens_for(J, B)`` steps
(the skeleton's 3 a joint, 7 more a branch, its end; four skin codes a joint; the end), one skin decoding
a joint. The skeleton is not known before the model writes it: the estimate is for ``TYPICAL_JOINTS``
(a character's skeleton in the articulation data SkinTokens is named for; the benchmark's projection),
and the tokens never exceed the decoding's own limit. On this device each measured second is scaled by
the benchmark's speed against this device's probe (in the dtype the model runs in here), the steps by the
beams against the benchmark's, and a replica of another size (the tiny one) by its share of the weights
(and counted at its own brief decoding: ``decoding_for``).
On a GPU the decoding is bound by latency, not arithmetic: each step counts at least ``GPU_STEP_FLOOR_S``
(measured on an H200; the FLOP-scaled figure said 0.29 s for a rig that took 54 s there, eager); the rest keeps a
CPU's proportions: an order of magnitude, as ``models.step_costs`` says of every estimate.

Memory: the weights (the full-size model's 544 million parameters in the dtype it runs in: bf16 on a GPU,
float32 on a CPU) and the activations the same benchmark measured beside them (its peak resident set less the one after
the weights, float32: the encoders and one joint's skin), plus the beams' key-value cache grown from the benchmark's
517 positions to the longest sequence the decoding allows, computed from Qwen3-0.6B's layout in SkinTokens (28 layers,
8 key-value heads of 128), plus the skin's further joints decoded at once (``rig_phase``): on a lent H200 the skin
of 50 joints in one batch peaked at 13.9 GB where this said 3.8 GB (issue 74); the decoding now asks as many joints
at once as the free memory holds (``pipeline.skin_batch``), so a card of 8 GB rigs 50 joints in groups. One phase,
as the manager holds the whole model on the device for a rig.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ...models.preflight import RESERVE_BYTES, Need, Phase, Room, check_phases, total_room
from ...models.specs import ModelSpec
from ...models.step_costs import refuse_long_run
from ...models.throughput import probe
from .config import FULL
from .decoding import DecodingSettings
from .pipeline import RigSettings, skin_batch_bytes
from .rigger import SPEC, TINY_DECODING

TYPICAL_JOINTS = 50
TYPICAL_BRANCHES = 10
PREFIX_POSITIONS = 514   # the shape prefix (512 queries) and the two start tokens


@dataclass(frozen=True)
class SkinTokensBenchmark:
    """The full-size model's parts timed on one CPU in float32 (``bench/results/skintokens-cost-cpu.json``)."""

    gflops: float            # the probe's float32 speed during the run (the mean of before and after)
    encoders_s: float        # the shape encoder's prefix and the skin VAE's condition, 54,000 samples
    prefill_s: float
    step_s: float            # one decoding step of ``beams`` beams, with the KV cache
    beams: int
    skin_features_s: float
    skin_joint_s: float      # one joint's weights at every sample
    weights_rss: int         # the process's peak resident set after the weights (float32), bytes
    peak_rss: int            # ... at the end of the run
    positions: int           # the sequence's length when the steps were timed
    parameters: int


# bench/results/skintokens-cost-cpu.json: the 2-core AMD EPYC (with AVX-512), quiet, probe 189.1 GFLOP/s before
# and 189.0 after. The calibration before it (quiet, probe 126: most likely before AVX-512) said 1.77x these
# seconds once scaled to this probe: the decoding steps follow memory more than the probe's arithmetic.
BENCHMARK = SkinTokensBenchmark(gflops=189.05, encoders_s=2.940, prefill_s=3.140, step_s=0.706, beams=10,
                                skin_features_s=0.063, skin_joint_s=4.998, weights_rss=3_247_001_600,
                                peak_rss=5_231_632_384, positions=PREFIX_POSITIONS + 3,
                                parameters=543_938_689)


def tokens_for(joints: int, branches: int) -> int:
    """The tokens the model writes for a rig of ``joints`` joints, ``branches`` of them after a branch."""
    return 3 * joints + 7 * branches + 1 + 4 * joints + 1


@dataclass(frozen=True)
class RigEstimate:
    """A rig's seconds here: reading the mesh (encoders and prefill), writing the tokens, the skin."""

    read_s: float
    decode_s: float
    skin_s: float
    joints: int

    @property
    def total_s(self) -> float:
        return self.read_s + self.decode_s + self.skin_s


# A GPU's decoding step is bound by latency, not arithmetic: ten beams of a 0.6 B model are a few milliseconds
# of its work, and the step takes what its kernels' launches and the host's share take. Scaled from the CPU
# benchmark by an H200's 631 TFLOP/s bf16 probe a step is 0.5 ms; eager over the growing cache it took 46 ms
# there (issue 74). Replayed from a CUDA graph over the static cache (``kv_steps``) a whole 59-joint rig took
# 10.5 s for 418 tokens on a lent H200, 25.1 ms a token with the encoders and the skin counted in
# (``bench/results/parts-rig-gpu-h200-d6cac49.json``). So on a GPU a step is never counted under that figure.
GPU_STEP_FLOOR_S = 0.025


def rig_estimate(gflops: float, share: float = 1.0, decoding: DecodingSettings = DecodingSettings(),
                 joints: int = TYPICAL_JOINTS, branches: int = TYPICAL_BRANCHES,
                 step_floor_s: float = 0.0) -> RigEstimate:
    """A rig of ``joints`` joints on a device whose probe reads ``gflops``, for a model whose weights are
    ``share`` of the published ones, decoding with ``decoding``'s beams and limit; each decoding step at
    least ``step_floor_s`` (a GPU's latency: ``GPU_STEP_FLOOR_S``)."""
    bench = BENCHMARK
    scale = bench.gflops / gflops * share
    steps = min(tokens_for(joints, branches), decoding.max_new_tokens)
    per_step = max(bench.step_s * decoding.beams / bench.beams * scale, step_floor_s)
    return RigEstimate(read_s=(bench.encoders_s + bench.prefill_s) * scale, decode_s=steps * per_step,
                       skin_s=(bench.skin_features_s + joints * bench.skin_joint_s) * scale, joints=joints)


def _dtype(device: Any) -> torch.dtype:
    """What the loader runs SkinTokens in there (``rigger.load``): bf16 on a GPU, float32 elsewhere."""
    return torch.bfloat16 if getattr(device, "type", str(device)) == "cuda" else torch.float32


def _share(spec: ModelSpec) -> float:
    """``spec``'s weights against the published model's (``rigger.SPEC``), whose size the benchmark had."""
    return spec.size_bytes / SPEC.size_bytes if spec.size_bytes and SPEC.size_bytes else 1.0


def decoding_for(spec: ModelSpec) -> DecodingSettings:
    """How ``spec`` decodes: the tiny replica briefly (``rigger.TINY_DECODING``), a full-size one as upstream."""
    return TINY_DECODING if spec.options.get("replica") == "tiny" else DecodingSettings()


def estimate_here(spec: ModelSpec, device: Any) -> RigEstimate:
    """``rig_estimate`` for the model ``spec`` on ``device``, from its probe, decoding as it decodes."""
    on_gpu = getattr(device, "type", str(device)) == "cuda"
    return rig_estimate(probe(device, _dtype(device)).gflops, _share(spec), decoding_for(spec),
                        step_floor_s=GPU_STEP_FLOOR_S if on_gpu else 0.0)


def rig_phase(spec: ModelSpec, device: Any, room: Room | None = None) -> Phase:
    """What a rig holds at its peak (see the module's docstring): weights, the activations the benchmark
    measured (the encoders and one joint's skin), the longest cache its decoding (``decoding_for``) can
    reach, and the skin's further joints decoded at once: ``TYPICAL_JOINTS`` of them where ``room`` (the
    machine's, ``total_room``, by default) holds them, as many as it holds otherwise, at least one
    (``pipeline.skin_batch``: the decoding sizes its batches to the memory free when it runs). So an 8 GB
    card is not refused for a skin a larger one decodes in one batch."""
    decoding = decoding_for(spec)
    on_gpu = getattr(device, "type", str(device)) == "cuda"
    itemsize = torch.finfo(_dtype(device)).bits // 8
    weights = BENCHMARK.parameters * itemsize
    lm = FULL.lm
    per_position = lm.layers * 2 * lm.kv_heads * lm.head_dim * decoding.beams * itemsize
    longest = PREFIX_POSITIONS + decoding.max_new_tokens
    cache = max(0, longest - BENCHMARK.positions) * per_position
    share = _share(spec)
    fixed = int((weights + (BENCHMARK.peak_rss - BENCHMARK.weights_rss) * itemsize / 4 + cache) * share)
    per_joint = int(skin_batch_bytes(RigSettings().decode_chunk, itemsize) * share)
    room = room or total_room(device)
    free = (room.device if on_gpu and not room.shared else room.host) - RESERVE_BYTES - fixed
    more = min(TYPICAL_JOINTS - 1, max(0, free // max(1, per_joint)))
    need = fixed + more * per_joint
    return Phase("rigging", Need(host=0, device=need) if on_gpu else Need(host=need))


def preflight(spec: ModelSpec, device: Any, accept_long: bool, room: Room | None = None) -> RigEstimate:
    """Before a rig by SkinTokens starts: ``out_of_memory`` in one sentence when it cannot fit here,
    ``long_job_not_accepted`` when it would take an hour or more unaccepted; else its estimate."""
    check_phases("rigging with SkinTokens", (rig_phase(spec, device, room),), device,
                 "rig with the geometric binding (no model), or use a machine with more memory", room)
    estimate = estimate_here(spec, device)
    refuse_long_run(f"rigging with SkinTokens (a skeleton of about {estimate.joints} joints)", estimate.total_s,
                    device, accept_long, "rig with the geometric binding (no model)")
    return estimate


__all__ = ["BENCHMARK", "GPU_STEP_FLOOR_S", "RigEstimate", "TYPICAL_JOINTS", "decoding_for", "estimate_here", "preflight",
           "rig_estimate", "rig_phase", "tokens_for"]
