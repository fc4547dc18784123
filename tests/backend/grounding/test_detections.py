"""Tests for grounding/qwen3_vl/detections.py: parsing grounding answers (grounding_answers.py; matching: test_matching.py)."""

from __future__ import annotations

import dataclasses
import json
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "backend"))

from img23d_backend.grounding.grounder import Detection  # noqa: E402
from img23d_backend.grounding.qwen3_vl.detections import (  # noqa: E402
    POINT_BOX_FRACTION,
    grounding_prompt,
    parse_answer,
    parse_detections,
)
from grounding_answers import CORPUS, FENCE  # noqa: E402


def _actual(detections):
    return [(d.label, d.box, d.score) for d in detections]


@pytest.mark.parametrize(
    "raw, width, height, coords, expected",
    [case[1:] for case in CORPUS],
    ids=[case[0] for case in CORPUS],
)
def test_corpus(raw, width, height, coords, expected):
    got = parse_detections(raw, width, height, coords)
    assert all(isinstance(d, Detection) for d in got)
    actual = _actual(got)
    assert len(actual) == len(expected), actual
    for (label, box, score), (want_label, want_box, want_score) in zip(actual, expected):
        assert label == want_label
        assert box == pytest.approx(want_box, abs=1e-9)
        assert score == (pytest.approx(want_score) if want_score is not None else None)


def test_corpus_is_large_and_unique():
    ids = [case[0] for case in CORPUS]
    assert len(ids) >= 30
    assert len(set(ids)) == len(ids)


def test_every_returned_box_is_valid_and_inside_image():
    for _, raw, width, height, coords, _ in CORPUS:
        for det in parse_detections(raw, width, height, coords):
            x0, y0, x1, y1 = det.box
            assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height


def test_point_box_size_is_documented_fraction():
    (det,) = parse_detections('[{"point_2d": [500, 500]}]', 300, 600, "relative")
    half = POINT_BOX_FRACTION * 600
    assert det.box == pytest.approx((150 - half, 300 - half, 150 + half, 300 + half))


FULL_ANSWER = (
    FENCE + 'json\n[\n  {"bbox_2d": [120, 340, 560, 900], "label": "house", "score": 0.9},\n'
    "  {'bbox_2d': [400, 100, 470, 260], 'label': 'chimney'},\n"
    '  {"point_2d": [300, 300], "label": "barrel"},\n'
    '  {"bbox_2d": {"x1": 10, "y1": 20, "x2": 30, "y2": 40}, "label": "barrel"}\n]\n' + FENCE
)


def test_every_truncation_yields_a_prefix_of_the_full_answer():
    full = parse_detections(FULL_ANSWER, 640, 480)
    assert [d.label for d in full] == ["house", "chimney", "barrel", "barrel"]
    lengths = set()
    for cut in range(len(FULL_ANSWER) + 1):
        got = parse_detections(FULL_ANSWER[:cut], 640, 480)
        assert got == full[: len(got)], cut
        lengths.add(len(got))
    assert lengths == {0, 1, 2, 3, 4}


def test_garbage_never_raises():
    rng = random.Random(1234)
    alphabet = "[]{}()\"':,.-+0123456789eE \n`abcNonTrue\\u"
    samples = ["[" * 5000, "{" * 5000, "[1," * 3000, "```" * 7, "\\", "'", "{'a", "[{]}", "1e999"]
    samples += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80))) for _ in range(2000)]
    for text in samples:
        result = parse_detections(text, 100, 100)
        assert isinstance(result, list)


def test_repetition_loop_is_not_rescanned_quadratically(monkeypatch):
    # A model stuck repeating "[a " until max_new_tokens: every '[' starts a parse that
    # fails 32 levels deep.  Without the rescan budget all 20000 starts would be tried.
    from img23d_backend.grounding.qwen3_vl import lenient_json as module

    starts = []

    class CountingParser(module._LenientParser):
        def __init__(self, text, pos):
            starts.append(pos)
            super().__init__(text, pos)

    monkeypatch.setattr(module, "_LenientParser", CountingParser)
    assert parse_detections("[a " * 20000, 100, 100) == []
    assert len(starts) < 10000


def test_json_after_much_failing_prose_is_still_found():
    raw = "word (see {x}) and [ok: ] " * 3000 + '[{"bbox_2d": [1, 2, 3, 4], "label": "a"}]'
    assert [d.label for d in parse_detections(raw, 1000, 1000)] == ["a"]


def test_huge_and_non_finite_numbers_are_dropped():
    raw = '[{"bbox_2d": [1e999, 2, 3, 4], "label": "inf"}, {"bbox_2d": [1, 2, 3, 4], "label": "ok"}]'
    assert [d.label for d in parse_detections(raw, 100, 100)] == ["ok"]


def test_non_string_raw_gives_empty():
    assert parse_detections(None, 100, 100) == []  # type: ignore[arg-type]


@pytest.mark.parametrize("coords", ["pixels", "RELATIVE", "", None])
def test_bad_coords_raise(coords):
    with pytest.raises(ValueError):
        parse_detections("[]", 100, 100, coords)


@pytest.mark.parametrize("width, height", [(0, 100), (100, 0), (-5, 100), (100.0, 100), (True, 100), (100, "100")])
def test_bad_size_raises(width, height):
    with pytest.raises(ValueError):
        parse_detections('[{"bbox_2d": [1, 2, 3, 4]}]', width, height)


def test_bad_arguments_raise_even_for_garbage_text():
    with pytest.raises(ValueError):
        parse_detections("I can't find any", 0, 100)


# --------------------------------------------------------------------------- Detection


def test_detection_area_and_round_trip():
    det = Detection(label="house", box=(10, 20, 40, 60), score=0.5)
    assert det.area() == 1200.0
    data = det.to_dict()
    assert data == {"label": "house", "box": [10.0, 20.0, 40.0, 60.0], "score": 0.5}
    assert Detection.from_dict(json.loads(json.dumps(data))) == det
    assert Detection.from_dict({"box": [1, 2, 3, 4]}) == Detection(None, (1.0, 2.0, 3.0, 4.0))


def test_detection_normalises_box_to_float_tuple():
    det = Detection(label=None, box=[1, 2, 3, 4])  # type: ignore[arg-type]
    assert det.box == (1.0, 2.0, 3.0, 4.0)
    assert all(type(v) is float for v in det.box)


def test_detection_is_frozen():
    det = Detection(label="a", box=(0, 0, 1, 1))
    with pytest.raises(dataclasses.FrozenInstanceError):
        det.label = "b"  # type: ignore[misc]


@pytest.mark.parametrize(
    "data",
    [
        {"label": "a"},
        {"box": [1, 2, 3]},
        {"box": [3, 2, 1, 4]},
        {"box": [1, 4, 3, 4]},
        {"box": [1, 2, 3, float("nan")]},
        {"box": "1,2,3,4"},
        {"box": [1, 2, 3, 4], "score": "high"},
        {"box": [1, 2, 3, 4], "label": 7},
        ["not", "a", "dict"],
    ],
)
def test_detection_from_dict_rejects_bad_data(data):
    with pytest.raises(ValueError):
        Detection.from_dict(data)


# --------------------------------------------------------------------------- prompt


def test_grounding_prompt_exact():
    assert grounding_prompt(["house", "chimney", "barrel"]) == (
        'Locate every instance that belongs to the following categories: "house, chimney, barrel". '
        "Report bbox coordinates in JSON format."
    )


def test_grounding_prompt_single_and_errors():
    assert grounding_prompt([" barrel "]).endswith('categories: "barrel". Report bbox coordinates in JSON format.')
    with pytest.raises(ValueError):
        grounding_prompt([])
    with pytest.raises(ValueError):
        grounding_prompt(["  "])


def test_the_duplicates_dropped_are_counted():
    [case] = [c for c in CORPUS if c[0] == "repeated_boxes_of_one_label_dropped"]
    parsed = parse_answer(*case[1:5])
    assert len(parsed.detections) == 3 and parsed.duplicates_dropped == 2
    assert parse_answer(FULL_ANSWER, 640, 480).duplicates_dropped == 0
