"""Tests for grounding/matching.py: which detection is which requested name."""

from __future__ import annotations

import pytest

from img23d_backend.grounding.grounder import Detection
from img23d_backend.grounding.qwen3_vl.detections import parse_detections
from img23d_backend.grounding.matching import TargetMatch, match_targets

FENCE = "```"


def D(label, box=(0, 0, 10, 10), score=None):
    return Detection(label=label, box=box, score=score)


def _assigned(matches):
    return {m.target: [d.label for d in m.detections] for m in matches}


def test_match_exact_with_case_and_separators():
    dets = [D("Wooden_Barrel"), D("wooden-barrel  "), D("CHIMNEY")]
    matches = match_targets(dets, ["wooden barrel", "chimney"], keep="all")
    assert _assigned(matches) == {"wooden barrel": ["Wooden_Barrel", "wooden-barrel  "], "chimney": ["CHIMNEY"]}


@pytest.mark.parametrize(
    "label, target",
    [("barrels", "barrel"), ("barrel", "barrels"), ("boxes", "box"), ("box", "boxes"),
     ("berries", "berry"), ("berry", "berries"), ("houses", "house"), ("glasses", "glass"),
     ("Wooden Barrels", "wooden_barrel")],
)
def test_match_plurals_both_ways(label, target):
    (match,) = match_targets([D(label)], [target])
    assert [d.label for d in match.detections] == [label]


def test_exact_beats_plural():
    dets = [D("barrel"), D("barrels")]
    matches = match_targets(dets, ["barrels", "barrel"], keep="all")
    assert _assigned(matches) == {"barrels": ["barrels"], "barrel": ["barrel"]}


def test_label_containing_target():
    (match,) = match_targets([D("red barrel")], ["barrel"])
    assert [d.label for d in match.detections] == ["red barrel"]


def test_a_label_missing_a_word_of_the_name_does_not_match_it():
    # Not every barrel is red: the name "red barrel" is not found rather than any barrel made.
    (match,) = match_targets([D("barrel"), D("blue barrel")], ["red barrel"], keep="all")
    assert match.detections == []
    alone = match_targets([D("barrel")], ["wooden barrel"])
    assert alone[0].detections == []
    both = match_targets([D("barrel")], ["wooden barrel", "barrel"])
    assert _assigned(both) == {"wooden barrel": [], "barrel": ["barrel"]}


def test_separators_inside_one_name_do_not_make_a_list():
    # "house; barrel" typed as one name needs both words; the house alone is not it.
    matches = match_targets([D("house"), D("barrel")], ["house; barrel"], keep="all")
    assert matches[0].target == "house; barrel" and matches[0].detections == []
    (match,) = match_targets([D("barrel by the house")], ["house; barrel"])
    assert [d.label for d in match.detections] == ["barrel by the house"]


def test_a_label_with_every_word_of_the_name_matches_in_any_order():
    (match,) = match_targets([D("Barrel, red"), D("small red wooden barrel")], ["red barrel"], keep="all")
    assert [d.label for d in match.detections] == ["Barrel, red", "small red wooden barrel"]


def test_a_shorter_label_goes_to_the_name_it_fully_carries():
    # "old barrel" carries every word of "barrel", not of "big old barrel".
    matches = match_targets([D("old barrel")], ["big old barrel", "barrel"])
    assert _assigned(matches) == {"big old barrel": [], "barrel": ["old barrel"]}


def test_containment_is_by_whole_words():
    matches = match_targets([D("barrelhouse"), D("bar")], ["barrel"])
    assert matches[0].detections == []


def test_tie_goes_to_longer_target():
    matches = match_targets([D("red wooden barrel")], ["barrel", "wooden barrel"])
    assert _assigned(matches) == {"barrel": [], "wooden barrel": ["red wooden barrel"]}
    # Same result whatever the targets' order.
    matches = match_targets([D("red wooden barrel")], ["wooden barrel", "barrel"])
    assert _assigned(matches) == {"wooden barrel": ["red wooden barrel"], "barrel": []}


def test_detection_goes_to_one_target_only():
    dets = [D("barrel"), D("red barrel"), D("house")]
    matches = match_targets(dets, ["barrel", "barrel", "house"], keep="all")
    total = sum(len(m.detections) for m in matches)
    assert total == 3
    assert [len(m.detections) for m in matches] == [2, 0, 1]


def test_unlabelled_with_one_target():
    (match,) = match_targets([D(None), D("house")], ["barrel"], keep="all")
    assert [d.label for d in match.detections] == [None]


def test_unlabelled_with_several_targets_is_ignored():
    matches = match_targets([D(None)], ["barrel", "house"], keep="all")
    assert all(m.detections == [] for m in matches)


def test_keep_largest_and_all():
    small = D("barrel", (0, 0, 10, 10))
    large = D("barrel", (0, 0, 100, 50))
    medium = D("barrels", (0, 0, 30, 30))
    (largest,) = match_targets([small, large, medium], ["barrel"])
    assert largest.detections == [large]
    (everything,) = match_targets([small, large, medium], ["barrel"], keep="all")
    assert everything.detections == [large, medium, small]


def test_equal_areas_keep_model_order():
    first = D("barrel", (0, 0, 10, 10))
    second = D("barrel", (50, 50, 60, 60))
    (match,) = match_targets([first, second], ["barrel"], keep="all")
    assert match.detections == [first, second]
    (match,) = match_targets([first, second], ["barrel"])
    assert match.detections == [first]


def test_not_found_and_order_of_targets():
    matches = match_targets([D("house")], [" chimney ", "house", "barrel"])
    assert all(isinstance(m, TargetMatch) for m in matches)
    assert [m.target for m in matches] == ["chimney", "house", "barrel"]
    assert [len(m.detections) for m in matches] == [0, 1, 0]


def test_unrelated_labels_are_ignored():
    matches = match_targets([D("tree"), D("sky")], ["house"])
    assert matches[0].detections == []


@pytest.mark.parametrize("keep", ["biggest", "", None, "ALL"])
def test_bad_keep_raises(keep):
    with pytest.raises(ValueError):
        match_targets([], ["house"], keep=keep)




def test_end_to_end_parse_then_match():
    raw = (
        "Here you go:\n" + FENCE + "json\n"
        '[{"bbox_2d": [120, 340, 560, 900], "label": "house"},\n'
        ' {"bbox_2d": [400, 100, 470, 260], "label": "chimney"},\n'
        ' {"bbox_2d": [600, 700, 700, 900], "label": "barrels"},\n'
        ' {"bbox_2d": [720, 800, 760, 880], "label": "small barrel"}]\n' + FENCE
    )
    dets = parse_detections(raw, 1000, 1000)
    matches = match_targets(dets, ["house", "chimney", "barrel"], keep="all")
    assert _assigned(matches) == {
        "house": ["house"],
        "chimney": ["chimney"],
        "barrel": ["barrels", "small barrel"],
    }
