"""The add-on in real Blender: install, register cycles, the panel, and whole jobs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")

from blender_support import (ADDON_MODULE, BACKEND_PYTHON, JOB_TIMEOUT, REPO, configure_preferences,  # noqa: E402
                             reached_stage, run_to_end, tick_until)
from blender_support import draw_main_panel as _draw_panel, labels as _labels, pbr_images  # noqa: E402
from testdata import HOUSE  # noqa: E402



def _our_classes() -> set[str]:
    return {name for name in dir(bpy.types) if name.startswith(("IMG23D_", "Img23d"))}


@pytest.mark.smoke  # also run on Blender 4.2 LTS (scripts/test.sh)
def test_installs_from_the_zip_and_enables(addon) -> None:
    assert ADDON_MODULE in bpy.context.preferences.addons
    assert hasattr(bpy.types.Scene, "img23d")
    for op in ("generate", "detect", "cancel", "backend_start", "backend_stop"):
        assert hasattr(bpy.ops.img23d, op)
    assert {"IMG23D_PT_main", "IMG23D_OT_generate", "IMG23D_OT_detect"} <= _our_classes()
    assert bpy.context.preferences.addons[ADDON_MODULE].preferences is not None


@pytest.mark.smoke  # also run on Blender 4.2 LTS (scripts/test.sh)
def test_register_unregister_register_leaves_nothing_stale(addon) -> None:
    import addon_utils

    classes = _our_classes()
    addon_utils.disable(ADDON_MODULE, default_set=True)
    assert not hasattr(bpy.types.Scene, "img23d")
    assert _our_classes() == set()
    addon_utils.enable(ADDON_MODULE, default_set=True)
    assert _our_classes() == classes
    assert hasattr(bpy.types.Scene, "img23d")
    assert bpy.context.preferences.addons[ADDON_MODULE].preferences.model_set == "DEFAULT"  # fresh
    configure_preferences()


def _operators(log: list[tuple]) -> list[str]:
    return [args[0] for name, args, kwargs in log if name == "operator"]


@pytest.mark.parametrize("state", ["stopped", "starting", "ready", "busy", "error"])
@pytest.mark.smoke  # also run on Blender 4.2 LTS (scripts/test.sh)
def test_panel_draws_in_every_backend_state(addon, scene, state: str) -> None:
    from importlib import import_module

    session_mod = import_module("img23d_client.session")
    protocol = import_module(f"{ADDON_MODULE}.job_runner").protocol
    session = addon.runtime.session()
    session.state = session_mod.State(state)
    session.error = "the backend stopped unexpectedly (exit code -9)" if state == "error" else ""
    session.progress = protocol.Progress(job="j", stage="shape", step=3, total=6, message="denoising")
    try:
        log = _draw_panel(addon)
    finally:
        session.state, session.error, session.progress = session_mod.State.STOPPED, "", None
    assert f"Backend: {state}" in _labels(log)
    assert any(name == "template_icon" for name, _, _ in log)  # the chosen file's thumbnail
    ops = _operators(log)
    assert "img23d.generate" in ops and "img23d.detect" in ops
    assert ("img23d.backend_start" in ops) == (state in ("stopped", "error"))
    assert ("img23d.backend_stop" in ops) == (state in ("starting", "ready", "busy"))
    bars = [kwargs for name, args, kwargs in log if name == "progress"]
    if state == "busy":
        assert bars and bars[0]["factor"] == pytest.approx(0.5) and "shape 50%" in bars[0]["text"]
    else:
        assert not bars
    if state == "error":
        assert any("exit code -9" in text for text in _labels(log))


def _run_generate(scene) -> set[str]:
    return bpy.ops.img23d.generate()


@pytest.mark.smoke  # also run on Blender 4.2 LTS (scripts/test.sh)
def test_generate_three_names_into_one_collection_in_picture_order(addon, scene) -> None:
    settings = scene.img23d
    settings.texture = True
    settings.texture_size, settings.paint_steps, settings.delight_steps = 256, 2, 2
    assert _run_generate(scene) == {"FINISHED"}
    collection = bpy.data.collections["house_scene"]
    objects = [o for o in collection.objects if o.type == "MESH"]
    assert sorted(o.name for o in objects) == ["barrel", "chimney", "house"]
    assert all(o.type == "MESH" and len(o.data.polygons) > 0 for o in objects)
    assert [o.name for o in bpy.data.objects if o.get("img23d_target") and o not in objects] == []
    for obj in objects:
        assert obj["img23d_target"] == obj.name
        [material] = obj.data.materials
        # The paint model's colour and the material model's metallic-roughness map, at the texture size.
        assert [tuple(image.size) for image in pbr_images(material)] == [(256, 256), (256, 256)]
        assert obj.data.uv_layers
        assert len(obj["img23d_box"]) == 4
        assert Path(obj["img23d_run"]).is_dir()
        assert set(json.loads(obj["img23d_models"])) == {"grounding", "matting", "shape"}
    # Seen through the run's camera, left to right as in the picture.
    [camera] = [o for o in collection.all_objects if o.type == "CAMERA"]
    by_box = sorted(objects, key=lambda o: (o["img23d_box"][0] + o["img23d_box"][2]) / 2)
    by_view = sorted(objects, key=lambda o: _centre_in_view(camera, o))
    assert [o.name for o in by_box] == [o.name for o in by_view]


def _centre_in_view(camera, obj) -> float:
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    xs = [world_to_camera_view(bpy.context.scene, camera, obj.matrix_world @ Vector(c)).x for c in obj.bound_box]
    return (min(xs) + max(xs)) / 2


def test_a_backend_killed_mid_job_is_reported_and_the_next_job_works(addon, scene) -> None:
    from importlib import import_module

    protocol = import_module(f"{ADDON_MODULE}.job_runner").protocol
    runner_mod = import_module(f"{ADDON_MODULE}.job_runner")
    session = addon.runtime.session()
    request = protocol.GenerateRequest(image=str(HOUSE), targets=["house"],
                                       options=protocol.JobOptions(steps=200, octree_resolution=32, texture=False))
    runner = runner_mod.JobRunner(session, scene, request, "house_scene")
    tick_until(runner, reached_stage(session, "shape"), "the shape stage")
    session.process.kill()
    outcome = run_to_end(runner)
    assert outcome.error_code == "backend_unavailable" and "was killed by SIGKILL" in outcome.error
    assert session.state.value == "error"
    scene.img23d.targets = "chimney"
    assert _run_generate(scene) == {"FINISHED"}
    assert "chimney" in bpy.data.objects


@pytest.mark.smoke  # also run on Blender 4.2 LTS (scripts/test.sh)
def test_cancel_leaves_the_scene_as_it_was(addon, scene) -> None:
    from importlib import import_module

    protocol = import_module(f"{ADDON_MODULE}.job_runner").protocol
    runner_mod = import_module(f"{ADDON_MODULE}.job_runner")
    objects, meshes, collections = set(bpy.data.objects), set(bpy.data.meshes), set(bpy.data.collections)
    session = addon.runtime.session()
    request = protocol.GenerateRequest(image=str(HOUSE), targets=["house", "door"],
                                       options=protocol.JobOptions(steps=200, octree_resolution=32, texture=False))
    runner = runner_mod.JobRunner(session, scene, request, "house_scene")
    tick_until(runner, reached_stage(session, "shape"), "the shape stage")
    assert bpy.ops.img23d.cancel() == {"CANCELLED"}  # the operator only knows runtime.active_runner
    addon.runtime.active_runner = runner
    assert bpy.ops.img23d.cancel() == {"FINISHED"}
    outcome = run_to_end(runner)
    addon.runtime.active_runner = None
    assert outcome.cancelled and outcome.objects == []
    assert set(bpy.data.objects) == objects and set(bpy.data.meshes) == meshes
    assert set(bpy.data.collections) == collections
    assert session.state.value == "ready"
    manifest = json.loads((Path(outcome.run_dir) / "manifest.json").read_text())
    assert manifest["status"] == "cancelled"


# A script calling an operator that reports an error gets a RuntimeError carrying the report.

def test_an_unreadable_image_is_reported(addon, scene, tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_text("not a picture")
    scene.img23d.image_path = str(broken)
    with pytest.raises(RuntimeError, match="broken.png is not an image file"):
        _run_generate(scene)
    assert "house_scene" not in bpy.data.collections and "broken" not in bpy.data.collections


def test_a_missing_image_file_is_reported(addon, scene) -> None:
    scene.img23d.image_path = "/nowhere/picture.png"
    with pytest.raises(RuntimeError, match="Image file not found: /nowhere/picture.png"):
        _run_generate(scene)


def test_no_image_selected_is_reported(addon, scene) -> None:
    scene.img23d.image_source = "DATABLOCK"
    scene.img23d.image = None
    with pytest.raises(RuntimeError, match="No image selected"):
        _run_generate(scene)


def test_an_image_of_the_file_is_sent_as_blender_shows_it(addon, scene, tmp_path) -> None:
    """Painted in Blender and not saved, the file on disk was sent; its file gone (the pixels still held), the
    job named an internal copy with "no image data". The pixels Blender shows are sent in both cases."""
    import shutil

    picture = tmp_path / "painted.png"
    shutil.copy(HOUSE, picture)
    image = bpy.data.images.load(str(picture))
    scene.img23d.image_source, scene.img23d.image = "DATABLOCK", image
    inputs = addon.operators._inputs
    try:
        assert inputs.image_file(bpy.context)[0] == picture  # as it is on disk: the file itself
        width, height = image.size
        pixels = list(image.pixels)
        pixels[:4] = (0.0, 1.0, 0.0, 1.0)   # the bottom-left pixel painted green
        image.pixels[:] = pixels
        assert image.is_dirty
        sent, _ = inputs.image_file(bpy.context)
        assert sent != picture
        shown = bpy.data.images.load(str(sent))
        try:
            assert tuple(shown.size) == (width, height)
            assert [round(v, 2) for v in shown.pixels[:4]] == [0.0, 1.0, 0.0, 1.0]
        finally:
            bpy.data.images.remove(shown)
        picture.unlink()   # the file gone, the pixels still held
        assert inputs.image_file(bpy.context)[0].is_file()
    finally:
        scene.img23d.image_source, scene.img23d.image = "FILE", None
        bpy.data.images.remove(image)


def test_a_missing_backend_interpreter_is_reported(addon, scene) -> None:
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    prefs.python_path = "/nowhere/bin/python"
    try:
        with pytest.raises(RuntimeError, match="no backend Python at /nowhere/bin/python"):
            _run_generate(scene)
    finally:
        prefs.python_path = BACKEND_PYTHON


def test_detect_loads_the_boxes_image(addon, scene) -> None:
    before = set(bpy.data.images)
    assert bpy.ops.img23d.detect() == {"FINISHED"}
    [overlay] = set(bpy.data.images) - before
    assert overlay.name.startswith("img23d detections") and tuple(overlay.size) == (1024, 1024)
    bpy.data.images.remove(overlay)


@pytest.mark.smoke  # also run on Blender 4.2 LTS (scripts/test.sh)
def test_blender_installed_the_protocol_wheel_and_the_backend_speaks_the_same(addon, scene) -> None:
    import importlib
    import os

    protocol = importlib.import_module(f"{ADDON_MODULE}.job_runner").protocol
    wheel = next((REPO / "wheels").glob("img23d_protocol-*.whl"))
    # Blender unpacked the wheel the manifest lists into the extensions' own site-packages.
    user = Path(os.environ["BLENDER_USER_RESOURCES"])
    installed = list(user.glob(f"extensions/.local/lib/python*/site-packages/"
                               f"img23d_protocol-{protocol.__version__}.dist-info"))
    assert len(installed) == 1, f"no img23d_protocol {protocol.__version__} installed by Blender under {user}"
    session = addon.runtime.session()
    session.start()
    session.wait_ready(timeout=JOB_TIMEOUT)
    environment = session.hello.environment
    assert environment["img23d_protocol"] == protocol.__version__
    assert tuple(session.hello.protocol) == (protocol.PROTOCOL_MAJOR, protocol.PROTOCOL_MINOR)
    # The backend imported it from the add-on's own copy of the wheel, not from its environment.
    assert Path(environment["img23d_protocol_file"]).parts[-3] == wheel.name
