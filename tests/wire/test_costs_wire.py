"""(1.18) The slow optional steps' cost on the wire: the backend's hello carries one object's seconds
(``StepCosts``), read back as anything from another process is; a job's options carry ``accept_long``;
``job_cost`` is the one arithmetic both sides apply, and ``long_job_refusal`` its one sentence."""

from __future__ import annotations

import json

import pytest

from img23d_protocol import (ACCEPT_LONG_CHECKBOX, ACCEPT_LONG_FLAG, ErrorCode, Hello, JobOptions, StepCosts, decode,
                             duration, job_cost, long_job_refusal)
from img23d_protocol.codec import EVENT_TYPES

COSTS = StepCosts(device="this CPU (AMD EPYC)", on_cpu=True, edit_pixels=1024 * 1024, completion_fixed_s=120.0,
                  completion_per_mp_s=1500.0, completion_per_mp2_s=200.0, materials_s=1000.0)


def test_the_hello_carries_the_costs_and_an_older_hello_has_none() -> None:
    line = Hello(role="backend", costs=COSTS.to_dict()).to_line()
    hello = decode(line, EVENT_TYPES)
    assert isinstance(hello, Hello) and StepCosts.from_dict(hello.costs) == COSTS
    older = decode(json.dumps({"v": 1, "type": "hello", "role": "backend", "protocol": [1, 17]}), EVENT_TYPES)
    assert StepCosts.from_dict(older.costs) is None and job_cost(None, 3, True, True) is None


@pytest.mark.parametrize("wrong", [
    {"materials_s": -1.0}, {"materials_s": "fast"}, {"materials_s": float("nan")}, {"completion_fixed_s": True},
    {"device": 3}, {"on_cpu": "yes"}, [], "costs",
])
def test_costs_that_are_not_numbers_read_as_none(wrong: object) -> None:
    data = {**COSTS.to_dict(), **wrong} if isinstance(wrong, dict) else wrong
    assert StepCosts.from_dict(data) is None


def test_accept_long_is_off_unless_asked() -> None:
    assert JobOptions().accept_long is False and JobOptions.from_dict({"accept_long": True}).accept_long is True
    assert ErrorCode("long_job_not_accepted") is ErrorCode.LONG_JOB_NOT_ACCEPTED


def test_the_completion_time_grows_with_the_area_it_is_edited_at() -> None:
    own = COSTS.completion_seconds()  # 1024 x 1024
    assert own == pytest.approx(120.0 + 1500.0 * 1.048576 + 200.0 * 1.048576 ** 2)
    assert COSTS.completion_seconds(1024) == pytest.approx(own) and COSTS.completion_seconds(512) < own / 3
    assert StepCosts(materials_s=5.0).completion_seconds() == 0.0  # no editor: no completion


def test_a_long_job_is_one_sentence_with_the_estimate_and_both_ways_to_accept_it() -> None:
    cost = job_cost(COSTS, 4, completion=True, materials=True, up_to=True)
    assert cost.long and cost.completion_objects == 4 and cost.materials_objects == 4
    sentence = long_job_refusal(cost)
    assert sentence.startswith("this job would take hours: completing hidden objects up to about 2.")
    assert "(4 objects at about 32 min each) and the material step about 67 min (4 objects at about 17 min each) " \
           "on this CPU (AMD EPYC)" in sentence
    assert ACCEPT_LONG_CHECKBOX in sentence and ACCEPT_LONG_FLAG in sentence and "\n" not in sentence
    quick = job_cost(COSTS, 1, completion=False, materials=True)
    assert not quick.long and quick.summary() == "the material step about 17 min on this CPU (AMD EPYC)"


def test_durations_read_as_a_person_reads_an_estimate() -> None:
    assert [duration(s) for s in (0.2, 42, 600, 5399, 7560)] == [
        "about 1 s", "about 42 s", "about 10 min", "about 90 min", "about 2.1 h"]
