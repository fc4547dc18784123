"""Faults injected around the add-on in real Blender: a backend that dies, hangs, lies or is
missing; a scene that changes under a running job; disks that refuse; and Blender itself
going away. Each ends in a clear report, a consistent scene and run folders that say what
happened."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import stat
import subprocess
import sys
import textwrap
import threading
import time
from importlib import import_module
from pathlib import Path

import psutil
import pytest

bpy = pytest.importorskip("bpy")

from blender_support import (ADDON_MODULE, BACKEND_PYTHON, JOB_TIMEOUT, REPO, configure_preferences,  # noqa: E402
                             reached_stage, tick_until)

HOUSE = REPO.parent / "shared" / "data" / "house_scene.png"
PENGUIN = REPO.parent / "shared" / "data" / "penguin_sign.png"
FAKE_BACKEND = Path(__file__).with_name("fake_backend.py")
SLOW = {"steps": 200, "octree_resolution": 32}


def _protocol():
    return import_module(f"{ADDON_MODULE}.job_runner").protocol


def _prefs():
    return bpy.context.preferences.addons[ADDON_MODULE].preferences


def _runs_dir() -> Path:
    return Path(_prefs().runs_dir)


@pytest.fixture
def shared_backend(addon):
    """The normal preferences and a backend that may be one an earlier test left running: for
    tests whose fault is in the scene, so that a backend start is not paid for each of them."""
    configure_preferences()
    if addon.runtime.has_session() and addon.runtime.session().state.value == "error":
        addon.runtime.shutdown()
    yield


@pytest.fixture
def fresh_backend(addon, monkeypatch):
    """Each fault test starts and ends with no backend running, and the normal preferences."""
    addon.runtime.shutdown()
    yield monkeypatch
    addon.runtime.shutdown()
    monkeypatch.delenv("IMG23D_FAILPOINTS", raising=False)
    configure_preferences()
    _prefs().watchdog_seconds = 600.0


def _fake_python(tmp_path: Path, mode: str) -> Path:
    script = tmp_path / f"fake-python-{mode}"
    script.write_text(f'#!/bin/sh\nexec "{BACKEND_PYTHON}" "{FAKE_BACKEND}" {mode} "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def _runner(addon, scene, targets: list[str], image: Path = HOUSE, **options):
    protocol = _protocol()
    runner_mod = import_module(f"{ADDON_MODULE}.job_runner")
    request = protocol.GenerateRequest(image=str(image), targets=targets,
                                       options=protocol.JobOptions(**{"steps": 3, "octree_resolution": 32, "texture": False,
                                                                      "face_budget": 2000, **options}))
    return runner_mod.JobRunner(addon.runtime.session(), scene, request, Path(image).stem)


def _wait_marked(run_dir: Path, timeout: float = 30.0) -> str:
    """The run's status once it is no longer "running"; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        status = json.loads((run_dir / "manifest.json").read_text())["status"]
        if status != "running":
            return status
        assert time.monotonic() < deadline, f"{run_dir.name} was still 'running' after {timeout:g} s"
        time.sleep(0.1)


# --- the backend process --------------------------------------------------------------------

# The backend is killed in every stage by tests/backend/test_faults.py; what Blender sees is the
# same whichever stage it was, so one stage here shows the artist's side.
@pytest.mark.fault("blender")
@pytest.mark.parametrize("stage", ["shape"])
def test_a_backend_killed_in_a_stage_is_reported_and_the_next_job_works(addon, scene, fresh_backend, stage,
                                                                        nothing_lost) -> None:
    fresh_backend.setenv("IMG23D_FAILPOINTS", f"{stage}:kill")
    with pytest.raises(RuntimeError, match=r"the backend stopped unexpectedly \(exit code -9\)"):
        bpy.ops.img23d.generate()
    session = addon.runtime.session()
    assert session.state.value == "error"
    killed_run = max(_runs_dir().iterdir(), key=lambda p: p.stat().st_mtime)
    fresh_backend.delenv("IMG23D_FAILPOINTS")
    scene.img23d.targets = "door"
    assert bpy.ops.img23d.generate() == {"FINISHED"}
    assert "door" in bpy.data.objects and session.state.value == "ready"
    assert _wait_marked(killed_run) == "interrupted"
    nothing_lost(_runs_dir())


@pytest.mark.fault("blender")
def test_a_broken_backend_environment_names_what_is_missing(addon, scene, fresh_backend) -> None:
    # The machine's own Python has none of the backend's packages: a real broken environment.
    system_python = Path(shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin") or "/usr/bin/python3")
    if not system_python.exists() or subprocess.run([system_python, "-c", "import PIL"],
                                                    capture_output=True).returncode == 0:
        pytest.skip("no Python without the backend's packages on this machine")
    _prefs().python_path = str(system_python)
    with pytest.raises(RuntimeError, match=r"environment is missing .*run 'Install backend' again"):
        bpy.ops.img23d.generate()


@pytest.mark.fault("blender")
def test_a_backend_that_dies_at_start_up_shows_its_last_words(addon, scene, fresh_backend, tmp_path) -> None:
    _prefs().python_path = str(_fake_python(tmp_path, "exit_at_start"))
    with pytest.raises(RuntimeError, match=r"(?s)stopped unexpectedly \(exit code 1\).*No module named 'torch'"):
        bpy.ops.img23d.generate()


@pytest.mark.fault("blender")
def test_a_hung_backend_is_stopped_by_the_watchdog_and_replaced(addon, scene, fresh_backend, nothing_lost) -> None:
    fresh_backend.setenv("IMG23D_FAILPOINTS", "shape:hang")
    _prefs().watchdog_seconds = 3.0
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="made no progress for 3 s and was stopped"):
        bpy.ops.img23d.generate()
    assert time.monotonic() - started < 90
    fresh_backend.delenv("IMG23D_FAILPOINTS")
    _prefs().watchdog_seconds = 600.0  # a new backend loading its models is silent for a while
    scene.img23d.targets = "chimney"
    assert bpy.ops.img23d.generate() == {"FINISHED"}
    nothing_lost(_runs_dir())


@pytest.mark.fault("blender")
def test_garbage_and_partial_lines_on_stdout_are_ignored(addon, scene, fresh_backend, tmp_path) -> None:
    _prefs().python_path = str(_fake_python(tmp_path, "garbage"))
    assert bpy.ops.img23d.generate() == {"FINISHED"}
    assert "house" in bpy.data.objects
    assert any("not json" in line for line in addon.runtime.session().process.garbage)


@pytest.mark.fault("blender")
def test_a_protocol_major_mismatch_says_reinstall(addon, scene, fresh_backend, tmp_path) -> None:
    _prefs().python_path = str(_fake_python(tmp_path, "version"))
    with pytest.raises(RuntimeError, match=r"speaks protocol 99 .* reinstall"):
        bpy.ops.img23d.generate()


@pytest.mark.fault("blender")
def test_out_of_memory_is_reported_and_the_backend_stays(addon, scene, fresh_backend, nothing_lost) -> None:
    fresh_backend.setenv("IMG23D_FAILPOINTS", "shape:oom")
    with pytest.raises(RuntimeError, match="out of memory"):
        bpy.ops.img23d.generate()
    assert addon.runtime.session().state.value == "ready"
    nothing_lost(_runs_dir())


# --- Blender's side -----------------------------------------------------------------------

def _blender_script(zip_path: Path, runs: Path, tiny_root: Path, ending: str) -> str:
    return textwrap.dedent(f"""
        import os, sys, time
        os.environ["BLENDER_USER_RESOURCES"] = {str(runs / "user")!r}
        os.environ["IMG23D_TINY_MODELS"] = {str(tiny_root)!r}
        import bpy
        bpy.ops.extensions.package_install_files(filepath={str(zip_path)!r}, repo="user_default",
                                                 enable_on_install=True)
        addon = sys.modules["{ADDON_MODULE}"]
        prefs = bpy.context.preferences.addons["{ADDON_MODULE}"].preferences
        prefs.python_path, prefs.model_set, prefs.device = {BACKEND_PYTHON!r}, "TINY", "cpu"
        prefs.runs_dir = {str(runs / "runs")!r}
        from importlib import import_module
        protocol = addon.job_runner.protocol
        runner_mod = import_module("{ADDON_MODULE}.job_runner")
        request = protocol.GenerateRequest(image={str(HOUSE)!r}, targets=["house"],
                                           options=protocol.JobOptions(steps=200, octree_resolution=32,
                                                                       texture=False))
        runner = runner_mod.JobRunner(addon.runtime.session(), bpy.context.scene, request, "house")
        session = addon.runtime.session()
        deadline = time.monotonic() + {JOB_TIMEOUT}
        while not (session.progress and session.progress.stage == "shape"):
            if runner.done or time.monotonic() > deadline:
                sys.exit("the job never reached the shape stage: " + runner.outcome.summary())
            runner.tick(); time.sleep(0.05)
        print("BACKEND_PID", session.process.pid, flush=True)
        {ending}
    """)


def _line_starting(proc: subprocess.Popen, prefix: str, timeout: float) -> str:
    """The first stdout line of ``proc`` that starts with ``prefix``; fails after ``timeout`` s."""
    lines: "queue.Queue[str | None]" = queue.Queue()

    def read() -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no line starting {prefix!r} within {timeout:g} s") from None
        assert line is not None, f"the process ended (exit {proc.wait()}) before printing {prefix!r}"
        if line.startswith(prefix):
            return line


@pytest.mark.fault("blender")
@pytest.mark.parametrize("ending", ["os._exit(0)", "sys.exit(0)"], ids=["crash", "quit"])
def test_blender_going_away_mid_job_takes_the_backend_with_it(addon, addon_zip, tiny_root, tmp_path, ending,
                                                              nothing_lost) -> None:
    script = tmp_path / "blender_session.py"
    script.write_text(_blender_script(addon_zip, tmp_path, tiny_root, ending))
    env = {k: v for k, v in os.environ.items() if k != "BLENDER_USER_RESOURCES"}
    blender = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        pid = int(_line_starting(blender, "BACKEND_PID", JOB_TIMEOUT).split()[1])
        assert psutil.pid_exists(pid)
        blender.wait(timeout=60)
    finally:
        if blender.poll() is None:
            blender.kill()
    gone_at = time.monotonic()
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() - gone_at < 2.0, "the backend outlived Blender by 2 s"
        time.sleep(0.05)
    nothing_lost(tmp_path / "runs")


@pytest.mark.fault("blender")
def test_disabling_the_add_on_mid_job_stops_the_backend_cleanly(addon, scene, fresh_backend, nothing_lost) -> None:
    import addon_utils

    runner = _runner(addon, scene, ["house"], **SLOW)
    addon.runtime.active_runner = runner
    session = addon.runtime.session()
    tick_until(runner, reached_stage(session, "shape"), "the shape stage")
    pid = session.process.pid
    addon_utils.disable(ADDON_MODULE, default_set=True)
    try:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        assert not hasattr(bpy.types.Scene, "img23d")
    finally:
        addon_utils.enable(ADDON_MODULE, default_set=True)
        configure_preferences()
    module = sys.modules[ADDON_MODULE]
    assert module.runtime.active_runner is None and not module.runtime.has_session()
    run = Path(runner.outcome.run_dir)
    assert json.loads((run / "manifest.json").read_text())["status"] == "cancelled"
    bpy.context.scene.img23d.image_path = str(HOUSE)
    bpy.context.scene.img23d.targets = "door"
    bpy.context.scene.img23d.steps, bpy.context.scene.img23d.octree_resolution = 3, 32
    assert bpy.ops.img23d.generate() == {"FINISHED"}
    nothing_lost(_runs_dir())


def _one_message_at_a_time(runner, after_first_object) -> None:
    """Hand the runner one event at a time, so the scene can change between two objects."""
    changed = False
    deadline = time.monotonic() + JOB_TIMEOUT
    while not runner.done:
        for message in runner.session.pump(max_messages=1):
            runner._handle(message)
            if runner.outcome.objects and not changed:
                after_first_object()
                changed = True
        assert time.monotonic() < deadline, f"the job did not end within {JOB_TIMEOUT:g} s"
        time.sleep(0.01)


@pytest.mark.fault("blender")
def test_an_image_changed_after_generate_is_recorded_as_used(addon, scene, fresh_backend, tmp_path) -> None:
    picture = tmp_path / "picture.png"
    shutil.copy(HOUSE, picture)
    runner = _runner(addon, scene, [], image=picture)  # queued until the backend says hello
    shutil.copy(PENGUIN, picture)                       # the artist overwrites the file meanwhile
    outcome = runner.run_to_end(timeout=JOB_TIMEOUT)
    assert outcome.ok
    manifest = json.loads((Path(outcome.run_dir) / "manifest.json").read_text())
    assert manifest["image"]["sha256"] == hashlib.sha256(PENGUIN.read_bytes()).hexdigest()
    assert manifest["image"]["original_size"] == [500, 500]
    for name in outcome.objects:
        bpy.data.objects.remove(bpy.data.objects[name])


@pytest.mark.fault("blender")
def test_an_image_deleted_after_generate_is_reported(addon, scene, fresh_backend, tmp_path) -> None:
    picture = tmp_path / "picture.png"
    shutil.copy(HOUSE, picture)
    runner = _runner(addon, scene, ["house"], image=picture)
    picture.unlink()
    outcome = runner.run_to_end(timeout=JOB_TIMEOUT)
    assert outcome.error_code == "image_unreadable" and "no file at" in outcome.error


# --- disks and files ------------------------------------------------------------------------

@pytest.mark.fault("blender")
def test_a_full_disk_is_reported(addon, scene, fresh_backend, nothing_lost) -> None:
    fresh_backend.setenv("IMG23D_FAILPOINTS", "write.glb:enospc")
    with pytest.raises(RuntimeError, match="the disk is full"):
        bpy.ops.img23d.generate()
    nothing_lost(_runs_dir())


@pytest.mark.fault("blender")
def test_an_unwritable_runs_folder_is_reported(addon, scene, fresh_backend, tmp_path) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("in the way")
    _prefs().runs_dir = str(blocker / "runs")
    with pytest.raises(RuntimeError, match="runs folder .* cannot be created"):
        bpy.ops.img23d.generate()


@pytest.mark.fault("blender")
def test_a_truncated_glb_fails_that_target_and_the_others_arrive(addon, scene, fresh_backend, tmp_path) -> None:
    _prefs().python_path = str(_fake_python(tmp_path, "truncated_glb"))
    objects, meshes = set(bpy.data.objects), set(bpy.data.meshes)
    runner = _runner(addon, scene, ["house", "chimney"])
    outcome = runner.run_to_end(timeout=JOB_TIMEOUT)
    assert outcome.objects == ["house"]
    assert len(outcome.failed_targets) == 1 and outcome.failed_targets[0].startswith("chimney: ")
    assert set(bpy.data.objects) - objects == {bpy.data.objects["house"]}  # nothing half-imported
    assert len(set(bpy.data.meshes) - meshes) == 1

# --- one backend kept across tests: what these break is the scene, not the backend ------------

@pytest.mark.fault("blender")
def test_the_run_collection_deleted_mid_job_is_made_again(addon, scene, shared_backend) -> None:
    runner = _runner(addon, scene, ["house", "chimney", "barrel"])
    _one_message_at_a_time(runner, lambda: bpy.data.collections.remove(runner.collection))
    assert runner.outcome.ok and len(runner.outcome.objects) == 3
    survivors = [bpy.data.objects[name] for name in runner.outcome.objects[1:]]
    assert all(obj.users_collection and obj.users_collection[0].name in scene.collection.children
               for obj in survivors)


@pytest.mark.fault("blender")
def test_undo_mid_job_does_not_break_the_job(addon, scene, shared_backend) -> None:
    runner = _runner(addon, scene, ["house", "chimney", "barrel"])

    def undo() -> None:
        # In background mode Blender keeps no undo stack; removing what the run made is what
        # an undo of it does to the data, and leaves the runner holding dead references.
        if bpy.ops.ed.undo.poll():
            bpy.ops.ed.undo()
        else:
            bpy.data.objects.remove(bpy.data.objects[runner.outcome.objects[0]])
            bpy.data.collections.remove(runner.collection)

    _one_message_at_a_time(runner, undo)
    assert runner.outcome.ok and len(runner.outcome.objects) == 3
    assert all(name in bpy.data.objects for name in runner.outcome.objects[1:])


@pytest.mark.fault("blender")
def test_a_scene_deleted_mid_job_is_reported_and_its_files_kept(addon, shared_backend) -> None:
    doomed = bpy.data.scenes.new("doomed")
    runner = _runner(addon, doomed, ["house", "chimney", "barrel"])
    _one_message_at_a_time(runner, lambda: bpy.data.scenes.remove(doomed))
    assert runner.outcome.finished and len(runner.outcome.objects) == 1
    assert len(runner.outcome.failed_targets) == 2 and all("scene is gone" in f for f in runner.outcome.failed_targets)
    run = Path(runner.outcome.run_dir)
    assert {p.name for p in run.glob("*.glb")} == {"house.glb", "chimney.glb", "barrel.glb"}
    for obj in list(runner.collection.objects):  # the meshes and the run's camera
        bpy.data.objects.remove(obj)
    bpy.data.collections.remove(runner.collection)  # it belonged to the deleted scene


@pytest.mark.fault("blender")
def test_a_second_generate_while_one_runs_is_refused(addon, scene, shared_backend) -> None:
    runner = _runner(addon, scene, ["house"], **SLOW)
    addon.runtime.active_runner = runner
    try:
        with pytest.raises(RuntimeError, match="A job is already running"):
            bpy.ops.img23d.generate()
        protocol = _protocol()
        with pytest.raises(protocol.ProtocolError, match="already running"):
            addon.runtime.session().submit(protocol.GenerateRequest(image=str(HOUSE), targets=["door"]))
    finally:
        runner.cancel()
        runner.run_to_end(timeout=JOB_TIMEOUT)
        addon.runtime.active_runner = None


@pytest.mark.fault("blender")
def test_paths_with_spaces_and_non_ascii_work(addon, scene, shared_backend, tmp_path) -> None:
    folder = tmp_path / "ünï cødé folder"
    folder.mkdir()
    picture = folder / "house scene ü.png"
    shutil.copy(HOUSE, picture)
    scene.img23d.image_path = str(picture)
    scene.img23d.targets = "chimney"
    assert bpy.ops.img23d.generate() == {"FINISHED"}
    assert [o.name for o in bpy.data.collections["house scene ü"].objects if o.type == "MESH"] == ["chimney"]


def test_import_run_brings_a_finished_run_back(addon, scene, shared_backend) -> None:
    assert bpy.ops.img23d.generate() == {"FINISHED"}
    [collection] = bpy.data.objects["house"].users_collection
    made = {o.name: o.matrix_world.copy() for o in collection.objects}
    assert set(made) == {"house", "chimney", "barrel", "house_scene camera"}  # and the run's camera
    run = Path(bpy.data.objects["house"]["img23d_run"])
    for name in made:
        bpy.data.objects.remove(bpy.data.objects[name])
    bpy.data.collections.remove(collection)
    assert bpy.ops.img23d.import_run(filepath=str(run)) == {"FINISHED"}
    [collection] = bpy.data.objects["house"].users_collection
    back = {o.name: o.matrix_world for o in collection.objects}
    assert set(back) == set(made)
    for name, matrix in made.items():
        assert all(abs(a - b) < 1e-5 for row_a, row_b in zip(matrix, back[name]) for a, b in zip(row_a, row_b))
    with pytest.raises(RuntimeError, match="not an img23d run manifest"):
        bpy.ops.img23d.import_run(filepath=str(run / "input.png"))


@pytest.mark.parametrize("status, cleared", [("cancelled", True), ("running", False)])
def test_import_run_clears_what_killed_writes_left_unless_a_job_is_writing(addon, scene, tmp_path, status,
                                                                          cleared) -> None:
    run = tmp_path / "20240101-000000-house_scene"
    (run / "views" / "house").mkdir(parents=True)
    shutil.copy(REPO.parent / "shared" / "data" / "hunyuan3d_shape_output.glb", run / "house.glb")
    strays = [run / ".tmp-k2j3.glb", run / ".img23d-reserve", run / "views" / "house" / ".tmp-9.png"]
    for path in strays:
        path.write_bytes(b"")
    record = {"target": "house", "instance": 1, "status": "done", "mesh": "house.glb", "box": [0, 0, 512, 512],
              "seed": 0}
    (run / "manifest.json").write_text(json.dumps({
        "status": status, "records": [record], "models": {},
        "image": {"source": str(HOUSE), "original_size": [1024, 1024]}}))
    assert bpy.ops.img23d.import_run(filepath=str(run)) == {"FINISHED"}
    assert "house" in bpy.data.objects
    assert [p.exists() for p in strays] == [not cleared] * 3
    assert (run / "house.glb").is_file() and (run / "manifest.json").is_file()


# --- the add-on's limits follow the backend's memory; hostile inputs get one clear sentence ---------

@pytest.mark.fault("blender")
def test_settings_above_the_backends_memory_are_refused_before_sending(addon, scene, fresh_backend,
                                                                       tmp_path) -> None:
    _prefs().python_path = str(_fake_python(tmp_path, "small_memory"))
    session = addon.runtime.session()
    session.start()
    session.wait_ready(timeout=60)
    assert session.hello.limits == {"octree_resolution": 128, "texture_size": 1024}
    settings = scene.img23d
    settings.octree_resolution = 256
    with pytest.raises(RuntimeError, match=r"Octree Resolution 256 is more than the backend's cpu \(8 GB\) can "
                                           r"hold \(at most 128\): lower it"):
        bpy.ops.img23d.generate()
    settings.octree_resolution, settings.quality = 0, "STANDARD"   # the preset's 256
    with pytest.raises(RuntimeError, match=r"Quality Standard uses Octree Resolution 256, .*\(at most 128\): "
                                           r"choose a lower Quality or set Octree Resolution"):
        bpy.ops.img23d.generate()
    settings.octree_resolution, settings.texture, settings.texture_size = 128, True, 2048
    with pytest.raises(RuntimeError, match=r"Texture Size 2048 .*\(at most 1024\)"):
        bpy.ops.img23d.generate()
    assert not (_runs_dir() / "_fake" / "jobs.jsonl").exists(), "a refused job reached the backend"
    settings.texture = False  # within every limit now: the job goes (and this fake refuses it itself)
    with pytest.raises(RuntimeError, match="the fake refuses jobs"):
        bpy.ops.img23d.generate()
    assert len((_runs_dir() / "_fake" / "jobs.jsonl").read_text().splitlines()) == 1


@pytest.mark.parametrize("field, value, message", [
    ("image_path", "FOLDER", r"is a folder, not an image file"),
    ("targets", " , ,, ", r"Names holds only commas and spaces, no name"),
    ("targets", "door, DOOR", r"'DOOR' is asked for twice"),
    ("texture_size", 1000, r"Texture Size 1000 is out of range: it must be a power of two from 64 to 8,192"),
])
def test_hostile_inputs_in_the_panel_get_one_clear_sentence(addon, scene, tmp_path, field, value, message) -> None:
    settings = scene.img23d
    settings.texture = True
    setattr(settings, field, str(tmp_path) if value == "FOLDER" else value)
    with pytest.raises(RuntimeError, match=message):
        bpy.ops.img23d.generate()
    assert addon.runtime.active_runner is None  # refused before any job was sent
