"""Make Picture's request and result (protocol 1.25): a prompt alone, checked on arrival as a generate
request's is, and a result read as every job's is (each field checked); (1.26) its variations' pictures listed
with their seeds."""

from __future__ import annotations

import json

import pytest

from img23d_protocol import (EVENT_TYPES, JOB_RESULTS, NO_PROMPT, REQUEST_TYPES, Artifact, ArtifactKind, ErrorCode,
                             JobOptions, PictureJobResult, PictureRequest, ProtocolError, Result, decode)


def _line(**fields: object) -> str:
    return json.dumps({"v": 1, "type": "picture", "id": "pic-1", **fields}, ensure_ascii=False)


def test_a_picture_request_carries_its_prompt_seed_and_side() -> None:
    sent = PictureRequest(id="pic-1", prompt="a wooden barrel, 家\n", options=JobOptions(seed=7, edit_size=512))
    request = decode(sent.to_line(), REQUEST_TYPES)
    assert request == sent and isinstance(request, PictureRequest)
    assert JOB_RESULTS[request.TYPE] is PictureJobResult


@pytest.mark.parametrize("fields, words", [
    ({}, NO_PROMPT),
    ({"prompt": ""}, NO_PROMPT),
    ({"prompt": " \n\t"}, "only spaces"),
    ({"prompt": "x" * 100_000}, "is 100,000 characters"),
    ({"prompt": "a barrel\x07"}, r"control character \(U\+0007\)"),
    ({"prompt": 3}, "prompt must be a string"),
    ({"prompt": "a barrel", "options": {"edit_size": 100}}, "edit_size"),
])
def test_a_bad_picture_request_is_one_sentence(fields: dict, words: str) -> None:
    with pytest.raises(ProtocolError, match=words) as excinfo:
        decode(_line(**fields), REQUEST_TYPES)
    assert excinfo.value.code == ErrorCode.BAD_REQUEST
    assert "\n" not in excinfo.value.message


def test_the_result_round_trips_and_a_bad_field_is_refused() -> None:
    result = PictureJobResult(run_dir="/runs/r", manifest="/runs/r/manifest.json", picture="/runs/r/input.png",
                              image_size=[96, 96], seed=11, timings={"picture": 1.5},
                              pictures=["/runs/r/input.png"], seeds=[11])
    line = Result(id="pic-1", data=result.to_dict()).to_line()
    assert PictureJobResult.from_dict(decode(line, EVENT_TYPES).data) == result
    with pytest.raises(ProtocolError, match="picture"):
        PictureJobResult.from_dict({**result.to_dict(), "picture": 5})
    with pytest.raises(ProtocolError, match="seed"):
        PictureJobResult.from_dict({**result.to_dict(), "seed": "eleven"})


def test_variations_list_every_picture_with_its_seed_and_an_older_result_reads_as_its_one() -> None:
    pictures = ["/runs/r/input.png", "/runs/r/input-v2.png", "/runs/r/input-v3.png"]
    result = PictureJobResult(run_dir="/runs/r", manifest="/runs/r/manifest.json", picture=pictures[0],
                              image_size=[96, 96], seed=11, pictures=pictures, seeds=[11, 12, 13])
    assert PictureJobResult.from_dict(decode(Result(id="pic-1", data=result.to_dict()).to_line(),
                                             EVENT_TYPES).data) == result
    older = {key: value for key, value in result.to_dict().items() if key not in ("pictures", "seeds")}
    read = PictureJobResult.from_dict(older)
    assert (read.pictures, read.seeds) == ([pictures[0]], [11])
    for bad, words in (({"seeds": [11, 12]}, "seeds"), ({"seeds": [11, 12, 13.5]}, "seeds"),
                       ({"pictures": [pictures[0], 7, pictures[2]]}, "pictures"),
                       ({"pictures": [pictures[0], "x" * 5000, pictures[2]]}, "pictures")):
        with pytest.raises(ProtocolError, match=words) as excinfo:
            PictureJobResult.from_dict({**result.to_dict(), **bad})
        assert excinfo.value.code == ErrorCode.BAD_REQUEST


def test_the_picture_artifact_is_a_kind_of_its_own() -> None:
    event = decode(Artifact(job="pic-1", kind=ArtifactKind.PICTURE, path="/runs/r/input.png").to_line(), EVENT_TYPES)
    assert isinstance(event, Artifact) and event.kind == ArtifactKind.PICTURE == "picture"
