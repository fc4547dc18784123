"""Grounding models' answers as they come, messy or broken, with the detections each must give."""

from __future__ import annotations


FENCE = "```"


def E(label, box, score=None):
    """An expected detection: (label, box in pixels, score)."""
    return (label, tuple(float(v) for v in box), score)


def case(case_id: str, answer: str, expected: list, size: tuple[int, int] = (1000, 1000),
         coords: str = "relative") -> tuple:
    """A case as the tests read it: (id, raw answer, width, height, coords, expected detections in
    order); most answers are of a 1000 x 1000 picture in coordinates relative to 1000, as Qwen3-VL's."""
    return (case_id, answer, *size, coords, expected)


CORPUS = [
    case(
        "qwen3_canonical_scaled",
        FENCE + 'json\n[\n  {"bbox_2d": [120, 340, 560, 900], "label": "house"},\n'
        '  {"bbox_2d": [400, 100, 470, 260], "label": "chimney"}\n]\n' + FENCE,
        [E("house", (76.8, 163.2, 358.4, 432.0)), E("chimney", (256.0, 48.0, 300.8, 124.8))],
        size=(640, 480),
    ),
    case(
        "fence_without_language",
        FENCE + '\n[{"bbox_2d": [10, 20, 30, 40], "label": "barrel"}]\n' + FENCE,
        [E("barrel", (10, 20, 30, 40))],
    ),
    case(
        "no_fence",
        '[{"bbox_2d": [10, 20, 30, 40], "label": "barrel"}]',
        [E("barrel", (10, 20, 30, 40))],
    ),
    case(
        "prose_around_fence",
        "Sure! Here are the objects I found:\n" + FENCE + 'json\n[{"bbox_2d": [10, 20, 30, 40], '
        '"label": "barrel"}]\n' + FENCE + "\nLet me know if you need anything else (e.g. [masks]).",
        [E("barrel", (10, 20, 30, 40))],
    ),
    case(
        "prose_around_bare_json",
        'The house is at [{"bbox_2d": [100, 200, 300, 400], "label": "house"}] in the image.',
        [E("house", (100, 200, 300, 400))],
    ),
    case(
        "bare_object_not_list",
        FENCE + 'json\n{"bbox_2d": [100, 200, 300, 400], "label": "house"}\n' + FENCE,
        [E("house", (100, 200, 300, 400))],
    ),
    case(
        "several_fenced_blocks",
        "House:\n" + FENCE + 'json\n[{"bbox_2d": [100, 200, 300, 400], "label": "house"}]\n' + FENCE
        + "\nChimneys:\n" + FENCE + 'json\n[{"bbox_2d": [10, 20, 30, 40], "label": "chimney"},'
        ' {"bbox_2d": [50, 20, 70, 40], "label": "chimney"}]\n' + FENCE,
        [E("house", (100, 200, 300, 400)), E("chimney", (10, 20, 30, 40)), E("chimney", (50, 20, 70, 40))],
    ),
    case(
        "missing_label",
        '[{"bbox_2d": [100, 200, 300, 400]}, {"bbox_2d": [1, 2, 3, 4], "label": "  "}]',
        [E(None, (100, 200, 300, 400)), E(None, (1, 2, 3, 4))],
    ),
    case(
        "other_label_keys",
        '[{"bbox_2d": [1, 1, 2, 2], "name": "a"}, {"bbox_2d": [1, 1, 2, 2], "category": "b"},'
        ' {"bbox_2d": [1, 1, 2, 2], "class": "c"}, {"bbox_2d": [1, 1, 2, 2], "object": "d"},'
        ' {"bbox_2d": [1, 1, 2, 2], "text": "e"}]',
        [E(k, (1, 1, 2, 2)) for k in "abcde"],
    ),
    case(
        "label_key_priority",
        '[{"bbox_2d": [1, 1, 2, 2], "text": "second", "label": "first"}]',
        [E("first", (1, 1, 2, 2))],
    ),
    case(
        "other_box_keys",
        '[{"bbox": [1, 2, 3, 4], "label": "a"}, {"box": [5, 6, 7, 8], "label": "b"},'
        ' {"box_2d": [9, 10, 11, 12], "label": "c"}]',
        [E("a", (1, 2, 3, 4)), E("b", (5, 6, 7, 8)), E("c", (9, 10, 11, 12))],
    ),
    case(
        "upper_case_keys",
        '[{"BBOX_2D": [1, 2, 3, 4], "Label": "House"}]',
        [E("House", (1, 2, 3, 4))],
    ),
    case(
        "dict_box_x1y1x2y2",
        '[{"bbox_2d": {"x1": 100, "y1": 200, "x2": 300, "y2": 400}, "label": "house"}]',
        [E("house", (50, 100, 150, 200))],
        size=(500, 500),
    ),
    case(
        "dict_box_minmax",
        '[{"bbox": {"xmin": 10, "ymin": 20, "xmax": 30, "ymax": 40}, "label": "barrel"}]',
        [E("barrel", (10, 20, 30, 40))],
    ),
    case(
        "dict_box_x0y0x1y1",
        '[{"box": {"x0": 10, "y0": 20, "x1": 30, "y1": 40}, "label": "barrel"}]',
        [E("barrel", (10, 20, 30, 40))],
    ),
    case(
        "string_numbers",
        '[{"bbox_2d": ["120", "340", " 560 ", "900.5"], "label": "house"}]',
        [E("house", (120, 340, 560, 900.5))],
    ),
    case(
        "box_as_one_string",
        '[{"bbox_2d": "120, 340, 560, 900", "label": "house"}]',
        [E("house", (120, 340, 560, 900))],
    ),
    case(
        "corner_pairs",
        '[{"bbox_2d": [[120, 340], [560, 900]], "label": "house"}]',
        [E("house", (120, 340, 560, 900))],
    ),
    case(
        "reversed_corners",
        '[{"bbox_2d": [560, 900, 120, 340], "label": "house"}, {"bbox_2d": [30, 20, 10, 40], "label": "x"}]',
        [E("house", (120, 340, 560, 900)), E("x", (10, 20, 30, 40))],
    ),
    case(
        "partly_outside_is_clamped",
        '[{"bbox_2d": [-50, 900, 300, 1200], "label": "barrel"}]',
        [E("barrel", (0, 540, 240, 600))],
        size=(800, 600),
    ),
    case(
        "fully_outside_is_dropped",
        '[{"bbox_2d": [1100, 100, 1200, 200], "label": "ghost"}, {"bbox_2d": [1, 2, 3, 4], "label": "real"}]',
        [E("real", (1, 2, 3, 4))],
    ),
    case(
        "degenerate_is_dropped",
        '[{"bbox_2d": [100, 100, 100, 200], "label": "line"}, {"bbox_2d": [100, 50, 200, 50], "label": "flat"},'
        ' {"bbox_2d": [1, 2, 3, 4], "label": "ok"}]',
        [E("ok", (1, 2, 3, 4))],
    ),
    case(
        "absolute_pixels_qwen25",
        FENCE + 'json\n[{"bbox_2d": [100, 50, 700, 500], "label": "house"}]\n' + FENCE,
        [E("house", (100, 50, 640, 480))],
        size=(640, 480), coords="absolute",
    ),
    case(
        "single_quotes_python_repr",
        "[{'bbox_2d': [10, 20, 30, 40], 'label': 'barrel'}, {'bbox_2d': [50, 60, 70, 80], 'label': \"kid's toy\"}]",
        [E("barrel", (10, 20, 30, 40)), E("kid's toy", (50, 60, 70, 80))],
    ),
    case(
        "trailing_commas",
        '[\n {"bbox_2d": [10, 20, 30, 40,], "label": "barrel",},\n]',
        [E("barrel", (10, 20, 30, 40))],
    ),
    case(
        "python_none_true",
        '[{"bbox_2d": [10, 20, 30, 40], "label": None, "visible": True, "occluded": False}]',
        [E(None, (10, 20, 30, 40))],
    ),
    case(
        "bare_keys_and_missing_commas",
        '[{bbox_2d: [10, 20, 30, 40] label: "a"} {bbox_2d: [50, 60, 70, 80], label: "b"}]',
        [E("a", (10, 20, 30, 40)), E("b", (50, 60, 70, 80))],
    ),
    case(
        "truncated_inside_box",
        FENCE + 'json\n[\n  {"bbox_2d": [10, 20, 30, 40], "label": "a"},\n  {"bbox_2d": [50, 60, 70, 80], '
        '"label": "b"},\n  {"bbox_2d": [90, 100, 1',
        [E("a", (10, 20, 30, 40)), E("b", (50, 60, 70, 80))],
    ),
    case(
        "truncated_inside_label",
        '[{"bbox_2d": [10, 20, 30, 40], "label": "a"}, {"bbox_2d": [50, 60, 70, 80], "label": "bar',
        [E("a", (10, 20, 30, 40))],
    ),
    case(
        "truncated_after_complete_object",
        '[{"bbox_2d": [10, 20, 30, 40], "label": "a"},',
        [E("a", (10, 20, 30, 40))],
    ),
    case(
        "truncated_inside_wrapper",
        '{"objects": [{"bbox_2d": [10, 20, 30, 40], "label": "a"}, {"bbox_2d": [50, 60',
        [E("a", (10, 20, 30, 40))],
    ),
    case(
        "point_2d_relative",
        '[{"point_2d": [500, 500], "label": "chimney"}]',
        # point (500, 250) px, half-size 2% of 1000 = 20 px
        [E("chimney", (480, 230, 520, 270))],
        size=(1000, 500),
    ),
    case(
        "point_near_corner_is_clamped",
        '[{"point_2d": [0, 0], "label": "a"}]',
        [E("a", (0, 0, 20, 20))],
        size=(1000, 500),
    ),
    case(
        "point_key_absolute",
        "[{'point': [100, 40], 'label': 'a'}]",
        # half-size 2% of 400 = 8 px
        [E("a", (92, 32, 108, 48))],
        size=(400, 200), coords="absolute",
    ),
    case(
        "point_outside_is_dropped",
        '[{"point_2d": [1500, 500], "label": "a"}]',
        [],
    ),
    case(
        "score_and_confidence",
        '[{"bbox_2d": [1, 2, 3, 4], "label": "a", "score": 0.9},'
        ' {"bbox_2d": [1, 2, 3, 4], "label": "b", "confidence": "0.75"},'
        ' {"bbox_2d": [1, 2, 3, 4], "label": "c", "score": "high"}]',
        [E("a", (1, 2, 3, 4), 0.9), E("b", (1, 2, 3, 4), 0.75), E("c", (1, 2, 3, 4))],
    ),
    case(
        "wrapper_objects",
        FENCE + 'json\n{"objects": [{"bbox_2d": [1, 2, 3, 4], "label": "a"}, '
        '{"bbox_2d": [5, 6, 7, 8], "label": "b"}]}\n' + FENCE,
        [E("a", (1, 2, 3, 4)), E("b", (5, 6, 7, 8))],
    ),
    case(
        "wrapper_detections_deep",
        'Result: {"result": {"detections": [{"box": [1, 2, 3, 4], "class": "a"}]}, "count": 1}',
        [E("a", (1, 2, 3, 4))],
    ),
    case("empty_answer", "", []),
    case("whitespace_answer", "  \n\t ", []),
    case("pure_prose", "I can't find any barrels in this image.", []),
    case("empty_list", FENCE + "json\n[]\n" + FENCE, []),
    case("invalid_beyond_repair", '[{"bbox_2d": oops!!}]', []),
    case(
        "bad_objects_skipped_good_kept",
        '[{"bbox_2d": [1, 2, 3], "label": "short"}, {"bbox_2d": ["a", 2, 3, 4], "label": "nan"},'
        ' {"bbox_2d": [1, 2, 3, "NaN"], "label": "nan2"}, {"label": "nobox"},'
        ' {"bbox_2d": [5, 6, 7, 8], "label": "good"}]',
        [E("good", (5, 6, 7, 8))],
    ),
    case(
        "broken_list_salvages_objects",
        '[{"bbox_2d": [1, 2, 3, 4], "label": "a"}, {"bbox_2d": [5, 6, 7, 8], "label": "b"} ) ]',
        [E("a", (1, 2, 3, 4)), E("b", (5, 6, 7, 8))],
    ),
    case(
        "garbage_fence_then_json_outside",
        FENCE + "\nno json here\n" + FENCE + '\n[{"bbox_2d": [1, 2, 3, 4], "label": "a"}]',
        [E("a", (1, 2, 3, 4))],
    ),
    case(
        "fenced_answer_wins_over_prose_example",
        'Format: [{"bbox_2d": [0, 0, 9, 9], "label": "example"}]\n'
        + FENCE + 'json\n[{"bbox_2d": [1, 2, 3, 4], "label": "a"}]\n' + FENCE,
        [E("a", (1, 2, 3, 4))],
    ),
    case(
        "label_stripped_and_escaped",
        '[{"bbox_2d": [1, 2, 3, 4], "label": "  12\\" pipe \\n"}]',
        [E('12" pipe', (1, 2, 3, 4))],
    ),
    case(
        "model_order_kept",
        '[{"bbox_2d": [1, 1, 2, 2], "label": "small"}, {"bbox_2d": [0, 0, 900, 900], "label": "big"}]',
        [E("small", (1, 1, 2, 2)), E("big", (0, 0, 900, 900))],
    ),
    case(
        "box_wins_over_point",
        '[{"bbox_2d": [1, 2, 3, 4], "point_2d": [500, 500], "label": "a"}]',
        [E("a", (1, 2, 3, 4))],
    ),
    case(
        "bare_object_without_fence",
        'Found it: {"bbox_2d": [100, 200, 300, 400], "label": "house"} in the middle.',
        [E("house", (100, 200, 300, 400))],
    ),
    case(
        "bare_objects_in_a_row_fenced",
        FENCE + 'json\n{"bbox_2d": [100, 200, 300, 400], "label": "chair"}\n'
        '{"bbox_2d": [500, 200, 700, 400], "label": "chair"},\n{"bbox_2d": [1, 2, 3, 4], "label": "lamp"}\n' + FENCE,
        [E("chair", (100, 200, 300, 400)), E("chair", (500, 200, 700, 400)), E("lamp", (1, 2, 3, 4))],
    ),
    case(
        "bare_objects_in_a_row_without_fence",
        '{"bbox_2d": [100, 200, 300, 400], "label": "chair"}, {"bbox_2d": [500, 200, 700, 400], "label": "table"}',
        [E("chair", (100, 200, 300, 400)), E("table", (500, 200, 700, 400))],
    ),
    case(
        # A model repeating itself: the same box of one label again (IoU > 0.9) is dropped, the first
        # kept; a neighbour of the same label (IoU 0.74), and the same box with another label, stay.
        "repeated_boxes_of_one_label_dropped",
        '[{"bbox_2d": [100, 200, 300, 400], "label": "chair"}, {"bbox_2d": [102, 201, 301, 402], "label": "Chair"},'
        ' {"bbox_2d": [130, 200, 330, 400], "label": "chair"}, {"bbox_2d": [100, 200, 300, 400], "label": "table"},'
        ' {"bbox_2d": [100, 200, 300, 400], "label": "chair"}]',
        [E("chair", (100, 200, 300, 400)), E("chair", (130, 200, 330, 400)), E("table", (100, 200, 300, 400))],
    ),
]
