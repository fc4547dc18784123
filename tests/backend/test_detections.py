"""Tests for stages/detections.py: parsing messy grounding answers (matching: test_matching.py)."""

from __future__ import annotations

import dataclasses
import json
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "backend"))

from img23d_backend.stages.detections import (  # noqa: E402
    POINT_BOX_FRACTION,
    Detection,
    grounding_prompt,
    parse_detections,
)

FENCE = "```"


def E(label, box, score=None):
    """An expected detection: (label, box in pixels, score)."""
    return (label, tuple(float(v) for v in box), score)


# Each case: (id, raw answer, width, height, coords, expected detections in order).
CORPUS = [
    (
        "qwen3_canonical_scaled",
        FENCE + 'json\n[\n  {"bbox_2d": [120, 340, 560, 900], "label": "house"},\n'
        '  {"bbox_2d": [400, 100, 470, 260], "label": "chimney"}\n]\n' + FENCE,
        640, 480, "relative",
        [E("house", (76.8, 163.2, 358.4, 432.0)), E("chimney", (256.0, 48.0, 300.8, 124.8))],
    ),
    (
        "fence_without_language",
        FENCE + '\n[{"bbox_2d": [10, 20, 30, 40], "label": "barrel"}]\n' + FENCE,
        1000, 1000, "relative",
        [E("barrel", (10, 20, 30, 40))],
    ),
    (
        "no_fence",
        '[{"bbox_2d": [10, 20, 30, 40], "label": "barrel"}]',
        1000, 1000, "relative",
        [E("barrel", (10, 20, 30, 40))],
    ),
    (
        "prose_around_fence",
        "Sure! Here are the objects I found:\n" + FENCE + 'json\n[{"bbox_2d": [10, 20, 30, 40], '
        '"label": "barrel"}]\n' + FENCE + "\nLet me know if you need anything else (e.g. [masks]).",
        1000, 1000, "relative",
        [E("barrel", (10, 20, 30, 40))],
    ),
    (
        "prose_around_bare_json",
        'The house is at [{"bbox_2d": [100, 200, 300, 400], "label": "house"}] in the image.',
        1000, 1000, "relative",
        [E("house", (100, 200, 300, 400))],
    ),
    (
        "bare_object_not_list",
        FENCE + 'json\n{"bbox_2d": [100, 200, 300, 400], "label": "house"}\n' + FENCE,
        1000, 1000, "relative",
        [E("house", (100, 200, 300, 400))],
    ),
    (
        "several_fenced_blocks",
        "House:\n" + FENCE + 'json\n[{"bbox_2d": [100, 200, 300, 400], "label": "house"}]\n' + FENCE
        + "\nChimneys:\n" + FENCE + 'json\n[{"bbox_2d": [10, 20, 30, 40], "label": "chimney"},'
        ' {"bbox_2d": [50, 20, 70, 40], "label": "chimney"}]\n' + FENCE,
        1000, 1000, "relative",
        [E("house", (100, 200, 300, 400)), E("chimney", (10, 20, 30, 40)), E("chimney", (50, 20, 70, 40))],
    ),
    (
        "missing_label",
        '[{"bbox_2d": [100, 200, 300, 400]}, {"bbox_2d": [1, 2, 3, 4], "label": "  "}]',
        1000, 1000, "relative",
        [E(None, (100, 200, 300, 400)), E(None, (1, 2, 3, 4))],
    ),
    (
        "other_label_keys",
        '[{"bbox_2d": [1, 1, 2, 2], "name": "a"}, {"bbox_2d": [1, 1, 2, 2], "category": "b"},'
        ' {"bbox_2d": [1, 1, 2, 2], "class": "c"}, {"bbox_2d": [1, 1, 2, 2], "object": "d"},'
        ' {"bbox_2d": [1, 1, 2, 2], "text": "e"}]',
        1000, 1000, "relative",
        [E(k, (1, 1, 2, 2)) for k in "abcde"],
    ),
    (
        "label_key_priority",
        '[{"bbox_2d": [1, 1, 2, 2], "text": "second", "label": "first"}]',
        1000, 1000, "relative",
        [E("first", (1, 1, 2, 2))],
    ),
    (
        "other_box_keys",
        '[{"bbox": [1, 2, 3, 4], "label": "a"}, {"box": [5, 6, 7, 8], "label": "b"},'
        ' {"box_2d": [9, 10, 11, 12], "label": "c"}]',
        1000, 1000, "relative",
        [E("a", (1, 2, 3, 4)), E("b", (5, 6, 7, 8)), E("c", (9, 10, 11, 12))],
    ),
    (
        "upper_case_keys",
        '[{"BBOX_2D": [1, 2, 3, 4], "Label": "House"}]',
        1000, 1000, "relative",
        [E("House", (1, 2, 3, 4))],
    ),
    (
        "dict_box_x1y1x2y2",
        '[{"bbox_2d": {"x1": 100, "y1": 200, "x2": 300, "y2": 400}, "label": "house"}]',
        500, 500, "relative",
        [E("house", (50, 100, 150, 200))],
    ),
    (
        "dict_box_minmax",
        '[{"bbox": {"xmin": 10, "ymin": 20, "xmax": 30, "ymax": 40}, "label": "barrel"}]',
        1000, 1000, "relative",
        [E("barrel", (10, 20, 30, 40))],
    ),
    (
        "dict_box_x0y0x1y1",
        '[{"box": {"x0": 10, "y0": 20, "x1": 30, "y1": 40}, "label": "barrel"}]',
        1000, 1000, "relative",
        [E("barrel", (10, 20, 30, 40))],
    ),
    (
        "string_numbers",
        '[{"bbox_2d": ["120", "340", " 560 ", "900.5"], "label": "house"}]',
        1000, 1000, "relative",
        [E("house", (120, 340, 560, 900.5))],
    ),
    (
        "box_as_one_string",
        '[{"bbox_2d": "120, 340, 560, 900", "label": "house"}]',
        1000, 1000, "relative",
        [E("house", (120, 340, 560, 900))],
    ),
    (
        "corner_pairs",
        '[{"bbox_2d": [[120, 340], [560, 900]], "label": "house"}]',
        1000, 1000, "relative",
        [E("house", (120, 340, 560, 900))],
    ),
    (
        "reversed_corners",
        '[{"bbox_2d": [560, 900, 120, 340], "label": "house"}, {"bbox_2d": [30, 20, 10, 40], "label": "x"}]',
        1000, 1000, "relative",
        [E("house", (120, 340, 560, 900)), E("x", (10, 20, 30, 40))],
    ),
    (
        "partly_outside_is_clamped",
        '[{"bbox_2d": [-50, 900, 300, 1200], "label": "barrel"}]',
        800, 600, "relative",
        [E("barrel", (0, 540, 240, 600))],
    ),
    (
        "fully_outside_is_dropped",
        '[{"bbox_2d": [1100, 100, 1200, 200], "label": "ghost"}, {"bbox_2d": [1, 2, 3, 4], "label": "real"}]',
        1000, 1000, "relative",
        [E("real", (1, 2, 3, 4))],
    ),
    (
        "degenerate_is_dropped",
        '[{"bbox_2d": [100, 100, 100, 200], "label": "line"}, {"bbox_2d": [100, 50, 200, 50], "label": "flat"},'
        ' {"bbox_2d": [1, 2, 3, 4], "label": "ok"}]',
        1000, 1000, "relative",
        [E("ok", (1, 2, 3, 4))],
    ),
    (
        "absolute_pixels_qwen25",
        FENCE + 'json\n[{"bbox_2d": [100, 50, 700, 500], "label": "house"}]\n' + FENCE,
        640, 480, "absolute",
        [E("house", (100, 50, 640, 480))],
    ),
    (
        "single_quotes_python_repr",
        "[{'bbox_2d': [10, 20, 30, 40], 'label': 'barrel'}, {'bbox_2d': [50, 60, 70, 80], 'label': \"kid's toy\"}]",
        1000, 1000, "relative",
        [E("barrel", (10, 20, 30, 40)), E("kid's toy", (50, 60, 70, 80))],
    ),
    (
        "trailing_commas",
        '[\n {"bbox_2d": [10, 20, 30, 40,], "label": "barrel",},\n]',
        1000, 1000, "relative",
        [E("barrel", (10, 20, 30, 40))],
    ),
    (
        "python_none_true",
        '[{"bbox_2d": [10, 20, 30, 40], "label": None, "visible": True, "occluded": False}]',
        1000, 1000, "relative",
        [E(None, (10, 20, 30, 40))],
    ),
    (
        "bare_keys_and_missing_commas",
        '[{bbox_2d: [10, 20, 30, 40] label: "a"} {bbox_2d: [50, 60, 70, 80], label: "b"}]',
        1000, 1000, "relative",
        [E("a", (10, 20, 30, 40)), E("b", (50, 60, 70, 80))],
    ),
    (
        "truncated_inside_box",
        FENCE + 'json\n[\n  {"bbox_2d": [10, 20, 30, 40], "label": "a"},\n  {"bbox_2d": [50, 60, 70, 80], '
        '"label": "b"},\n  {"bbox_2d": [90, 100, 1',
        1000, 1000, "relative",
        [E("a", (10, 20, 30, 40)), E("b", (50, 60, 70, 80))],
    ),
    (
        "truncated_inside_label",
        '[{"bbox_2d": [10, 20, 30, 40], "label": "a"}, {"bbox_2d": [50, 60, 70, 80], "label": "bar',
        1000, 1000, "relative",
        [E("a", (10, 20, 30, 40))],
    ),
    (
        "truncated_after_complete_object",
        '[{"bbox_2d": [10, 20, 30, 40], "label": "a"},',
        1000, 1000, "relative",
        [E("a", (10, 20, 30, 40))],
    ),
    (
        "truncated_inside_wrapper",
        '{"objects": [{"bbox_2d": [10, 20, 30, 40], "label": "a"}, {"bbox_2d": [50, 60',
        1000, 1000, "relative",
        [E("a", (10, 20, 30, 40))],
    ),
    (
        "point_2d_relative",
        '[{"point_2d": [500, 500], "label": "chimney"}]',
        1000, 500, "relative",
        # point (500, 250) px, half-size 2% of 1000 = 20 px
        [E("chimney", (480, 230, 520, 270))],
    ),
    (
        "point_near_corner_is_clamped",
        '[{"point_2d": [0, 0], "label": "a"}]',
        1000, 500, "relative",
        [E("a", (0, 0, 20, 20))],
    ),
    (
        "point_key_absolute",
        "[{'point': [100, 40], 'label': 'a'}]",
        400, 200, "absolute",
        # half-size 2% of 400 = 8 px
        [E("a", (92, 32, 108, 48))],
    ),
    (
        "point_outside_is_dropped",
        '[{"point_2d": [1500, 500], "label": "a"}]',
        1000, 1000, "relative",
        [],
    ),
    (
        "score_and_confidence",
        '[{"bbox_2d": [1, 2, 3, 4], "label": "a", "score": 0.9},'
        ' {"bbox_2d": [1, 2, 3, 4], "label": "b", "confidence": "0.75"},'
        ' {"bbox_2d": [1, 2, 3, 4], "label": "c", "score": "high"}]',
        1000, 1000, "relative",
        [E("a", (1, 2, 3, 4), 0.9), E("b", (1, 2, 3, 4), 0.75), E("c", (1, 2, 3, 4))],
    ),
    (
        "wrapper_objects",
        FENCE + 'json\n{"objects": [{"bbox_2d": [1, 2, 3, 4], "label": "a"}, '
        '{"bbox_2d": [5, 6, 7, 8], "label": "b"}]}\n' + FENCE,
        1000, 1000, "relative",
        [E("a", (1, 2, 3, 4)), E("b", (5, 6, 7, 8))],
    ),
    (
        "wrapper_detections_deep",
        'Result: {"result": {"detections": [{"box": [1, 2, 3, 4], "class": "a"}]}, "count": 1}',
        1000, 1000, "relative",
        [E("a", (1, 2, 3, 4))],
    ),
    ("empty_answer", "", 1000, 1000, "relative", []),
    ("whitespace_answer", "  \n\t ", 1000, 1000, "relative", []),
    ("pure_prose", "I can't find any barrels in this image.", 1000, 1000, "relative", []),
    ("empty_list", FENCE + "json\n[]\n" + FENCE, 1000, 1000, "relative", []),
    ("invalid_beyond_repair", '[{"bbox_2d": oops!!}]', 1000, 1000, "relative", []),
    (
        "bad_objects_skipped_good_kept",
        '[{"bbox_2d": [1, 2, 3], "label": "short"}, {"bbox_2d": ["a", 2, 3, 4], "label": "nan"},'
        ' {"bbox_2d": [1, 2, 3, "NaN"], "label": "nan2"}, {"label": "nobox"},'
        ' {"bbox_2d": [5, 6, 7, 8], "label": "good"}]',
        1000, 1000, "relative",
        [E("good", (5, 6, 7, 8))],
    ),
    (
        "broken_list_salvages_objects",
        '[{"bbox_2d": [1, 2, 3, 4], "label": "a"}, {"bbox_2d": [5, 6, 7, 8], "label": "b"} ) ]',
        1000, 1000, "relative",
        [E("a", (1, 2, 3, 4)), E("b", (5, 6, 7, 8))],
    ),
    (
        "garbage_fence_then_json_outside",
        FENCE + "\nno json here\n" + FENCE + '\n[{"bbox_2d": [1, 2, 3, 4], "label": "a"}]',
        1000, 1000, "relative",
        [E("a", (1, 2, 3, 4))],
    ),
    (
        "fenced_answer_wins_over_prose_example",
        'Format: [{"bbox_2d": [0, 0, 9, 9], "label": "example"}]\n'
        + FENCE + 'json\n[{"bbox_2d": [1, 2, 3, 4], "label": "a"}]\n' + FENCE,
        1000, 1000, "relative",
        [E("a", (1, 2, 3, 4))],
    ),
    (
        "label_stripped_and_escaped",
        '[{"bbox_2d": [1, 2, 3, 4], "label": "  12\\" pipe \\n"}]',
        1000, 1000, "relative",
        [E('12" pipe', (1, 2, 3, 4))],
    ),
    (
        "model_order_kept",
        '[{"bbox_2d": [1, 1, 2, 2], "label": "small"}, {"bbox_2d": [0, 0, 900, 900], "label": "big"}]',
        1000, 1000, "relative",
        [E("small", (1, 1, 2, 2)), E("big", (0, 0, 900, 900))],
    ),
    (
        "box_wins_over_point",
        '[{"bbox_2d": [1, 2, 3, 4], "point_2d": [500, 500], "label": "a"}]',
        1000, 1000, "relative",
        [E("a", (1, 2, 3, 4))],
    ),
]


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
    import img23d_backend.stages.lenient_json as module

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
