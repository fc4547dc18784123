"""Grounding models' answers as they come, messy or broken, with the detections each must give."""

from __future__ import annotations


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
    (
        "bare_object_without_fence",
        'Found it: {"bbox_2d": [100, 200, 300, 400], "label": "house"} in the middle.',
        1000, 1000, "relative",
        [E("house", (100, 200, 300, 400))],
    ),
    (
        "bare_objects_in_a_row_fenced",
        FENCE + 'json\n{"bbox_2d": [100, 200, 300, 400], "label": "chair"}\n'
        '{"bbox_2d": [500, 200, 700, 400], "label": "chair"},\n{"bbox_2d": [1, 2, 3, 4], "label": "lamp"}\n' + FENCE,
        1000, 1000, "relative",
        [E("chair", (100, 200, 300, 400)), E("chair", (500, 200, 700, 400)), E("lamp", (1, 2, 3, 4))],
    ),
    (
        "bare_objects_in_a_row_without_fence",
        '{"bbox_2d": [100, 200, 300, 400], "label": "chair"}, {"bbox_2d": [500, 200, 700, 400], "label": "table"}',
        1000, 1000, "relative",
        [E("chair", (100, 200, 300, 400)), E("table", (500, 200, 700, 400))],
    ),
    (
        # A model repeating itself: the same box of one label again (IoU > 0.9) is dropped, the first
        # kept; a neighbour of the same label (IoU 0.74), and the same box with another label, stay.
        "repeated_boxes_of_one_label_dropped",
        '[{"bbox_2d": [100, 200, 300, 400], "label": "chair"}, {"bbox_2d": [102, 201, 301, 402], "label": "Chair"},'
        ' {"bbox_2d": [130, 200, 330, 400], "label": "chair"}, {"bbox_2d": [100, 200, 300, 400], "label": "table"},'
        ' {"bbox_2d": [100, 200, 300, 400], "label": "chair"}]',
        1000, 1000, "relative",
        [E("chair", (100, 200, 300, 400)), E("chair", (130, 200, 330, 400)), E("table", (100, 200, 300, 400))],
    ),
]
