"""(1.29) A Generate's whole estimate on the wire: the estimate request is checked on arrival as a generate request
is (it carries the same fields), and the estimate that answers it is read back as anything from another process:
its total and long flag computed again here, never taken from the wire."""

from __future__ import annotations

import json

import pytest

from img23d_protocol import (LONG_JOB_SECONDS, REQUEST_TYPES, ErrorCode, EstimateRequest, GenerateRequest,
                             JobEstimate, JobOptions, ProtocolError, StageTime, decode)
from img23d_protocol.estimates import MAX_STAGES

ESTIMATE = JobEstimate(device="this CPU (AMD EPYC)", stages=(StageTime("grounding", 2.0), StageTime("shape", 3000.0),
                                                             StageTime("paint", 900.0)))


def _line(**fields: object) -> str:
    return json.dumps({"v": 1, "type": "estimate", "id": "e1", "image": "/x/house.png", **fields})


def test_an_estimate_request_is_a_generate_requests_fields_and_never_a_job() -> None:
    request = decode(_line(targets=["house", "lamp"], parts={"lamp": ["shade"]}, options={"accept_long": True}),
                     REQUEST_TYPES)
    assert type(request) is EstimateRequest and isinstance(request, GenerateRequest)
    assert request.parts == {"lamp": ["shade"]} and request.options.accept_long is True


@pytest.mark.parametrize(("fields", "words"), [
    ({"prompt": "a barrel"}, "both a picture and a prompt"),
    ({"parts": {"lamp": "shade"}}, "parts"),                       # a name's parts not a list
    ({"parts_grid": -1}, "parts_grid must be a whole number"),
    ({"targets": ["house", 3]}, "name 2 is not text"),
    ({"options": {"edit_size": "big"}}, "edit_size"),
])
def test_an_estimate_request_is_checked_on_arrival_as_a_generate_request(fields: dict, words: str) -> None:
    with pytest.raises(ProtocolError) as refused:
        decode(_line(**fields), REQUEST_TYPES)
    assert refused.value.code is ErrorCode.BAD_REQUEST and words in refused.value.message
    generate = json.loads(_line(**fields))
    generate["type"] = "generate"
    with pytest.raises(ProtocolError) as as_generate:   # the same sentence as a Generate of the same fields
        decode(json.dumps(generate), REQUEST_TYPES)
    assert as_generate.value.message == refused.value.message


def test_an_estimate_round_trips_and_its_total_and_length_are_computed_here() -> None:
    data = json.loads(json.dumps(ESTIMATE.to_dict()))
    assert JobEstimate.from_dict(data) == ESTIMATE
    assert ESTIMATE.total_s == 3902.0 and ESTIMATE.long and LONG_JOB_SECONDS == 3600.0
    lied = {**data, "total_s": 5.0, "long": False}   # a peer's own total and flag are not read
    assert JobEstimate.from_dict(lied).long


def test_the_refusal_is_one_sentence_with_every_stage_and_both_ways_to_accept() -> None:
    sentence = ESTIMATE.refusal()
    assert sentence.startswith("this job would take hours: about 65 min on this CPU (AMD EPYC): grounding about 2 s, "
                               "shape about 50 min, paint about 15 min: tick Accept Long Job in the add-on or pass "
                               "--accept-long")
    assert "\n" not in sentence and not JobEstimate("a GPU", (StageTime("shape", 3599.0),)).long


@pytest.mark.parametrize("wrong", [
    "estimate", [], {"stages": [["shape", 1.0]]},                                    # not an object; no device
    {"device": "cpu", "stages": []}, {"device": "cpu", "stages": "shape"},
    {"device": "cpu", "stages": [["shape", float("nan")]]}, {"device": "cpu", "stages": [["shape", -1.0]]},
    {"device": "cpu", "stages": [["shape", True]]}, {"device": "cpu", "stages": [["", 1.0]]},
    {"device": "cpu", "stages": [["shape", 1.0, 2.0]]}, {"device": "cpu", "stages": [[3, 1.0]]},
    {"device": "cpu", "stages": [["shape", 1.0]] * (MAX_STAGES + 1)}, {"device": "x" * 5000, "stages": [["a", 1]]},
])
def test_an_estimate_that_is_not_one_is_one_sentence(wrong: object) -> None:
    with pytest.raises(ProtocolError) as refused:
        JobEstimate.from_dict(wrong)
    assert refused.value.code is ErrorCode.BAD_REQUEST and refused.value.message.startswith("an estimate")


def test_an_estimate_request_copies_a_generate_requests_every_field() -> None:
    generate = GenerateRequest(id="g", image="/x.png", targets=["barrel"], options=JobOptions(variations=3),
                               boxes={"barrel": [1.0, 2.0, 30.0, 40.0]}, completion_off=["barrel"])
    estimate = EstimateRequest.of(generate)
    assert {**estimate.to_dict(), "type": "generate", "id": "g"} == generate.to_dict() and estimate.id == ""
