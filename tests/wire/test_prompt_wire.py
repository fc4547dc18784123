"""A generate request's prompt (protocol 1.24): checked on arrival, each refusal one sentence; a request
starts from a picture or a prompt, not both."""

from __future__ import annotations

import json

import pytest

from img23d_protocol import (MAX_PROMPT_CHARS, REQUEST_TYPES, ErrorCode, GenerateRequest, ProtocolError,
                             check_picture_or_prompt, decode, has_content, request_id_of, validate_prompt)


def _line(**fields: object) -> str:
    return json.dumps({"v": 1, "type": "generate", "id": "p-1", **fields}, ensure_ascii=False)


def test_a_prompt_alone_is_a_request() -> None:
    request = decode(_line(prompt="a cottage with a chimney\n\tand two barrels", targets=["cottage"]), REQUEST_TYPES)
    assert isinstance(request, GenerateRequest)
    assert request.prompt == "a cottage with a chimney\n\tand two barrels" and request.image == ""
    assert decode(_line(prompt="x" * MAX_PROMPT_CHARS), REQUEST_TYPES).prompt == "x" * MAX_PROMPT_CHARS


@pytest.mark.parametrize("fields, words", [
    ({"prompt": "   \n\t"}, "only spaces"),
    # Issue 88: a prompt of format characters and other blanks alone showed nothing, and a picture was made from it
    ({"prompt": "\u200b"}, r"only invisible characters \(such as U\+200B ZERO WIDTH SPACE\)"),
    ({"prompt": " \u2060\u180e\u00ad\u202e\U000E0041 "}, r"only invisible characters \(such as U\+2060 WORD JOINER\)"),
    ({"prompt": "\u2800\u3164\ufe0f\u034f"}, r"only invisible characters \(such as U\+2800 BRAILLE"),
    ({"prompt": "x" * (MAX_PROMPT_CHARS + 1)}, f"is {MAX_PROMPT_CHARS + 1:,} characters; at most {MAX_PROMPT_CHARS:,}"),
    ({"prompt": "x" * 100_000}, "is 100,000 characters"),
    ({"prompt": "a red\x1b[2J barrel"}, r"control character \(U\+001B\)"),
    ({"prompt": "a barrel\x00"}, r"control character \(U\+0000\)"),
    ({"prompt": 7}, "prompt must be a string"),
    ({"prompt": ["a barrel"]}, "prompt must be a string"),
    ({"prompt": "a barrel", "image": "/x/barrel.png"}, "both a picture and a prompt were given"),
    ({"prompt": " ", "image": "/x/barrel.png"}, "only spaces"),
])
def test_a_bad_prompt_is_one_sentence(fields: dict, words: str) -> None:
    with pytest.raises(ProtocolError, match=words) as excinfo:
        decode(_line(**fields), REQUEST_TYPES)
    assert excinfo.value.code == ErrorCode.BAD_REQUEST
    assert excinfo.value.message.count(". ") == 0 and "\n" not in excinfo.value.message


def test_half_a_utf16_pair_escaped_in_json_is_refused() -> None:
    # JSON's \ud800 escape is valid JSON and decodes to a lone surrogate, which no UTF-8 writer (the run
    # record, the tokenizer) can take: refused on arrival, not where the manifest is written.
    line = '{"v": 1, "type": "generate", "id": "p-2", "prompt": "a barrel \\ud800"}'
    with pytest.raises(ProtocolError, match=r"not valid \(a lone U\+D800, half of a UTF-16 pair") as excinfo:
        decode(line, REQUEST_TYPES)
    assert excinfo.value.code == ErrorCode.BAD_REQUEST
    # a whole pair is a character like any other
    assert decode('{"v": 1, "type": "generate", "prompt": "a barrel \\ud83d\\udee2"}', REQUEST_TYPES).prompt == \
        "a barrel \U0001f6e2"


def test_invalid_utf8_from_the_wire_is_refused_and_names_its_request() -> None:
    raw = _line(prompt="a barrel").encode("utf-8").replace(b"a barrel", b"a barr\xffel")
    with pytest.raises(ProtocolError, match="not UTF-8") as excinfo:
        decode(raw, REQUEST_TYPES)
    assert excinfo.value.code == ErrorCode.BAD_REQUEST
    assert request_id_of(raw) == "p-1"  # the add-on learns which request was refused


def test_a_prompt_with_something_that_shows_among_invisible_characters_is_a_prompt() -> None:
    assert validate_prompt("\u200ba barrel\u200d") == "\u200ba barrel\u200d"
    assert has_content("\U0001F6E2\ufe0f") and has_content("\u0628\u200c\u0647") and not has_content("\u200c\t")


def test_neither_picture_nor_prompt_is_the_jobs_to_refuse() -> None:
    assert decode(_line(), REQUEST_TYPES).prompt == ""  # decoded: the job refuses it before its run folder
    with pytest.raises(ProtocolError, match="no picture and no prompt given"):
        check_picture_or_prompt("", "")
    check_picture_or_prompt("/x/barrel.png", "")
    check_picture_or_prompt("", "a barrel")
    assert validate_prompt("") == ""


def test_a_picked_pictures_prompt_and_seed_travel_with_it() -> None:
    """(1.27) A picture img23d made, picked: its prompt and seed go with it, for the run's manifest to keep (a
    Generate from it recorded neither); a request of an older add-on, without them, has none."""
    sent = GenerateRequest(id="g-1", image="/runs/_inputs/wooden barrel beside.png",
                           image_prompt="a wooden barrel beside a small house, 家\n", image_seed=2**63 - 1)
    request = decode(sent.to_line(), REQUEST_TYPES)
    assert request == sent and isinstance(request, GenerateRequest)
    older = decode(_line(image="/x/barrel.png"), REQUEST_TYPES)
    assert (older.image_prompt, older.image_seed) == ("", None)
    assert decode(_line(image="/x/barrel.png", image_prompt=None, image_seed=None), REQUEST_TYPES) == older


@pytest.mark.parametrize("fields, words", [
    ({"image_prompt": "x" * (MAX_PROMPT_CHARS + 1)},
     rf"the picture's prompt \(image_prompt\) is {MAX_PROMPT_CHARS + 1:,} characters; at most {MAX_PROMPT_CHARS:,}"),
    ({"image_prompt": "a barrel\x1b[2J"}, r"image_prompt\) contains a control character \(U\+001B\)"),
    ({"image_prompt": " \n"}, r"image_prompt\) holds only spaces"),
    ({"image_prompt": 7}, "image_prompt must be a string"),
    ({"image_seed": -1}, "image_seed .* must be a whole number from 0 to 9,223,372,036,854,775,807, or none"),
    ({"image_seed": 2**63}, "image_seed .* must be a whole number from 0"),
    ({"image_seed": 4.0}, "image_seed .* must be a whole number"),
    ({"image_seed": True}, "image_seed .* must be a whole number"),
    ({"image_seed": "4"}, "image_seed .* must be a whole number"),
    ({"image": "", "prompt": "a barrel", "image_seed": 4}, "say what a picked picture was made from"),
    ({"image": "", "image_prompt": "a barrel"}, "say what a picked picture was made from"),
])
def test_a_bad_picture_prompt_or_seed_is_one_sentence(fields: dict, words: str) -> None:
    with pytest.raises(ProtocolError, match=words) as excinfo:
        decode(_line(**{"image": "/x/barrel.png", **fields}), REQUEST_TYPES)
    assert excinfo.value.code == ErrorCode.BAD_REQUEST
    assert "\n" not in excinfo.value.message
