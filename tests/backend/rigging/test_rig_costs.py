"""SkinTokens' preflight (issue 65 items 1 and 7): the time a rig takes here, said before it starts, and
the memory it needs, refused in one sentence where it cannot fit (``rigging.skintokens.costs``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from img23d_protocol import ErrorCode, ProtocolError

from img23d_backend.models.preflight import GB, RESERVE_BYTES, Room
from img23d_backend.rigging.skintokens import costs
from img23d_backend.rigging.skintokens.decoding import DecodingSettings
from img23d_backend.rigging.skintokens.pipeline import skin_batch, skin_batch_bytes
from img23d_backend.rigging.skintokens.rigger import SPEC, TINY_DECODING

RESULT = Path(__file__).resolve().parents[3] / "bench" / "results" / "skintokens-cost-cpu.json"


def test_at_the_benchmarks_speed_the_estimate_is_the_benchmarks_own_projection() -> None:
    measured = json.loads(RESULT.read_text())
    speed = sum(measured["probe_gflops"].values()) / 2
    estimate = costs.rig_estimate(speed, joints=measured["projection"]["joints"],
                                  branches=measured["projection"]["branches"])
    assert estimate.total_s == pytest.approx(measured["projection"]["total_s"], rel=0.01)
    # Twice as fast a device, half the time; two beams instead of ten, a fifth of the decoding.
    assert costs.rig_estimate(2 * speed).total_s == pytest.approx(estimate.total_s / 2, rel=1e-6)
    fewer = costs.rig_estimate(speed, decoding=DecodingSettings(beams=2))
    assert fewer.decode_s == pytest.approx(estimate.decode_s / 5, rel=1e-6)


def test_the_tokens_never_exceed_the_decodings_limit() -> None:
    assert costs.tokens_for(50, 10) == 422
    short = costs.rig_estimate(100.0, decoding=TINY_DECODING)
    assert short.decode_s == pytest.approx(48 * costs.BENCHMARK.step_s * 2 / 10 * costs.BENCHMARK.gflops / 100.0)


def test_on_a_large_gpu_it_needs_the_measured_peak_and_a_cpu_twice_that() -> None:
    """A card that holds the skin of 50 joints in one batch: the need within 2x of the 13.9 GB the H200 peaked
    at (issue 74); a CPU's float32, twice a GPU's bfloat16."""
    gpu = costs.rig_phase(SPEC, torch.device("cuda"), Room(host=128 * GB, device=140 * GB, shared=False)).need
    cpu = costs.rig_phase(SPEC, torch.device("cpu"), Room(host=1024 * GB)).need
    assert gpu.host == 0 and 13.9 / 2 * GB < gpu.device < 13.9 * 2 * GB
    assert cpu.device == 0 and cpu.host == pytest.approx(2 * gpu.device, rel=0.01)


def test_an_8_gb_card_fits_the_rig_with_fewer_joints_a_batch() -> None:
    phase = costs.rig_phase(SPEC, torch.device("cuda"), Room(host=32 * GB, device=8 * GB, shared=False))
    assert 3 * GB < phase.need.device <= 8 * GB - RESERVE_BYTES
    # 16,384 samples a joint at 15.6 kB a pair in bfloat16: 256 MB a joint, so 4 GB free asks 15 at once.
    assert skin_batch_bytes(16_384, 2) == 16_384 * 15_600
    assert skin_batch(50, 16_384, 4 * GB, 2) == 15 and skin_batch(50, 16_384, 1, 2) == 1
    assert skin_batch(50, 16_384, 0, 2) == 50   # no bound: every joint at once


def test_too_little_memory_is_one_sentence_naming_the_geometric_binding() -> None:
    with pytest.raises(ProtocolError) as raised:
        costs.preflight(SPEC, torch.device("cpu"), accept_long=True, room=Room(host=2 * GB))
    assert raised.value.code is ErrorCode.OUT_OF_MEMORY
    assert "rigging with SkinTokens needs about" in raised.value.message
    assert "geometric binding" in raised.value.message


def test_on_a_gpu_each_decoding_step_counts_at_least_its_latency() -> None:
    """The H200's bf16 probe (631 TFLOP/s) scaled the CPU's step to 0.5 ms, and the rig said 0.29 s for 54 s
    measured (issue 74): a GPU's step is counted at least the seconds a token a whole rig took there (25 ms, the
    step replayed from a CUDA graph)."""
    h200 = 631_000.0
    plain = costs.rig_estimate(h200)
    floored = costs.rig_estimate(h200, step_floor_s=costs.GPU_STEP_FLOOR_S)
    tokens = costs.tokens_for(costs.TYPICAL_JOINTS, costs.TYPICAL_BRANCHES)
    assert plain.decode_s < 1.0
    assert floored.decode_s == pytest.approx(tokens * costs.GPU_STEP_FLOOR_S) and 8 < floored.total_s < 20
    assert floored.skin_s == plain.skin_s and floored.read_s == plain.read_s
    # A CPU is slower than the floor: the floor changes nothing there.
    assert costs.rig_estimate(100.0, step_floor_s=costs.GPU_STEP_FLOOR_S) == costs.rig_estimate(100.0)
