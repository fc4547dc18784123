"""Faults under a job in real Blender: changed image, scene or disk, settings past the backend's limits, import_run."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")

from blender_support import JOB_TIMEOUT, configure_preferences, run_to_end  # noqa: E402
from fault_support import HOUSE, SUBJECT, SLOW, _fake_python, _prefs, _protocol, _runner, _runs_dir  # noqa: E402
from testdata import MESH  # noqa: E402


@pytest.fixture
def shared_backend(addon):
    """The normal preferences and a backend that may be one an earlier test left running: for
    tests whose fault is in the scene, so that a backend start is not paid for each of them."""
    configure_preferences()
    if addon.runtime.has_session() and addon.runtime.session().state.value == "error":
        addon.runtime.shutdown()
    yield


def _one_message_at_a_time(runner, after_first_object) -> None:
    """Hand the runner one event at a time, so the scene can change between two objects."""
    changed = False
    deadline = time.monotonic() + JOB_TIMEOUT
    while not runner.finished:
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
    shutil.copy(SUBJECT, picture)                       # the artist overwrites the file meanwhile
    outcome = run_to_end(runner)
    assert outcome.ok
    manifest = json.loads((Path(outcome.run_dir) / "manifest.json").read_text())
    assert manifest["image"]["sha256"] == hashlib.sha256(SUBJECT.read_bytes()).hexdigest()
    assert manifest["image"]["original_size"] == [500, 500]
    for name in outcome.objects:
        bpy.data.objects.remove(bpy.data.objects[name])


@pytest.mark.fault("blender")
def test_an_image_deleted_after_generate_is_reported(addon, scene, fresh_backend, tmp_path) -> None:
    picture = tmp_path / "picture.png"
    shutil.copy(HOUSE, picture)
    runner = _runner(addon, scene, ["house"], image=picture)
    picture.unlink()
    outcome = run_to_end(runner)
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
    outcome = run_to_end(runner)
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
        run_to_end(runner)
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
    shutil.copy(MESH, run / "house.glb")
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


def test_import_run_clears_a_transfer_killed_before_the_manifest_came(addon, scene, tmp_path) -> None:
    # Blender killed mid-transfer (issue 46, item 6): a folder of the Runs Folder with no manifest,
    # holding hidden temporary files nothing else would ever remove.
    old = time.time() - 3600
    run = _runs_dir() / "20240101-000000-killed"
    stale = [run / ".tmp-k2j3.glb", run / "views" / "house" / ".tmp-9.png"]
    fresh = run / ".tmp-now.glb"              # changed moments ago: something may be writing it
    elsewhere = tmp_path / "20240101-000000-elsewhere" / ".tmp-keep.glb"   # not in the Runs Folder
    for path in [*stale, fresh, elsewhere]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half a mesh")
    for path in [*stale, elsewhere]:
        os.utime(path, (old, old))
    # The protocol's one manifest reader (img23d_protocol.run_manifest) says it for every reader alike.
    with pytest.raises(RuntimeError, match="is not a run folder img23d can read: its manifest.json is missing"):
        bpy.ops.img23d.import_run(filepath=str(run))
    assert [p.exists() for p in stale] == [False, False] and fresh.exists()
    with pytest.raises(RuntimeError, match="is not a run folder img23d can read: its manifest.json is missing"):
        bpy.ops.img23d.import_run(filepath=str(elsewhere.parent))
    assert elsewhere.exists()
    shutil.rmtree(run)


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
    ("targets", "door, DOOR", r"'DOOR' is asked for twice; ask once \(All Instances in the add-on, --all-instances"),
    ("texture_size", 1000, r"Texture Size 1000 is out of range: it must be a power of two from 64 to 8,192"),
])
def test_hostile_inputs_in_the_panel_get_one_clear_sentence(addon, scene, tmp_path, field, value, message) -> None:
    settings = scene.img23d
    settings.texture = True
    setattr(settings, field, str(tmp_path) if value == "FOLDER" else value)
    with pytest.raises(RuntimeError, match=message):
        bpy.ops.img23d.generate()
    assert addon.runtime.active_runner is None  # refused before any job was sent
