"""Tests for img23d_protocol: the JSON-lines wire format shared by the add-on and the backend."""

from __future__ import annotations

import ast
import json
import sys

import pytest

import img23d_protocol as protocol
from testdata import REPO
from img23d_protocol import (EVENT_TYPES, MAX_LINE_BYTES, MAX_TARGET_CHARS, MAX_TARGETS, PROTOCOL_MAJOR, REQUEST_TYPES,
                             Artifact, CancelRequest, DeleteRequest, DetectRequest, DownloadRequest, Error, ErrorCode,
                             GenerateRequest, Hello, JobOptions, ModelEntry, ModelsRequest, RetextureRequest, Progress,
                             ProtocolError, Result, ShutdownRequest, StatusRequest, SuggestRequest, check_peer_hello, decode,
                             request_id_of, split_names, validate_targets)


def _code(excinfo: pytest.ExceptionInfo) -> ErrorCode:
    return excinfo.value.code


# --- round trips ---------------------------------------------------------------------------

REQUESTS = [
    Hello(role="client", version="0.3.1"),
    Hello(role="backend", version="1.2.0", device="cuda:0", device_name="NVIDIA H100",
          memory={"free": 70 << 30, "total": 80 << 30}, models={"shape": "tencent/Hunyuan3D-2mini"}),
    GenerateRequest(id="job-1", image="/tmp/ünïcødé photo.png", targets=["red barrel", "家"],
                    options=JobOptions(seed=7, steps=12, guidance_scale=3.5, keep="all", margin=0.25,
                                       min_crop=32, shape_batch=4, texture=True)),
    GenerateRequest(id="job-2", image="C:\\pics\\a.jpg"),  # no targets: the whole image
    DetectRequest(id="det-1", image="/x/y.png", targets=["door", "chimney"]),
    SuggestRequest(id="sug-1", image="/x/y.png"),
    GenerateRequest(id="job-3", image="/x/y.png", options=JobOptions(fov_degrees=70.0, estimate_fov=False,
                                                                     ground=False)),
    CancelRequest(id="c-1", job="job-1"),
    CancelRequest(id="c-2", job=None),
    StatusRequest(id="s-1"),
    ShutdownRequest(id="bye"),
    ModelsRequest(id="m-1"),
    RetextureRequest(id="r-1", image="/tmp/p.png", mesh="/tmp/m.npz", name="statue",
                     options=JobOptions(texture_size=1024, paint_steps=10)),
    DownloadRequest(id="dl-1", model="Qwen/Qwen3-VL-2B-Instruct"),
    DeleteRequest(id="del-1", model="shape"),
]

EVENTS = [
    Hello(role="backend", version="1.0.0", device="cpu"),
    Progress(job="job-1", stage="shape", step=3, total=30, message="denoising \"barrel\"\nstep 3"),
    Artifact(job="job-1", kind="mesh", path="/runs/a/barrel.glb", target="barrel", instance=2,
             box=[1.5, 2.0, 300.25, 400.0], image_size=[1024, 768], seed=12),
    Artifact(job="job-1", kind="run", path="/runs/a"),
    Artifact(job="job-1", kind="layout", path="/runs/a/manifest.json"),
    Result(id="job-1", ok=True, data={"meshes": ["/runs/a/barrel.glb"], "nested": {"n": 1, "f": 0.5}}),
    Result(id="job-3", ok=False),
    Error(id="job-1", code="target_not_found", message="no 'door' in the picture", detail="scores: 0.1",
          target="door"),
    Error(id=None, code="internal", message="boom"),
]


@pytest.mark.parametrize("message", REQUESTS, ids=lambda m: type(m).__name__)
def test_every_request_round_trips(message):
    line = message.to_line()
    assert "\n" not in line, "a message must stay on one line"
    assert json.loads(line)["v"] == PROTOCOL_MAJOR
    assert decode(line, REQUEST_TYPES) == message
    assert decode(line.encode("utf-8"), REQUEST_TYPES) == message


@pytest.mark.parametrize("message", EVENTS, ids=lambda m: type(m).__name__)
def test_every_event_round_trips(message):
    line = message.to_line()
    assert "\n" not in line
    assert decode(line, EVENT_TYPES) == message
    assert decode(line.encode("utf-8"), EVENT_TYPES) == message


def test_every_registered_type_is_covered_by_the_round_trips():
    assert {type(m) for m in REQUESTS} == set(REQUEST_TYPES.values())
    assert {type(m) for m in EVENTS} == set(EVENT_TYPES.values())


def test_decoded_options_are_job_options_not_dicts():
    line = GenerateRequest(id="j", image="a.png", options=JobOptions(steps=5)).to_line()
    decoded = decode(line, REQUEST_TYPES)
    assert isinstance(decoded.options, JobOptions)
    assert decoded.options.steps == 5


def test_unknown_fields_from_a_newer_minor_version_are_ignored():
    line = json.dumps({"v": PROTOCOL_MAJOR, "type": "status", "id": "s", "future_field": [1, 2]})
    assert decode(line, REQUEST_TYPES) == StatusRequest(id="s")


# --- broken lines ---------------------------------------------------------------------------

@pytest.mark.parametrize("line, code", [
    ('{"v": 1, "type": "explode", "id": "x"}', ErrorCode.BAD_REQUEST),
    ('{"v": 1, "id": "x"}', ErrorCode.BAD_REQUEST),                        # no type at all
    ('{"v": 1, "type": ["status"], "id": "x"}', ErrorCode.BAD_REQUEST),    # type not a string
    ('{"v": 1, "type": "progress", "job": "x"}', ErrorCode.BAD_REQUEST),   # an event sent as a request
    ('[1, 2, 3]', ErrorCode.BAD_REQUEST),
    ('"status"', ErrorCode.BAD_REQUEST),
    ('null', ErrorCode.BAD_REQUEST),
    ('42', ErrorCode.BAD_REQUEST),
    ('{"v": 1, "type": "status", "id": ', ErrorCode.BAD_REQUEST),          # cut off
    ('not json at all', ErrorCode.BAD_REQUEST),
    ('', ErrorCode.BAD_REQUEST),
    ('[' * 100_000 + ']' * 100_000, ErrorCode.BAD_REQUEST),                # nesting bomb
    ('{"v": 2, "type": "status", "id": "x"}', ErrorCode.VERSION_MISMATCH),
    ('{"v": 0, "type": "status", "id": "x"}', ErrorCode.VERSION_MISMATCH),
    ('{"v": "1", "type": "status", "id": "x"}', ErrorCode.VERSION_MISMATCH),
    ('{"v": true, "type": "status", "id": "x"}', ErrorCode.VERSION_MISMATCH),
    ('{"v": null, "type": "status", "id": "x"}', ErrorCode.VERSION_MISMATCH),
    ('{"type": "status", "id": "x"}', ErrorCode.VERSION_MISMATCH),
], ids=lambda v: v[:40] if isinstance(v, str) else None)
def test_broken_lines_give_the_right_error_code(line, code):
    with pytest.raises(ProtocolError) as excinfo:
        decode(line, REQUEST_TYPES)
    assert _code(excinfo) == code
    assert excinfo.value.message  # there is always a sentence for the user


def test_unknown_type_names_the_type():
    with pytest.raises(ProtocolError, match="explode"):
        decode('{"v": 1, "type": "explode"}', REQUEST_TYPES)


def test_version_mismatch_names_both_versions():
    with pytest.raises(ProtocolError) as excinfo:
        decode('{"v": 7, "type": "status", "id": "x"}', REQUEST_TYPES)
    assert "7" in excinfo.value.message and str(PROTOCOL_MAJOR) in excinfo.value.message


def test_non_utf8_bytes_are_a_bad_request():
    with pytest.raises(ProtocolError, match="UTF-8") as excinfo:
        decode(b'{"v": 1, "type": "status", "id": "\xff\xfe"}', REQUEST_TYPES)
    assert _code(excinfo) == ErrorCode.BAD_REQUEST


def test_line_over_the_limit_is_refused_before_parsing():
    padding = "x" * MAX_LINE_BYTES
    line = json.dumps({"v": 1, "type": "status", "id": padding}).encode()
    assert len(line) > MAX_LINE_BYTES
    with pytest.raises(ProtocolError, match=str(MAX_LINE_BYTES)) as excinfo:
        decode(line, REQUEST_TYPES)
    assert _code(excinfo) == ErrorCode.BAD_REQUEST


def test_line_just_under_the_limit_is_accepted():
    skeleton = json.dumps({"v": 1, "type": "status", "id": ""}).encode()
    line = json.dumps({"v": 1, "type": "status", "id": "x" * (MAX_LINE_BYTES - len(skeleton))}).encode()
    assert len(line) == MAX_LINE_BYTES
    assert decode(line, REQUEST_TYPES).id == "x" * (MAX_LINE_BYTES - len(skeleton))


@pytest.mark.parametrize("field, value", [("id", 5), ("image", ["a.png"]), ("job", {"x": 1})])
def test_string_fields_of_another_type_are_refused(field, value):
    data = {"v": 1, "type": "generate" if field != "job" else "cancel", "id": "x", field: value}
    with pytest.raises(ProtocolError, match=field) as excinfo:
        decode(json.dumps(data), REQUEST_TYPES)
    assert _code(excinfo) == ErrorCode.BAD_REQUEST


def test_bad_targets_and_options_inside_a_request_are_bad_requests():
    base = {"v": 1, "type": "generate", "id": "x", "image": "a.png"}
    with pytest.raises(ProtocolError) as excinfo:
        decode(json.dumps({**base, "targets": "house"}), REQUEST_TYPES)
    assert _code(excinfo) == ErrorCode.BAD_REQUEST
    with pytest.raises(ProtocolError) as excinfo:
        decode(json.dumps({**base, "options": {"steps": 0}}), REQUEST_TYPES)
    assert _code(excinfo) == ErrorCode.BAD_REQUEST


def test_nan_inside_options_on_the_wire_is_refused():
    # Python's json reads the non-standard NaN literal; the option check must still catch it.
    line = '{"v": 1, "type": "generate", "id": "x", "image": "a.png", "options": {"margin": NaN}}'
    with pytest.raises(ProtocolError, match="margin") as excinfo:
        decode(line, REQUEST_TYPES)
    assert _code(excinfo) == ErrorCode.BAD_REQUEST


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
    ("steps", 0), ("steps", 201), ("octree_resolution", 15), ("octree_resolution", 1025),
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


# --- request ids of broken lines -------------------------------------------------------------

@pytest.mark.parametrize("line, expected", [
    ('{"v": 9, "type": "generate", "id": "job-4"}', "job-4"),
    (b'{"v": 1, "type": "nope", "id": "job-5"}', "job-5"),
    ('{"v": 1, "type": "generate", "id": 17}', None),
    ('{"v": 1, "type": "generate", "id": ', None),
    ('["id", "x"]', None),
    ('"job-6"', None),
    ("", None),
    (b'{"id": "\xff"}', None),
    (b"\xff\xfe\xfd", None),
    ('[' * 100_000, None),
    ('[' * 100_000 + ']' * 100_000, None),
], ids=lambda v: repr(v)[:30])
def test_request_id_of_broken_lines(line, expected):
    assert request_id_of(line) == expected


# --- hello -----------------------------------------------------------------------------------

def test_matching_hello_passes():
    check_peer_hello(Hello(role="backend", version="1.0.0"), "backend")


@pytest.mark.parametrize("protocol", [[PROTOCOL_MAJOR + 1, 0], [0, 9], [], None, PROTOCOL_MAJOR + 1, "1"])
def test_mismatched_hello_tells_the_user_to_reinstall(protocol):
    hello = Hello(role="backend", version="9.9.9", protocol=protocol)
    with pytest.raises(ProtocolError) as excinfo:
        check_peer_hello(hello, "backend")
    assert _code(excinfo) == ErrorCode.VERSION_MISMATCH
    assert "reinstall" in excinfo.value.message
    assert "backend" in excinfo.value.message


def test_mismatched_hello_from_the_wire_names_the_peer_version():
    hello = decode('{"v": 1, "type": "hello", "role": "client", "protocol": [2, 0], "version": "2.1.0"}',
                   REQUEST_TYPES)
    with pytest.raises(ProtocolError) as excinfo:
        check_peer_hello(hello, "add-on")
    assert "2.1.0" in excinfo.value.message and "add-on" in excinfo.value.message


# --- errors ----------------------------------------------------------------------------------

@pytest.mark.parametrize("code", list(ErrorCode))
def test_error_round_trips_through_an_exception_and_the_wire(code):
    exc = ProtocolError(code, f"something about {code.value}", detail="trace", target="barrel")
    event = Error.from_exception("job-1", exc)
    assert event.code == code.value
    again = decode(event.to_line(), EVENT_TYPES).to_exception()
    assert isinstance(again, ProtocolError)
    assert (again.code, again.message, again.detail, again.target) == (code, exc.message, "trace", "barrel")
    assert str(again) == f"[{code.value}] {exc.message}"


@pytest.mark.parametrize("code", ["made_up_code", "", None, "INTERNAL"])
def test_unknown_error_code_becomes_internal(code):
    exc = Error(id="x", code=code, message="from a newer backend").to_exception()
    assert exc.code == ErrorCode.INTERNAL
    assert exc.message == "from a newer backend"


def test_protocol_error_refuses_unknown_codes():
    with pytest.raises(ValueError):
        ProtocolError("no_such_code", "x")


# --- stdlib only ------------------------------------------------------------------------------

def test_protocol_imports_only_the_standard_library():
    """Blender imports this package into its own Python: no numpy, nothing outside the package."""
    modules = []
    # The source in the repository (the imported copy may be the wheel, a zip, if the add-on's
    # loader put it on the path first; test_wheel.py proves the two are the same).
    for path in sorted((REPO / "protocol" / "img23d_protocol").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                # Relative imports stay inside the package; absolute ones must be the stdlib's.
                modules += [node.module] if node.level == 0 else []
    assert modules, "the AST walk found no imports at all"
    outside = [m for m in modules
               if m.split(".")[0] != "__future__" and m.split(".")[0] not in sys.stdlib_module_names]
    assert outside == []


def test_model_requests_need_a_text_model_id():
    with pytest.raises(ProtocolError) as caught:
        decode('{"v": 1, "type": "download", "id": "d", "model": 3}', REQUEST_TYPES)
    assert _code(caught) is ErrorCode.BAD_REQUEST


def test_model_entries_round_trip_and_ignore_newer_fields():
    entry = ModelEntry(id="tencent/Hunyuan3D-2/hunyuan3d-dit-v2-0", role="shape", repo_id="tencent/Hunyuan3D-2",
                       subfolder="hunyuan3d-dit-v2-0", state="partial", size_bytes=123, size_measured=True,
                       shared_with=["tencent/Hunyuan3D-2/hunyuan3d-paint-v2-0"])
    data = json.loads(json.dumps(entry.to_dict()))
    assert ModelEntry.from_dict(data) == entry
    assert ModelEntry.from_dict({**data, "added_later": 1}) == entry
