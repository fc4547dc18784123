"""The backend as Blender uses it: a subprocess speaking JSON lines, with the tiny models."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
import trimesh
from PIL import Image

from testdata import FAST_OPTIONS, HOUSE
from img23d_protocol import ESTIMATE_STAGE, JobEstimate
from backend_proc import BackendProcess
from img23d_backend.models import preflight
from img23d_backend.catalog import tiny_model_set

pytestmark = pytest.mark.process  # its subject is img23d's processes (pytest.ini)

SLOW_SHAPE = {"steps": 200, "octree_resolution": 32}


def _generate(backend: BackendProcess, job_id: str, targets: list[str], image: Path = HOUSE, **options):
    backend.send({"type": "generate", "id": job_id, "image": str(image), "targets": targets,
                  "options": {**FAST_OPTIONS, **options}})
    return backend.reply(job_id, timeout=300)


def _manifest(result: dict) -> dict:
    return json.loads(Path(result["data"]["manifest"]).read_text(encoding="utf-8"))


def test_hello_describes_the_backend(backend: BackendProcess) -> None:
    hello = backend.hello
    assert hello["role"] == "backend" and hello["protocol"][0] == 1
    assert hello["device"] == "cpu"
    assert hello["memory"]["total"] > hello["memory"]["free"] > 0
    assert set(hello["models"]) == {"grounding", "matting", "shape"}
    assert backend.garbage == []


def test_hello_says_the_largest_settings_this_machine_holds(backend: BackendProcess, tiny_root: Path) -> None:
    models = tiny_model_set(tiny_root)
    # Nothing is loaded yet at the hello: the models' sizes are their specs' estimates.
    expected = preflight.limits("cpu", models.shape.size_bytes,
                                sum(spec.size_bytes for spec in (models.delight, models.paint)))
    assert backend.hello["limits"] == expected
    assert expected["octree_resolution"] in preflight.OCTREE_STEPS
    assert expected["texture_size"] in preflight.TEXTURE_STEPS


def test_generate_three_names_gives_three_glbs_and_one_load_per_model(backend: BackendProcess) -> None:
    first_event = len(backend.seen)
    result = _generate(backend, "job-1", ["house", "chimney", "barrel"])
    assert result["type"] == "result", result
    events = backend.seen[first_event:]
    meshes = [e for e in events if e["type"] == "artifact" and e["kind"] == "mesh"]
    assert [e["target"] for e in meshes] == ["house", "chimney", "barrel"]
    for event in meshes:
        path = Path(event["path"])
        assert path.parent == Path(result["data"]["run_dir"])
        mesh = trimesh.load(path, force="mesh")
        assert len(mesh.faces) > 0
    assert any(e["type"] == "progress" and e["stage"] == "shape" for e in events)
    manifest = _manifest(result)
    assert manifest["status"] == "finished"
    assert [r["target"] for r in manifest["records"]] == ["house", "chimney", "barrel"]
    assert {role: c["loads_from_disk"] for role, c in manifest["model_counters"].items()} == {
        "grounding": 1, "matting": 1, "shape": 1, "delight": 0, "paint": 0, "depth": 1,
        "materials": 0, "editor": 0, "shape_views": 0}  # registered; an untextured job without views never loads them
    assert set(manifest["timings"]) >= {"load", "grounding", "crop", "matting", "shape", "export"}
    assert all(v > 0 for v in manifest["memory_peaks"].values())
    run = Path(result["data"]["run_dir"])
    for name in ("input.png", "detections.json", "crops/house.png", "mattes/chimney.png", "barrel.glb"):
        assert (run / name).is_file(), name


def test_second_job_reloads_nothing(backend: BackendProcess) -> None:
    result = _generate(backend, "job-2", ["house", "door"])
    assert result["type"] == "result", result
    counters = _manifest(result)["model_counters"]
    assert all(c["loads_from_disk"] == 0 for c in counters.values()), counters
    status = backend.request({"type": "status", "id": "s-2"})
    assert status["data"]["state"] == "idle"
    models = status["data"]["models"]["models"]
    untextured = {role: m for role, m in models.items()
                  if role not in ("delight", "paint", "materials", "editor", "shape_views")}
    assert {m["tier"] for m in untextured.values()} == {"device"}
    assert all(m["loads_from_disk"] == 1 for m in untextured.values())
    assert models["paint"]["tier"] == "dropped"  # never needed: no texture was asked for
    # Untextured jobs: the material model, like the paint models, is never loaded.
    assert models["materials"]["tier"] == "dropped" and models["materials"]["loads_from_disk"] == 0
    # The image editor is registered with every job's manager, and no job loads it yet.
    assert models["editor"]["tier"] == "dropped" and models["editor"]["loads_from_disk"] == 0
    # Nor the model of names with views (Hunyuan3D-2mv): these jobs give no views.
    assert models["shape_views"]["tier"] == "dropped" and models["shape_views"]["loads_from_disk"] == 0
    assert "parts" not in models  # a Generate's set has no parts model (a parts job's has)


def test_textured_jobs_load_the_paint_models_once(backend: BackendProcess) -> None:
    from testdata import FAST_PAINT

    first = _generate(backend, "paint-1", ["chimney", "barrel"], **FAST_PAINT)
    assert first["type"] == "result", first
    for record in first["data"]["targets"]:
        mesh = trimesh.load(Path(first["data"]["run_dir"]) / record["mesh"], force="mesh")
        assert mesh.visual.material.baseColorTexture.size == (256, 256) and record["textured"]
    counters = _manifest(first)["model_counters"]
    assert counters["delight"]["loads_from_disk"] == 1 and counters["paint"]["loads_from_disk"] == 1
    assert counters["materials"]["loads_from_disk"] == 1  # once for both targets' material maps
    second = _generate(backend, "paint-2", ["door"], **FAST_PAINT)
    assert all(c["loads_from_disk"] == 0 for c in _manifest(second)["model_counters"].values())


def test_a_name_not_found_fails_alone(backend: BackendProcess) -> None:
    first_event = len(backend.seen)
    result = _generate(backend, "job-3", ["dragon", "chimney"])
    assert result["type"] == "result"
    errors = [e for e in backend.seen[first_event:] if e["type"] == "error" and e.get("target")]
    assert [(e["target"], e["code"]) for e in errors] == [("dragon", "target_not_found")]
    records = {r["target"]: r for r in result["data"]["targets"]}
    assert records["chimney"]["status"] == "done" and records["dragon"]["status"] == "failed"


def test_only_unknown_names_is_a_job_error(backend: BackendProcess) -> None:
    result = _generate(backend, "job-4", ["dragon"])
    assert result["type"] == "error" and result["code"] == "target_not_found"
    assert backend.request({"type": "status", "id": "s-4"})["data"]["state"] == "idle"


def test_names_with_separators_stay_inside_the_run_folder(backend: BackendProcess, runs_dir: Path) -> None:
    before = set(runs_dir.parent.iterdir())
    # Path separators of both kinds in names whose only word is what the grounding model labels
    # (a name is matched by all of its words: "a/b\\chimney" would also need an "a" and a "b").
    result = _generate(backend, "job-5", ["../../house", "..\\/chimney/.."])
    assert result["type"] == "result", result
    run = Path(result["data"]["run_dir"]).resolve()
    for record in result["data"]["targets"]:
        assert record["status"] == "done"
        mesh = (run / record["mesh"]).resolve()
        assert mesh.parent == run and mesh.is_file()
        assert "/" not in record["stem"] and "\\" not in record["stem"] and not record["stem"].startswith(".")
    assert set(runs_dir.parent.iterdir()) == before


def test_whole_image_when_no_names(backend: BackendProcess, tmp_path: Path) -> None:
    grey = tmp_path / "grey scale.png"
    Image.open(HOUSE).convert("L").save(grey)
    result = _generate(backend, "job-6", [], image=grey)
    assert result["type"] == "result", result
    [record] = result["data"]["targets"]
    assert record["target"] == "grey scale" and record["status"] == "done"


def test_cancel_during_shape_then_ready_again(backend: BackendProcess) -> None:
    backend.send({"type": "generate", "id": "job-7", "image": str(HOUSE), "targets": ["house"],
                  "options": {**FAST_OPTIONS, **SLOW_SHAPE}})
    backend.next(lambda e: e["type"] == "progress" and e["job"] == "job-7" and e["stage"] == "shape"
                 and e["step"] >= 2, timeout=120)
    # (1.29) The add-on's estimate of a Generate of the same fields, asked beside the job: the job's own estimate line.
    estimate = backend.request({"type": "estimate", "id": "e-7", "image": "/not/read.png", "targets": ["house"],
                                "options": {**FAST_OPTIONS, **SLOW_SHAPE}})
    [line] = [e["message"] for e in backend.seen if e["type"] == "progress" and e["job"] == "job-7"
              and e["stage"] == ESTIMATE_STAGE]
    assert estimate["type"] == "result" and JobEstimate.from_dict(estimate["data"]).sentence() == line, estimate
    sent = time.monotonic()
    cancel = backend.request({"type": "cancel", "id": "c-7", "job": "job-7"})
    assert cancel["data"]["cancelled"] == "job-7"
    reply = backend.reply("job-7", timeout=30)
    assert reply["type"] == "error" and reply["code"] == "cancelled"
    assert time.monotonic() - sent < 10
    run = next(e for e in reversed(backend.seen) if e["type"] == "artifact" and e["kind"] == "run")
    manifest = json.loads((Path(run["path"]) / "manifest.json").read_text())
    assert manifest["status"] == "cancelled"
    assert manifest["timings"]["grounding"] > 0  # what it finished is kept
    result = _generate(backend, "job-8", ["chimney"])
    assert result["type"] == "result"


def test_second_job_while_busy_is_refused(backend: BackendProcess) -> None:
    backend.send({"type": "generate", "id": "job-9", "image": str(HOUSE), "targets": ["house"],
                  "options": {**FAST_OPTIONS, **SLOW_SHAPE}})
    busy = backend.request({"type": "generate", "id": "job-10", "image": str(HOUSE), "targets": ["door"]})
    assert busy["type"] == "error" and busy["code"] == "busy"
    assert backend.request({"type": "status", "id": "s-9"})["data"]["job"] == "job-9"
    backend.request({"type": "cancel", "id": "c-9"})
    assert backend.reply("job-9", timeout=60)["code"] == "cancelled"


def _bad_image(tmp: Path, kind: str) -> Path:
    path = tmp / f"{kind}.png"
    if kind == "missing":
        return tmp / "does-not-exist.png"
    if kind == "not_an_image":
        path.write_text("this is text, not a picture")
    elif kind == "empty_file":
        path.write_bytes(b"")
    elif kind == "one_pixel":
        Image.new("RGB", (1, 1)).save(path)
    elif kind == "truncated":
        data = HOUSE.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    return path


@pytest.mark.parametrize("kind", ["missing", "not_an_image", "empty_file", "one_pixel", "truncated"])
def test_unusable_images_are_image_unreadable(backend: BackendProcess, tmp_path: Path, kind: str) -> None:
    reply = _generate(backend, f"bad-{kind}", ["house"], image=_bad_image(tmp_path, kind))
    assert reply["type"] == "error" and reply["code"] == "image_unreadable", reply
    assert reply["message"]


@pytest.mark.parametrize("targets, needle", [
    ([""], "empty"), (["   "], "empty"), (["house", "House"], "twice"), (["x" * 5000], "characters"),
    ([42], "not text"), ("house", "list"),
])
def test_bad_names_are_bad_requests(backend: BackendProcess, targets, needle: str) -> None:
    reply = backend.request({"type": "generate", "id": "names", "image": str(HOUSE), "targets": targets})
    assert reply["type"] == "error" and reply["code"] == "bad_request" and needle in reply["message"]


@pytest.mark.parametrize("line, code", [
    (b"{not json\n", "bad_request"),
    (b"[1, 2, 3]\n", "bad_request"),
    (b'{"v": 1, "type": "explode", "id": "u"}\n', "bad_request"),
    (b'{"v": 99, "type": "status", "id": "old"}\n', "version_mismatch"),
    (b'{"v": 1, "type": "generate", "id": "o", "image": "x.png", "options": {"steps": "many"}}\n', "bad_request"),
    (b'{"v": 1, "type": "generate", "id": "o", "image": "x.png", "options": {"warp": 9}}\n', "bad_request"),
    (b"\xff\xfe\x00garbage\n", "bad_request"),
    # A whole number too long for a float killed the process (OverflowError on the reader thread), in an
    # option, a box or a bone; a lone surrogate in an id silenced every later line (it could not be written).
    (b'{"v": 1, "type": "detect", "id": "n", "image": "x.png", "options": {"guidance_scale": 1' + b"0" * 400 + b"}}\n",
     "bad_request"),
    (b'{"v": 1, "type": "generate", "id": "b", "image": "x.png", "targets": ["a"], "boxes": {"a": [0, 0, 1, 9'
     + b"9" * 400 + b"]}}\n", "bad_request"),
    (b'{"v": 1, "type": "status", "id": "\\ud800"}\n', "bad_request"),
])
def test_malformed_lines_get_errors_and_the_server_goes_on(backend: BackendProcess, line: bytes, code: str) -> None:
    backend.send(line)
    error = backend.next(lambda e: e["type"] == "error", timeout=30)
    assert error["code"] == code
    assert backend.request({"type": "status", "id": "after"})["data"]["state"] == "idle"


def test_a_request_over_one_mib_is_refused(backend: BackendProcess) -> None:
    huge = json.dumps({"v": 1, "type": "generate", "id": "huge", "image": "a" * (1 << 20),
                       "targets": ["house"]}).encode() + b"\n"
    backend.send(huge)
    error = backend.next(lambda e: e["type"] == "error", timeout=30)
    assert error["code"] == "bad_request" and "longer than" in error["message"]
    assert backend.request({"type": "status", "id": "after-huge"})["data"]["state"] == "idle"


def test_stdout_carried_only_protocol_lines(backend: BackendProcess) -> None:
    backend.request({"type": "status", "id": "last"})
    assert backend.garbage == []


def test_stdin_closed_mid_job_ends_the_process_quickly(backend_env: dict[str, str], tmp_path: Path) -> None:
    proc = BackendProcess(backend_env, tmp_path)
    try:
        proc.next(lambda e: e["type"] == "hello", timeout=120)
        proc.send({"type": "generate", "id": "long", "image": str(HOUSE), "targets": ["house"],
                   "options": {**FAST_OPTIONS, **SLOW_SHAPE}})
        proc.next(lambda e: e["type"] == "progress" and e["stage"] == "shape" and e["step"] >= 1, timeout=120)
        closed = time.monotonic()
        proc.proc.stdin.close()
        proc.proc.wait(timeout=10)
        assert time.monotonic() - closed < 2.0
        manifest = json.loads(next(tmp_path.glob("*/manifest.json")).read_text())
        assert manifest["status"] == "cancelled"
    finally:
        proc.close()


def test_shutdown_request_exits_cleanly(backend_env: dict[str, str], tmp_path: Path) -> None:
    proc = BackendProcess(backend_env, tmp_path)
    try:
        proc.next(lambda e: e["type"] == "hello", timeout=120)
        reply = proc.request({"type": "shutdown", "id": "bye"})
        assert reply["data"]["shutdown"] is True
        assert proc.proc.wait(timeout=5) == 0
    finally:
        proc.close()


def test_sigusr1_writes_every_threads_stack_to_stderr_and_the_backend_carries_on(backend: BackendProcess) -> None:
    """What a backend that does not answer or end is doing, for a person or a test to read."""
    before = len(backend.stderr_lines)
    backend.proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 30
    while not any("most recent call first" in line for line in backend.stderr_lines[before:]):
        assert time.monotonic() < deadline, f"no stacks on stderr: {''.join(backend.stderr_lines[before:])[-2000:]}"
        time.sleep(0.1)
    assert backend.request({"type": "status", "id": "after-usr1"}, timeout=30)["type"] == "result"
