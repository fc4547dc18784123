"""(1.17) Completing hidden targets on the wire: the complete_hidden option, a generate request's
completion_off names, and each target's completion record, checked as anything from another process."""

from __future__ import annotations

import json

import pytest

from img23d_protocol import (COMPLETE_HIDDEN_CHOICES, Completion, ErrorCode, GenerateRequest, JobOptions,
                             OptionError, ProtocolError, TargetResult, check_completion_off, decode, turned_off)
from img23d_protocol.codec import REQUEST_TYPES


def test_complete_hidden_is_off_unless_asked_and_takes_its_three_choices() -> None:
    assert JobOptions().complete_hidden == "never" and JobOptions.from_dict({}).complete_hidden == "never"
    assert COMPLETE_HIDDEN_CHOICES == ("auto", "always", "never")
    for choice in COMPLETE_HIDDEN_CHOICES:
        assert JobOptions.from_dict({"complete_hidden": choice}).complete_hidden == choice


@pytest.mark.parametrize("value", ["sometimes", "AUTO", "", True, 1, None])
def test_another_complete_hidden_is_refused_naming_the_choices(value: object) -> None:
    with pytest.raises(ProtocolError) as caught:
        JobOptions.from_dict({"complete_hidden": value})
    assert caught.value.code is ErrorCode.BAD_REQUEST
    assert "complete_hidden" in caught.value.message
    if isinstance(caught.value, OptionError):
        assert caught.value.allowed == "'auto' or 'always' or 'never'"


def _generate_line(**fields: object) -> str:
    return json.dumps({"v": 1, "type": "generate", "id": "g", "image": "/p.png", "targets": ["cup", "table"],
                       **fields})


def test_completion_off_travels_in_a_generate_request() -> None:
    request = decode(_generate_line(completion_off=[" Cup "]), REQUEST_TYPES)
    assert isinstance(request, GenerateRequest) and request.completion_off == ["Cup"]
    assert decode(_generate_line(), REQUEST_TYPES).completion_off == []      # an older add-on sends none
    again = decode(GenerateRequest(id="g", image="/p.png", targets=["cup"], completion_off=["cup"]).to_line(),
                   REQUEST_TYPES)
    assert again.completion_off == ["cup"]


@pytest.mark.parametrize(("value", "fragment"), [
    ("cup", "completion_off must be a list of names"),
    ([3], "name 1 is not text"),
    (["cup\u202e"], "invisible or line-breaking"),
    (["cup", "CUP"], "asked for twice"),
])
def test_bad_completion_off_is_refused(value: object, fragment: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode(_generate_line(completion_off=value), REQUEST_TYPES)
    assert caught.value.code is ErrorCode.BAD_REQUEST and fragment in caught.value.message


def test_completion_off_names_the_jobs_names() -> None:
    check_completion_off(["CUP"], ["cup", "table"])
    with pytest.raises(ProtocolError, match="completion is turned off for 'lamp', which is not one of the names"):
        check_completion_off(["lamp"], ["cup", "table"])
    assert turned_off(["Cup"], "cup") and not turned_off(["Cup"], "table")


def test_a_targets_completion_round_trips_and_reads_from_a_run_record() -> None:
    completion = Completion(completed=False, reason="overlaps 'table'",
                            skipped="'cup' was not completed: the editor's picture is blank (one flat colour); it "
                                    "keeps its cut-out as seen")
    target = TargetResult(target="cup", status="done", completion=completion)  # as a job builds it
    assert target.completion == completion
    wire = json.loads(json.dumps(target.to_dict()))
    assert wire["completion"] == {"completed": False, "reason": "overlaps 'table'", "cutout": None,
                                  "skipped": completion.skipped}
    assert TargetResult.from_dict(wire) == target
    assert TargetResult.from_dict({"target": "cup", "status": "done"}).completion is None  # before 1.17
    assert TargetResult(target="cup").to_dict()["completion"] is None
