"""A picture from text's estimate (issue 76): its figures are the committed measurement
(``bench/results/text-picture-cpu.json``), and at that run's speed it says what was measured at each side: the
two sides run and the 1024 px projection (the completion's estimate, used before, said five times as much)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from img23d_backend.editors.picture_costs import KLEIN_PICTURE, picture_seconds

RESULTS = Path(__file__).resolve().parents[3] / "bench" / "results"


def test_the_estimate_reads_the_committed_cpu_run_and_says_its_seconds() -> None:
    run = json.loads((RESULTS / "text-picture-cpu.json").read_text(encoding="utf-8"))
    speed = run["throughput_gflops"]
    assert KLEIN_PICTURE.gflops == pytest.approx((speed["start"] + speed["end"]) / 2, abs=0.05)
    assert (KLEIN_PICTURE.encode_s, KLEIN_PICTURE.prompt_tokens, KLEIN_PICTURE.steps) == (
        run["editor"]["encode_s"], run["editor"]["prompt_tokens"], run["editor"]["own_steps"])
    assert (KLEIN_PICTURE.call_token_s, KLEIN_PICTURE.call_token2_s) == (
        run["fits"]["call"]["linear_s"], run["fits"]["call"]["square_s"])
    assert KLEIN_PICTURE.decode_pixel_s == run["fits"]["decode"]["linear_s"]
    for side, picture in run["pictures"].items():
        said = picture_seconds(KLEIN_PICTURE, KLEIN_PICTURE.gflops, int(side), int(side))
        assert said == pytest.approx(picture["measured_s"], rel=0.1), side
    # Twice as fast a device takes half the time; a replica of a tenth the weights a tenth.
    assert picture_seconds(KLEIN_PICTURE, 2 * KLEIN_PICTURE.gflops, 512, 512) == pytest.approx(
        picture_seconds(KLEIN_PICTURE, KLEIN_PICTURE.gflops, 512, 512) / 2)
    assert picture_seconds(KLEIN_PICTURE, KLEIN_PICTURE.gflops, 512, 512, share=0.1) == pytest.approx(
        picture_seconds(KLEIN_PICTURE, KLEIN_PICTURE.gflops, 512, 512) / 10)
