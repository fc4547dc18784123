"""bench/chain.py's split of a target's seconds between the host and the device (issue 89: the critical path in
the JSON), on the first textured target of the lent H200's run (``bench/results/chain-full-size-gpu-h200.json``)."""

from __future__ import annotations

import json
import sys

import pytest

from testdata import REPO

sys.path.insert(0, str(REPO / "bench"))

from chain import JobFigures, PolicyRun, sides, speed_goals  # noqa: E402  (bench/chain.py)


def test_a_targets_seconds_are_split_between_the_host_and_the_device() -> None:
    runs = json.loads((REPO / "bench" / "results" / "chain-full-size-gpu-h200.json").read_text())["runs"]
    first = next(job for job in runs["managed"] if job["textured"])["target_seconds"][0]
    split = sides(first)
    # clean-up 2.71, the UV wait 13.50, the fill 5.24, the export 2.94 on the host; delight 2.67, renders 2.30,
    # multiview 1.65, bake 2.59, materials 13.77 on the device.
    assert split["host_s"] == pytest.approx(24.3915, abs=1e-3)
    assert split["device_s"] == pytest.approx(22.9805, abs=1e-3)
    assert split["other_s"] == 0.0
    assert split["waits_s"] == pytest.approx(13.50, abs=0.01)  # the job's thread waiting for xatlas: on the path
    assert sides({"cleanup": 1.0, "something_new": 2.0}) == {"host_s": 1.0, "device_s": 0.0, "other_s": 2.0,
                                                             "waits_s": 0.0}


def _job(targets: int, textured: bool, seconds: float) -> JobFigures:
    return JobFigures("managed", targets, textured, 2, seconds, {}, {}, 0, 0, targets)


def test_the_textured_goals_are_judged_on_a_gpu_and_named_unmeasurable_on_a_cpu() -> None:
    """Issue 89's textured goals: one at most 20 s, three at most 45 s and at most 1.5 times one."""
    run = PolicyRun("managed", 1.0, [_job(1, True, 18.0), _job(3, True, 30.0)])
    judged = dict(speed_goals(run, on_gpu=True))
    assert judged == {"1 target textured <= 20 s: 18.00 s (managed, second job)": "HOLDS",
                      "3 targets textured <= 45 s: 30.00 s (managed, second job)": "HOLDS",
                      "3 targets textured <= 1.5x one: 1.67x (managed, second job)": "FAILS"}
    assert {outcome for _, outcome in speed_goals(run, on_gpu=False)} == {
        "NOT MEASURABLE here: a GPU goal (H100); this is a CPU"}
