"""A completion's estimate: its figures are the committed measurement (``bench/results/completion-cpu.json``, the
crop edited at 256 x 256), and scaled from it to 512 x 512 it says what a second run measured there
(``completion-cpu-512.json``), now that the instruction's 512 tokens join every transformer pass; counting the
picture's tokens alone said about 1.6 times the measured seconds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from img23d_protocol import StepCosts

from img23d_backend.editors import costs as editor_costs
from img23d_backend.editors.flux2_klein.model import KLEIN_BENCHMARK

RESULTS = Path(__file__).resolve().parents[3] / "bench" / "results"


def _run(name: str) -> dict:
    return json.loads((RESULTS / name).read_text(encoding="utf-8"))


def _probe(run: dict) -> float:
    speed = run["throughput_gflops"]
    return (speed["start"] + speed["end"]) / 2


def test_the_estimate_reads_the_committed_256_px_run() -> None:
    run = _run("completion-cpu.json")
    done = run["completion"]
    assert KLEIN_BENCHMARK.gflops == pytest.approx(_probe(run), abs=0.05)
    assert KLEIN_BENCHMARK.pixels == done["working_pixels"] and KLEIN_BENCHMARK.tokens == done["transformer_tokens"][1]
    assert (KLEIN_BENCHMARK.encode_s, KLEIN_BENCHMARK.step_s, KLEIN_BENCHMARK.rematte_s) == (
        done["encode_s"], done["transformer_s_per_step"], done["rematte_s"])
    assert KLEIN_BENCHMARK.vae_encode_s == done["outside_transformer_s"]
    assert KLEIN_BENCHMARK.vae_s == pytest.approx(done["outside_transformer_s"] + done["decode_s"])
    assert done["steps_run"] >= 2   # the step's figure is a call past the first one's one-time costs


def test_scaled_to_512_px_it_says_the_seconds_measured_there_within_a_quarter() -> None:
    run = _run("completion-cpu-512.json")
    side = int(run["completion"]["working_pixels"] ** 0.5)
    work, _ = editor_costs.measured()
    said = StepCosts(edit_pixels=1024 * 1024, **editor_costs.editor_seconds(work, _probe(run))).completion_seconds(side)
    assert said == pytest.approx(run["completion"]["completion_s"], rel=0.25), (said, run["completion"])
