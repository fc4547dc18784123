"""(1.28) The ``print`` request as it arrives from another process: every number in its range, every name a
name, what to print given once, each refusal one sentence naming the field; and a print result that is not what
a backend writes is refused in one sentence too. Pure: no backend, no file."""

from __future__ import annotations

import json
from typing import Any

import pytest

from img23d_protocol import (REQUEST_TYPES, ErrorCode, PrintJobResult, PrintRequest, ProtocolError,
                             check_print_settings, decode)

SCENE = {"meshes": {"Cube": "/tmp/Cube-1.npz", "Tall": "/tmp/Tall-2.npz"}, "height_mm": 80}


def _line(**fields: Any) -> str:
    return json.dumps({"v": 1, "type": "print", "id": "pr", **fields})


def _refusal(**fields: Any) -> str:
    with pytest.raises(ProtocolError) as caught:
        decode(_line(**fields), REQUEST_TYPES)
    assert caught.value.code is ErrorCode.BAD_REQUEST
    assert "\n" not in caught.value.message and caught.value.message.count(": ") <= 1
    return caught.value.message


def test_the_scenes_objects_arrive_with_their_names_and_settings() -> None:
    request = decode(_line(**SCENE, object="tall", hollow=True, wall_mm=1.5, source="/runs/r"), REQUEST_TYPES)
    assert isinstance(request, PrintRequest)
    assert request.meshes == SCENE["meshes"] and request.object == "tall" and request.source == "/runs/r"
    assert (request.height_mm, request.wall_mm, request.drain_holes, request.base_mm) == (80, 1.5, 2, 1.0)


@pytest.mark.parametrize(("fields", "sentence"), [
    ({"height_mm": 0}, "height_mm 0 is out of range: the printed height must be from 1 to 1000 mm"),
    ({"height_mm": 1e6}, "height_mm 1000000 is out of range: the printed height must be from 1 to 1000 mm"),
    ({"height_mm": -80}, "height_mm -80 is out of range"),
    ({"height_mm": "80"}, "height_mm '80' is not a number: give the printed height in millimetres"),
    ({"height_mm": True}, "height_mm True is not a number"),
    ({"wall_mm": 0.1}, "wall_mm 0.1 is out of range: the hollow's wall must be from 0.4 to 50 mm"),
    ({"drain_holes": 2.5}, "drain_holes 2.5 is out of range: it must be a whole number from 0 to 8"),
    ({"drain_holes": 9}, "drain_holes 9 is out of range"),
    ({"base_mm": -1}, "base_mm -1 is out of range"),
    ({"thin_mm": None}, "thin_mm None is not a number"),
    ({"hollow": True, "height_mm": 3, "wall_mm": 2, "base_mm": 0},
     "a 2 mm wall is thicker than half the 3 mm object: nothing would be left inside to hollow"),
    ({"height_mm": 4, "base_mm": 2}, "base_mm 2 would cut off half the 4 mm object or more"),
    ({"hollow": "yes"}, "hollow must be true or false"),
])
def test_each_number_out_of_range_is_one_sentence_naming_its_field(fields: dict[str, Any], sentence: str) -> None:
    assert sentence in _refusal(**{**SCENE, **fields})


@pytest.mark.parametrize(("fields", "sentence"), [
    ({"height_mm": 80}, "a print needs what to print: a run folder or mesh file (source), or the scene's objects"),
    ({"meshes": {"Cube": 7}, "height_mm": 80}, "meshes must be an object of names and mesh file paths"),
    ({"meshes": ["/tmp/a.npz"], "height_mm": 80}, "meshes must be an object of names and mesh file paths"),
    ({"meshes": {"": "/tmp/a.npz"}, "height_mm": 80}, "name 1 is empty"),
    ({"meshes": {"a\u202eb": "/tmp/a.npz"}, "height_mm": 80}, "invisible or line-breaking character"),
    ({"meshes": {"a\x07": "/tmp/a.npz"}, "height_mm": 80}, "contains control characters"),
    ({"meshes": {f"o{n}": "/a.npz" for n in range(257)}, "height_mm": 80}, "at most 256 objects per print, got 257"),
    ({**SCENE, "object": "Sphere"}, "object 'Sphere' is not among the printed objects (Cube, Tall)"),
    ({**SCENE, "only": ["Cube"]}, "only picks objects of a run folder"),
    ({"source": "/runs/r", "only": "house", "height_mm": 80}, "only must be a list of the run's object names"),
    ({"source": ["/runs/r"], "height_mm": 80}, "source must be a string"),
    ({"source": "/runs/r", "object": 3, "height_mm": 80}, "object must be a string"),
])
def test_what_to_print_and_each_name_is_checked_on_arrival(fields: dict[str, Any], sentence: str) -> None:
    assert sentence in _refusal(**fields)


def test_two_objects_may_differ_in_case_alone_as_blenders_names_do() -> None:
    request = decode(_line(meshes={"Cube": "/a.npz", "cube": "/b.npz"}, height_mm=80), REQUEST_TYPES)
    assert list(request.meshes) == ["Cube", "cube"]


def test_the_command_line_is_refused_in_the_same_words_naming_its_flags() -> None:
    with pytest.raises(ProtocolError) as caught:
        check_print_settings(PrintRequest(height_mm=0).settings(), lambda name: "--" + name.replace("_", "-"))
    assert caught.value.message == "--height-mm 0 is out of range: the printed height must be from 1 to 1000 mm"


@pytest.mark.parametrize(("change", "sentence"), [
    ({"objects": [{"name": "a", "printed": "yes", "watertight": True}]}, "'printed' is not true or false"),
    ({"objects": [{"name": "a", "printed": True, "watertight": True, "size_mm": [1, 2]}]},
     "'size_mm' is not three numbers"),
    ({"said": [3]}, "'said' is not a list of names"),
    ({"folder": None}, "'folder' is not a string"),
])
def test_a_print_result_that_no_backend_writes_is_one_sentence(change: dict[str, Any], sentence: str) -> None:
    data = {"run_dir": "/r", "folder": "/r/print", "record": "/r/print/print.json", "objects": [], "said": [],
            "passed": True, **change}
    with pytest.raises(ProtocolError, match=sentence):
        PrintJobResult.from_dict(data)
