"""Tests for img23d_protocol: the JSON-lines wire format shared by the add-on and the backend."""

from __future__ import annotations

import ast
import io
import json
import sys

import pytest

from testdata import REPO
from img23d_protocol import (EVENT_TYPES, MAX_LINE_BYTES, PROTOCOL_MAJOR, REQUEST_TYPES, Artifact, CancelRequest, Chunk,
                             OptionError, OverlongLine, bounded_lines,
                             DeleteRequest, DetectRequest, DownloadRequest, Error, ErrorCode, EstimateRequest, FetchRequest,
                             GenerateRequest, Hello, JobOptions, ModelEntry, ModelsRequest, PartsRequest, PictureRequest, RigBone, RigRequest,
                             PrintRequest, RegenerateRequest,
                             RetextureRequest, RetopoRequest, Progress, ProtocolError, Result, RunsRequest, ShutdownRequest, StatusRequest,
                             SuggestRequest, UploadRequest, check_peer_hello, decode, request_id_of)
from protocol_errors import _code


# --- round trips ---------------------------------------------------------------------------

REQUESTS = [
    Hello(role="client", version="0.3.1"),
    Hello(role="backend", version="1.2.0", device="cuda:0", device_name="NVIDIA H100",
          memory={"free": 70 << 30, "total": 80 << 30}, models={"shape": "tencent/Hunyuan3D-2mini"}),
    GenerateRequest(id="job-1", image="/tmp/ünïcødé photo.png", targets=["red barrel", "家"],
                    options=JobOptions(seed=7, steps=12, guidance_scale=3.5, keep="all", margin=0.25,
                                       min_crop=32, shape_batch=4, texture=True)),
    GenerateRequest(id="job-2", image="C:\\pics\\a.jpg"),  # no targets: the whole image
    GenerateRequest(id="job-4", prompt="a wooden barrel\nbeside a small house, 家", targets=["barrel"]),  # (1.24)
    PictureRequest(id="pic-1", prompt="a red barrel, 家", options=JobOptions(seed=3, edit_size=512)),  # (1.25)
    EstimateRequest(id="est-1", image="/x/y.png", targets=["house", "lamp"], parts={"lamp": ["shade"]},
                    options=JobOptions(complete_hidden="always", accept_long=True)),  # (1.29)
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
    RetopoRequest(id="rt-1", mesh="/tmp/m.npz", name="statue",
                  options=JobOptions(topology="quads", face_target=2000, bake_size=2048)),
    PartsRequest(id="p-1", mesh="/tmp/m.npz", name="lamp", targets=["shade", "arm", "base"], render_size=768),
    RigRequest(id="rig-1", mesh="/tmp/m.npz", name="hero", humanoid_names=False,
               skeleton=[RigBone("root", (0.0, 0.0, 0.0), (0.0, 0.0, 1.0)), RigBone("arm", (0.0, 0.0, 1.0), (1.0, 0.0, 1.0), 0)]),
    PartsRequest(id="p-2", mode="model", image="/tmp/lamp.png", mask="/tmp/lamp-mask.png", name="lamp", grid=512,
                 max_parts=6, steps=30, model="autopartgen"),
    RigRequest(id="rig-2", mesh="/tmp/hero.glb", name="hero", weights="geometric", skeleton_file="/tmp/rig.glb",
               also=["/tmp/hero_lod1.glb", "/tmp/hero_lod2.obj"]),   # (1.24) the command line's rig
    RegenerateRequest(id="rg-1", run="/runs/20261123-house scene", keys=["chimney", "barrel-2", "red_barrel-3f2a1b"],
                      options=JobOptions(random_seed=True, smoothing=3, fill_holes=200, min_piece=0.0, face_budget=0)),
    PrintRequest(id="pr-1", source="/runs/20261123-house", only=["house", "chimney"], object="house", height_mm=80.0,
                 hollow=True, wall_mm=2.5, drain_holes=3, drain_mm=4.0, base_mm=0.0, thin_mm=1.0),  # (1.28)
    PrintRequest(id="pr-2", meshes={"Cube.001": "/tmp/Cube-1.npz", "家": "/tmp/j.npz"}, object="家", height_mm=120,
                 source="/runs/20261123-house"),
    DownloadRequest(id="dl-1", model="Qwen/Qwen3-VL-2B-Instruct"),
    DeleteRequest(id="del-1", model="shape"),
    UploadRequest(id="up-1", name="ünïcødé photo.png", size=3, sha256="a" * 64, offset=0, data="AAEC", done=True),
    FetchRequest(id="f-1", path="/runs/20261123-house/barrel.glb"),
    RunsRequest(id="runs-1"),
    RunsRequest(id="runs-2", run="/home/ünï/img23d-runs/20261123-house"),
]

EVENTS = [
    Hello(role="backend", version="1.0.0", device="cpu"),
    Progress(job="job-1", stage="shape", step=3, total=30, message="denoising \"barrel\"\nstep 3"),
    Artifact(job="job-1", kind="mesh", path="/runs/a/barrel.glb", target="barrel", instance=2,
             box=[1.5, 2.0, 300.25, 400.0], image_size=[1024, 768], seed=12),
    Artifact(job="job-1", kind="mesh", path="/runs/a/barrel-v3.glb", target="barrel", instance=1, seed=14,
             variation=3),
    Artifact(job="job-1", kind="run", path="/runs/a"),
    Artifact(job="job-1", kind="layout", path="/runs/a/manifest.json"),
    Result(id="job-1", ok=True, data={"meshes": ["/runs/a/barrel.glb"], "nested": {"n": 1, "f": 0.5}}),
    Result(id="job-3", ok=False),
    Error(id="job-1", code="target_not_found", message="no 'door' in the picture", detail="scores: 0.1",
          target="door"),
    Error(id=None, code="internal", message="boom"),
    Hello(role="backend", version="1.8.0", device="cuda:0", runs_dir="/home/ünï/img23d-runs"),
    Chunk(id="f-1", offset=0, data="AAEC", size=3, sha256="b" * 64),
    Chunk(id="f-1", offset=524288, data=""),
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


@pytest.mark.parametrize("field, value, words", [
    ("grid", "512", "grid must be a whole number"), ("max_parts", -1, "max_parts must be a whole number"),
    ("steps", True, "steps must be a whole number"), ("render_size", 1.5, "render_size must be a whole number"),
    ("mask", 3, "mask must be a string"), ("mode", "guess", "mode must be one of split, model")])
def test_a_parts_requests_fields_are_checked_on_arrival(field, value, words):
    data = {"v": 1, "type": "parts", "id": "x", "mesh": "/tmp/m.npz", field: value}
    with pytest.raises(ProtocolError, match=words) as excinfo:
        decode(json.dumps(data), REQUEST_TYPES)
    assert _code(excinfo) == ErrorCode.BAD_REQUEST


def test_bad_targets_and_options_inside_a_request_are_bad_requests():
    base = {"v": 1, "type": "generate", "id": "x", "image": "a.png"}
    with pytest.raises(ProtocolError) as excinfo:
        decode(json.dumps({**base, "targets": "house"}), REQUEST_TYPES)
    assert _code(excinfo) == ErrorCode.BAD_REQUEST
    with pytest.raises(ProtocolError) as excinfo:
        decode(json.dumps({**base, "options": {"steps": -1}}), REQUEST_TYPES)
    assert _code(excinfo) == ErrorCode.BAD_REQUEST


def test_nan_inside_options_on_the_wire_is_refused():
    # Python's json reads the non-standard NaN literal; the option check must still catch it.
    line = '{"v": 1, "type": "generate", "id": "x", "image": "a.png", "options": {"margin": NaN}}'
    with pytest.raises(ProtocolError, match="margin") as excinfo:
        decode(line, REQUEST_TYPES)
    assert _code(excinfo) == ErrorCode.BAD_REQUEST


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
    """Blender imports this package into its own Python: nothing outside the package, but numpy
    in ``splats.py``, ``rig_weights.py`` and ``frame.py`` alone (every Blender ships numpy; the package's
    ``__init__`` imports none of them, tests/test_boundaries.py checks, so the rest loads where numpy is missing)."""
    modules = []
    # The source in the repository (the imported copy may be the wheel, a zip, if the add-on's
    # loader put it on the path first; test_wheel.py proves the two are the same).
    for path in sorted((REPO / "protocol" / "img23d_protocol").glob("*.py")):
        if path.name in ("splats.py", "rig_weights.py", "frame.py"):
            continue
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


@pytest.mark.parametrize("options, named", [({"topology": "n-gons"}, "topology"), ({"face_target": 50}, "face_target"),
                                            ({"bake_size": 1000}, "bake_size"), ({"bake_size": 16384}, "bake_size")])
def test_finishing_options_out_of_range_name_themselves(options: dict, named: str) -> None:
    with pytest.raises(OptionError) as caught:
        JobOptions.from_dict(options)
    assert caught.value.option == named


def test_bounded_lines_drop_an_overlong_line_or_end_at_it() -> None:
    stream = b"one\n" + b"x" * 25 + b"\n\ntwo\n"
    assert list(bounded_lines(io.BytesIO(stream), 10)) == [b"one", OverlongLine(26), b"two"]
    # A reader to whom that line is the peer's last word: its first piece alone, nothing after it.
    assert list(bounded_lines(io.BytesIO(stream), 10, last_overlong=True)) == [b"one", OverlongLine(11)]


@pytest.mark.parametrize("message", [{"type": "regenerate", "run": None, "keys": ["house"]},
                                     {"type": "parts", "mesh": None, "name": "m", "targets": ["roof"]},
                                     {"type": "parts", "mesh": "/m.glb", "name": None, "targets": ["roof"]},
                                     {"type": "rig", "mesh": None},
                                     {"type": "retexture", "mesh": None, "image": "/p.png"}])
def test_null_for_a_path_or_name_that_must_be_given_is_refused_on_arrival(message: dict) -> None:
    """A null run, mesh or name reached the job, which ended in an internal TypeError (Path(None))."""
    line = json.dumps({"v": 1, "id": "n", **message})
    with pytest.raises(ProtocolError, match="must be a string") as caught:
        decode(line, REQUEST_TYPES)
    assert caught.value.code is ErrorCode.BAD_REQUEST


@pytest.mark.parametrize("message, field", [({"type": "cancel", "job": None}, "job"),
                                            ({"type": "rig", "mesh": "/m.glb", "skeleton_file": None}, "skeleton_file"),
                                            ({"type": "generate", "image": None, "prompt": "a red barrel"}, "image"),
                                            ({"type": "parts", "mesh": "/m.glb", "name": "m", "mask": None}, "mask")])
def test_null_is_none_where_the_field_may_be_none(message: dict, field: str) -> None:
    """As it always was: an older add-on sends null for an optional file or name."""
    request = decode(json.dumps({"v": 1, "id": "n", **message}), REQUEST_TYPES)
    assert not getattr(request, field)
