"""The stop rule reads every answer shape, a piece at a time, as generation gives it."""

from __future__ import annotations

import pytest

from img23d_backend.grounding.grounder import StopReason
from img23d_backend.grounding.qwen3_vl.answer_scan import AnswerScanner

FENCE = "```"
A = '{"bbox_2d": [100, 200, 300, 400], "label": "chair"}'
B = '{"bbox_2d": [500, 500, 700, 900], "label": "table"}'
C = '{"bbox_2d": [600, 100, 650, 300], "label": "lamp"}'
A_MOVED = '{"bbox_2d": [102, 201, 301, 402], "label": "chair"}'   # IoU ~0.96 with A: the same box again
A_BESIDE = '{"bbox_2d": [130, 200, 330, 400], "label": "chair"}'  # IoU ~0.74: a neighbour, not a repeat
A_AS_TABLE = '{"bbox_2d": [100, 200, 300, 400], "label": "table"}'

# (text, where the scanner stops (the character that ends it, counted from 1; None: it reads on),
#  why, repeats seen)
CASES = [
    (f"{FENCE}json\n[\n  {A},\n  {B}\n]\n{FENCE}\nDone.", f"{FENCE}json\n[\n  {A},\n  {B}\n]\n{FENCE}\nD",
     StopReason.CLOSED, 0),                                                               # prose after the fence ends it
    (f"{FENCE}json\n{A}\n{FENCE}", None, None, 0),                                         # a bare object; the end of text
    # Boxes split over several arrays, in fences of their own or one after another: read on.
    (f"{FENCE}json\n[{A}]\n{FENCE}\n{FENCE}json\n[{B}]\n{FENCE}\nDone.",
     f"{FENCE}json\n[{A}]\n{FENCE}\n{FENCE}json\n[{B}]\n{FENCE}\nD", StopReason.CLOSED, 0),
    (f"[{A}]\n[{B}], [{C}] and more", f"[{A}]\n[{B}], [{C}] a", StopReason.CLOSED, 0),
    (f"{FENCE}json\n[{A}]\n{FENCE}\nAnd:\n{FENCE}json\n[{B}]", f"{FENCE}json\n[{A}]\n{FENCE}\nA", StopReason.CLOSED, 0),
    (f"{A}\n{B}\n{C} and that is all", f"{A}\n{B}\n{C} a", StopReason.CLOSED, 0),       # objects in a row
    (f"{A}, {B},\n{C}\n{FENCE}", None, None, 0),                                           # with commas
    (f"{A}", None, None, 0),                                                              # the end of text ends it
    (f"Here it is: {A}", None, None, 0),
    (f'[{{"label": "odd ] name [", "bbox_2d": [1, 2, 3, 4]}}', None, None, 0),           # brackets in a string
    ('[{"label": "quote \\" ]", "bbox_2d": [1, 2, 3, 4]}] more', '[{"label": "quote \\" ]", "bbox_2d": [1, 2, 3, 4]}] m',
     StopReason.CLOSED, 0),
    ('{"label": "a \\\\", "bbox_2d": [1, 2, 3, 4]} x', '{"label": "a \\\\", "bbox_2d": [1, 2, 3, 4]} x',
     StopReason.CLOSED, 0),                                                               # an escaped backslash
    ("It's here: \"quoted\" [" + A + "] ok", "It's here: \"quoted\" [" + A + "] o", StopReason.CLOSED, 0),
    ('{"objects": [' + A + ", " + B + "]}\n" + FENCE, None, None, 0),
    ("no json at all", None, None, 0),
    # Loops: A B C A B C stops on the third repeat in a row; A A A A too.
    (f"[{A}, {B}, {C}, {A}, {B}, {C}, {A}", f"[{A}, {B}, {C}, {A}, {B}, {C}", StopReason.REPETITION, 3),
    (f"[{A}, {A_MOVED}, {A}, {A}, {B}]", f"[{A}, {A_MOVED}, {A}, {A}", StopReason.REPETITION, 3),
    (f"{A}\n{A}\n{A}\n{A}\n{A}", f"{A}\n{A}\n{A}\n{A}", StopReason.REPETITION, 3),     # bare objects loop too
    # One stray duplicate (or two) does not stop it; a neighbour or another label is no repeat.
    (f"[{A}, {B}, {A}, {C}, {B}, {A_AS_TABLE}]", None, None, 2),
    (f"[{A}, {A_BESIDE}, {A_AS_TABLE}, {B}]", None, None, 0),
]


@pytest.mark.parametrize("text, until, reason, repeats", CASES)
def test_the_answer_ends_where_its_json_ends(text: str, until: str | None, reason: StopReason | None,
                                               repeats: int) -> None:
    scanner = AnswerScanner()
    assert scanner.feed(text) is reason and scanner.repeats == repeats
    assert scanner.consumed == (len(until) if until is not None else len(text))


@pytest.mark.parametrize("text, until, reason, repeats", CASES)
def test_text_split_anywhere_reads_as_the_whole(text: str, until: str | None, reason: StopReason | None,
                                                repeats: int) -> None:
    whole = AnswerScanner()
    whole.feed(text)
    for cut in range(len(text) + 1):
        pieces = AnswerScanner()
        pieces.feed(text[:cut])
        pieces.feed(text[cut:])
        assert (pieces.stop, pieces.consumed, pieces.repeats) == (whole.stop, whole.consumed, whole.repeats), cut
    by_char = AnswerScanner()
    for char in text:
        by_char.feed(char)
    assert (by_char.stop, by_char.consumed, by_char.repeats) == (whole.stop, whole.consumed, whole.repeats)


def test_nothing_is_read_after_it_stopped() -> None:
    scanner = AnswerScanner()
    scanner.feed("[1] x")
    scanner.feed("[2, 3")
    assert scanner.stop is StopReason.CLOSED and scanner.consumed == 5


@pytest.mark.parametrize("text, complete", [
    (f"{FENCE}json\n[{A}]\n{FENCE}", True), (f"[{A}]\n[{B}", False), ("[", False), ("no json", False),
    (f"{A}", True),
])
def test_an_answer_is_complete_once_a_value_closed_and_nothing_is_open(text: str, complete: bool) -> None:
    scanner = AnswerScanner()
    scanner.feed(text)
    assert scanner.complete is complete
