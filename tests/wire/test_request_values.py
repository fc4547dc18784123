"""Tests for img23d_protocol's checks of a request's values: the job options and the target names."""

from __future__ import annotations

import re

import pytest

import img23d_protocol as protocol
from img23d_protocol import (MAX_TARGET_CHARS, MAX_TARGETS, ErrorCode, JobOptions, ProtocolError, names_from_text,
                             split_names, validate_targets)
from protocol_errors import _code


# --- options --------------------------------------------------------------------------------

def test_options_none_and_empty_give_defaults():
    assert JobOptions.from_dict(None) == JobOptions()
    assert JobOptions.from_dict({}) == JobOptions()


def test_options_accept_ints_for_floats_and_keep_them_float():
    options = JobOptions.from_dict({"guidance_scale": 4, "margin": 0})
    assert options.guidance_scale == 4.0 and isinstance(options.guidance_scale, float)
    assert isinstance(options.margin, float)


def test_options_boundaries_are_inclusive():
    options = JobOptions.from_dict({"steps": 200, "octree_resolution": 16, "guidance_scale": 50,
                                    "face_budget": 100, "margin": 2, "min_crop": 8, "shape_batch": 64,
                                    "seed": 2**63 - 1, "keep": "all"})
    assert options.steps == 200 and options.seed == 2**63 - 1


def test_textures_are_baked_from_renders_no_bigger_than_the_detail_they_hold():
    detailed = protocol.DETAILED_TEXTURE_SIZE
    assert JobOptions(texture_size=1024).bake_render_size() == 1024
    assert JobOptions(texture_size=detailed).bake_render_size() == detailed
    assert JobOptions(texture_size=2 * detailed).bake_render_size() == detailed  # asked for: upscaled
    assert JobOptions(texture_size=1024, render_size=512).bake_render_size() == 512


def test_unknown_option_is_named():
    with pytest.raises(ProtocolError, match="colour") as excinfo:
        JobOptions.from_dict({"steps": 5, "colour": "red"})
    assert _code(excinfo) == ErrorCode.BAD_REQUEST


@pytest.mark.parametrize("data", [[("steps", 5)], "steps=5", 5])
def test_options_must_be_an_object(data):
    with pytest.raises(ProtocolError) as excinfo:
        JobOptions.from_dict(data)
    assert _code(excinfo) == ErrorCode.BAD_REQUEST


@pytest.mark.parametrize("name, value", [
    ("steps", True),            # bool is an int in Python, not on the wire
    ("seed", False),
    ("steps", 3.0),
    ("steps", "30"),
    ("guidance_scale", "5.0"),  # str where float
    ("guidance_scale", True),
    ("margin", None),
    ("texture", 1),             # int where bool
    ("texture", "true"),
    ("keep", 1),
    ("min_crop", [64]),
])
def test_options_of_the_wrong_type_are_refused(name, value):
    with pytest.raises(ProtocolError, match=name) as excinfo:
        JobOptions.from_dict({name: value})
    assert _code(excinfo) == ErrorCode.BAD_REQUEST


@pytest.mark.parametrize("name, value", [
    ("steps", -1), ("steps", 201), ("octree_resolution", 15), ("octree_resolution", 1025),
    ("guidance_scale", -0.1), ("guidance_scale", 50.5), ("guidance_scale", float("nan")),
    ("guidance_scale", float("inf")), ("face_budget", 99), ("face_budget", 5_000_001),
    ("keep", "biggest"), ("margin", -0.01), ("margin", 2.5), ("margin", float("nan")),
    ("margin", float("-inf")), ("min_crop", 7), ("min_crop", 4097), ("shape_batch", -1),
    ("shape_batch", 65), ("seed", -1), ("seed", 2**63), ("fov_degrees", 4.9), ("fov_degrees", 170.5),
    ("fov_degrees", float("nan")),
])
def test_out_of_range_options_are_named(name, value):
    with pytest.raises(ProtocolError, match=f"option {name}=") as excinfo:
        JobOptions.from_dict({name: value})
    assert _code(excinfo) == ErrorCode.BAD_REQUEST


# --- target names ---------------------------------------------------------------------------

def test_empty_target_list_means_whole_image():
    assert validate_targets([]) == []


def test_targets_are_trimmed_and_nfc_normalised():
    assert validate_targets(["  red barrel ", "cafe\u0301"]) == ["red barrel", "caf\u00e9"]


def test_exactly_max_targets_is_fine():
    names = [f"thing {i}" for i in range(MAX_TARGETS)]
    assert validate_targets(names) == names


@pytest.mark.parametrize("targets, fragment", [
    ([""], "empty"),
    (["house", "   "], "name 2 is empty"),
    (["\t\n"], "empty"),
    (["Door", "door"], "twice"),
    (["DOOR", "door "], "twice"),
    (["Stra\u00dfe", "STRASSE"], "twice"),                 # casefold, not just lower()
    (["caf\u00e9", "cafe\u0301"], "twice"),                # same name, two Unicode spellings
    (["x" * 5000], "5000 characters"),
    (["x" * (MAX_TARGET_CHARS + 1)], f"at most {MAX_TARGET_CHARS}"),
    (["door\x00knob"], "control characters"),
    (["red\nbarrel"], "control characters"),
    (["\x1b[31mred"], "control characters"),
    (["a\u0085b"], "control characters"),
    (["door\u202eknob"], "invisible or line-breaking character (U+202E RIGHT-TO-LEFT OVERRIDE)"),
    (["red\u2028barrel"], "(U+2028 LINE SEPARATOR)"),
    (["red\u2029barrel"], "(U+2029 PARAGRAPH SEPARATOR)"),
    (["house", "door\u200b"], "name 2 contains an invisible or line-breaking character (U+200B ZERO WIDTH SPACE)"),
    (["\ufeffhouse"], "U+FEFF"),
    ([f"n{i}" for i in range(MAX_TARGETS + 1)], f"at most {MAX_TARGETS}"),
    (["house", 3], "name 2 is not text"),
    (["house", None], "not text"),
    ("house, door", "must be a list"),
    ({"house": 1}, "must be a list"),
    (None, "must be a list"),
], ids=lambda v: repr(v)[:30])
def test_bad_targets_are_refused_with_a_reason(targets, fragment):
    with pytest.raises(ProtocolError) as excinfo:
        validate_targets(targets)
    assert _code(excinfo) == ErrorCode.BAD_REQUEST
    assert fragment in excinfo.value.message


# An emoji beside the name's words (an emoji alone is no name the grounding can find: it has no word).
@pytest.mark.parametrize("name", ["\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",   # Persian: needs U+200C
                                  "scientist \U0001F469\u200d\U0001F52C",                    # woman scientist emoji
                                  "flag \U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F"])
def test_names_that_join_or_shape_script_and_emoji_are_kept(name):
    assert validate_targets([name]) == [name]


@pytest.mark.parametrize("names, fragment", [
    (["---"], "name 1 ('---') has no letter or digit, so it can never be found: name the object in words"),
    (["house", "!!"], "name 2 ('!!') has no letter or digit"),
    (["\U0001F469\u200d\U0001F52C"], "has no letter or digit"),
])
def test_a_name_without_a_letter_or_digit_is_refused_as_one_never_found(names, fragment):
    """Issue 88: the grounding reads a name by its words (letters and digits), so "---" matched nothing, yet the
    job loaded its models and ran to say it was not found. A Re-texture's name only names files: it may."""
    with pytest.raises(ProtocolError, match=re.escape(fragment)) as excinfo:
        validate_targets(names)
    assert _code(excinfo) == ErrorCode.BAD_REQUEST
    with pytest.raises(ProtocolError, match="has no letter or digit"):
        names_from_text(", ".join(names), "Names")   # the add-on's Names field and --targets
    assert validate_targets(["---"], looked_for=False) == ["---"]


def test_a_name_at_the_length_limit_is_fine():
    assert validate_targets(["x" * MAX_TARGET_CHARS]) == ["x" * MAX_TARGET_CHARS]


@pytest.mark.parametrize("text, expected", [
    ("house, door", ["house", "door"]),
    ("a,,b", ["a", "b"]),
    (" , ,  ", []),
    ("", []),
    (",red barrel ,\tchimney,", ["red barrel", "chimney"]),
    ("single", ["single"]),
])
def test_split_names_drops_blanks(text, expected):
    assert split_names(text) == expected


# --- a rig request's files beside its mesh (1.24) ------------------------------------------------------

@pytest.mark.parametrize("fields, words", [
    ({"also": "/m/lod1.glb"}, "also must be a list of mesh files"),
    ({"also": ["/m/lod1.glb", 3]}, "also must be a list of mesh files"),
    ({"also": [f"/m/lod{i}.glb" for i in range(protocol.MAX_LEVELS + 1)]},
     f"also names {protocol.MAX_LEVELS + 1} meshes; at most {protocol.MAX_LEVELS}"),
    ({"also": [" "]}, "also names an empty path"),
    ({"skeleton_file": 7}, "skeleton_file must be a string"),
    ({"skeleton_file": "/m/rig.glb", "skeleton": [{"name": "a", "head": [0, 0, 0], "tail": [0, 0, 1]}]},
     "the skeleton was given twice, as bones and as a file: send one of them"),
    ({"skeleton": [{"name": "a", "head": [0, 0, 0], "tail": [0, 0, 1], "parent": 0}]},
     "the bones' parents form a cycle through 'a'"),
    ({"skeleton": [{"name": "a", "head": [0, 0, 0], "tail": [0, 0, 1]}, {"name": " a ", "head": [0, 0, 1],
                                                                         "tail": [0, 0, 2], "parent": 0}]},
     "bones 1 and 2 are both named 'a'"),
])
def test_a_rig_requests_levels_and_skeleton_are_checked_on_arrival(fields: dict, words: str) -> None:
    import json

    line = json.dumps({"v": 1, "type": "rig", "id": "r", "mesh": "/m/hero.glb", **fields})
    with pytest.raises(ProtocolError, match=words) as excinfo:
        protocol.decode(line, protocol.REQUEST_TYPES)
    assert _code(excinfo) == ErrorCode.BAD_REQUEST


def test_a_seed_after_another_stays_in_the_range_a_seed_is_given_in() -> None:
    """A variation's or candidate's seed (the job's plus its place) went past 2**63 - 1, which --seed refuses."""
    from img23d_protocol import seed_at

    assert seed_at(4, 1) == 5 and seed_at(2**63 - 1, 0) == 2**63 - 1
    assert seed_at(2**63 - 1, 1) == 0 and seed_at(2**63 - 2, 3) == 1


@pytest.mark.parametrize("value", [5, "mit", [1], None])
def test_a_download_requests_licences_must_be_a_list_of_keys(value) -> None:
    """A number was a TypeError in the download job ("'int' object is not iterable" [internal])."""
    line = protocol.dumps({"v": 1, "type": "download", "id": "d", "model": "shape", "accepted_licences": value})
    with pytest.raises(ProtocolError, match="accepted_licences must be a list of licence keys") as caught:
        protocol.decode(line, protocol.REQUEST_TYPES)
    assert caught.value.code is ErrorCode.BAD_REQUEST
