"""Names made in parts (protocol 1.22): what an artist types ("lamp (shade, arm), table, chair ()") read into
names and parts, and a Generate request's ``parts`` checked on arrival, each mistake one sentence."""

from __future__ import annotations

import json

import pytest

from img23d_protocol import (REQUEST_TYPES, ErrorCode, GenerateRequest, ProtocolError, check_parts, decode,
                             names_without_parts, parted_names_from_text, split_parted_names, validate_parts)


def test_typed_names_with_parts_in_brackets() -> None:
    assert split_parted_names("lamp (shade, arm, base), table, chair ()") == \
        (["lamp", "table", "chair"], {"lamp": ["shade", "arm", "base"], "chair": []})
    assert split_parted_names("house, chimney") == (["house", "chimney"], {})
    assert split_parted_names(" lamp(shade) , b ") == (["lamp", "b"], {"lamp": ["shade"]})


def test_a_later_name_may_begin_with_an_earlier_bracketed_one() -> None:
    # "lamp post" after "lamp (shade)" was refused as text after lamp's bracket
    assert split_parted_names("lamp (shade), lamp post") == (["lamp", "lamp post"], {"lamp": ["shade"]})
    assert split_parted_names("lamp (shade), lamp post (base), lamppost") == \
        (["lamp", "lamp post", "lamppost"], {"lamp": ["shade"], "lamp post": ["base"]})


@pytest.mark.parametrize("text, words", [
    ("lamp (shade (cloth))", "brackets inside brackets"),
    ("(shade), lamp", "need the name they belong to before them"),
    ("lamp shade)", "a closing bracket without an opening one"),
    ("lamp (shade, arm", "a bracket is not closed"),
    ("lamp (shade) stand, table", "has text after its parts' bracket"),
    # a second bracket replaced the first one's parts without a word
    ("lamp (shade)(arm)", "'lamp' has two brackets of parts"),
    ("lamp (shade) (arm), table", "'lamp' has two brackets of parts"),
])
def test_a_wrongly_bracketed_list_is_one_sentence(text: str, words: str) -> None:
    with pytest.raises(ProtocolError, match=words):
        split_parted_names(text)


def test_a_generate_requests_parts_round_trip_and_are_checked_on_arrival() -> None:
    request = GenerateRequest(id="g", image="/tmp/p.png", targets=["lamp"], parts={"lamp": ["shade", "arm"]},
                              parts_grid=512)
    again = decode(request.to_line(), REQUEST_TYPES)
    assert again.parts == {"lamp": ["shade", "arm"]} and again.parts_grid == 512
    for parts, words in (([1], "must be an object"), ({"lamp": "shade"}, "must be a list of names"),
                         ({"lamp": ["a", "A"]}, "asked for twice"),
                         ({"lamp": [f"p{i}" for i in range(41)]}, "at most 40")):
        line = json.dumps({"v": 1, "type": "generate", "id": "g", "image": "/tmp/p.png", "parts": parts})
        with pytest.raises(ProtocolError, match=words) as raised:
            decode(line, REQUEST_TYPES)
        assert raised.value.code is ErrorCode.BAD_REQUEST
    with pytest.raises(ProtocolError, match="'sofa' is to be made in parts but is not one of the names"):
        check_parts({"sofa": []}, ["lamp", "table"])


def test_up_to_forty_parts_are_taken_and_more_are_said_as_forty() -> None:
    """33 to 40 parts were refused as "at most 32 names per job" (a job's names), though the limit is 40."""
    forty = [f"p{i}" for i in range(40)]
    assert validate_parts({"lamp": forty}) == {"lamp": forty}
    assert parted_names_from_text(f"lamp ({', '.join(forty[:35])}), table")[1]["lamp"] == forty[:35]
    with pytest.raises(ProtocolError, match="at most 40"):
        validate_parts({"lamp": [*forty, "p40"]})


def test_a_job_of_whole_objects_says_brackets_in_one_sentence() -> None:
    """A batch's and detect's names were split at the bracket's comma: "barrel (hoop" and "stave)"."""
    assert names_without_parts("house, chimney", "--targets", "a batch") == ["house", "chimney"]
    with pytest.raises(ProtocolError, match=r"a batch makes whole objects, not a name's parts in brackets "
                                            r"\(--targets\): write the names alone"):
        names_without_parts("barrel (hoop, stave)", "--targets", "a batch")

