"""The add-on's operators with the backend on another machine: the real ssh client against the
loopback sshd (tests/ssh_host.py), whose user cannot read this test run's picture or runs folder.

Detect, Suggest, Generate and Re-texture each send their files up and read what comes back from
the local mirror of the host's runs folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")

import ssh_host  # noqa: E402
from testdata import HOUSE, SUBJECT  # noqa: E402
from blender_support import ADDON_MODULE, backend_set_aside, configure_preferences, recording_submit  # noqa: E402


def _ssh_preferences(prefs, host) -> None:
    prefs.backend, prefs.ssh_host, prefs.ssh_port = "SSH", ssh_host.ALIAS, 0
    prefs.ssh_python, prefs.ssh_config = str(host.backend_python()), str(host.config)
    prefs.ssh_runs_dir = str(host.path_for_host("blender-runs"))


@pytest.fixture(scope="module")
def ssh_backend(addon, host):
    """The preferences set to the SSH backend for this module's tests, then back to the local one: one backend on
    the host serves them all (a start of its own for each test paid the start and the model loads on the host each
    time); the local backend an earlier test left running is set aside meanwhile (backend_set_aside), not
    stopped."""
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    with backend_set_aside(addon):
        _ssh_preferences(prefs, host)
        yield prefs
        prefs.property_unset("backend")
        configure_preferences()


@pytest.fixture
def remote(addon, scene, host, ssh_backend, tmp_path: Path):
    """One test's picture, which the host's user cannot read, and the SSH preferences as the module set them (a
    test may have changed them); a backend that an earlier test left in error is stopped first."""
    picture = tmp_path / "private house.png"  # the host's user cannot read the test's folders
    shutil.copy(HOUSE, picture)
    scene.img23d.image_path = str(picture)
    _ssh_preferences(ssh_backend, host)
    if addon.runtime.has_session() and addon.runtime.session().state.value == "error":
        addon.runtime.shutdown()
    yield ssh_backend


def _local_runs(prefs) -> Path:
    return Path(bpy.path.abspath(prefs.runs_dir))


def test_detect_and_suggest_over_ssh_show_the_boxes_from_the_mirror(addon, scene, remote) -> None:
    before = set(bpy.data.images)
    scene.img23d.targets = "house, chimney"
    assert bpy.ops.img23d.detect() == {"FINISHED"}
    [overlay] = set(bpy.data.images) - before
    assert _local_runs(remote) in Path(overlay.filepath).parents and tuple(overlay.size) == (1024, 1024)
    assert {box.name for box in scene.img23d.boxes} == {"house", "chimney"}
    bpy.data.images.remove(overlay)
    scene.img23d.targets = ""
    assert bpy.ops.img23d.suggest() == {"FINISHED"}
    assert "house" in scene.img23d.targets
    for image in set(bpy.data.images) - before:
        bpy.data.images.remove(image)
    assert addon.runtime.session().remote_host == ssh_host.ALIAS


def test_generate_over_ssh_places_the_objects_from_the_mirrored_run(addon, scene, remote, host, tmp_path,
                                                                    monkeypatch) -> None:
    scene.img23d.targets = "house, barrel"
    back = tmp_path / "house from behind.png"  # a view goes up as the picture does (issue 55)
    shutil.copy(SUBJECT, back)
    assert bpy.ops.img23d.view_add(target="house", side="back", filepath=str(back)) == {"FINISHED"}
    sent = recording_submit(addon, monkeypatch)
    assert bpy.ops.img23d.generate() == {"FINISHED"}
    [request] = sent  # the job the host ran names the host's copy of the view, byte for byte the artist's
    uploaded = Path(request.views["house"]["back"])
    assert host.path_for_host("blender-runs") / "_uploads" in uploaded.parents
    assert uploaded.read_bytes() == back.read_bytes()
    house = bpy.data.objects["house"]
    run = Path(house["img23d_run"])
    assert _local_runs(remote) in run.parents and (run / "house.glb").is_file()
    assert json.loads((run / "manifest.json").read_text())["status"] == "finished"
    assert (host.path_for_host("blender-runs") / run.name / "house.glb").is_file()  # made there
    assert len(house.data.polygons) > 0 and bpy.data.objects["barrel"]["img23d_run"] == str(run)


def test_retexture_over_ssh_sends_the_mesh_and_paints_it(addon, scene, remote) -> None:
    settings = scene.img23d
    settings.texture_size, settings.paint_steps, settings.delight_steps = 256, 2, 2
    bpy.ops.mesh.primitive_uv_sphere_add(segments=16, ring_count=8)
    sphere = bpy.context.active_object
    for other in bpy.context.view_layer.objects:
        other.select_set(other == sphere)
    assert bpy.ops.img23d.retexture() == {"FINISHED"}
    [material] = sphere.data.materials
    images = [n.image for n in material.node_tree.nodes if n.type == "TEX_IMAGE" and n.image]
    # Both maps came back over SSH (protocol 1.16): the colour and the metallic-roughness map, each
    # fetched into the local mirror of the host's run before the material was built from it.
    assert [tuple(image.size) for image in images] == [(256, 256), (256, 256)]
    assert sorted(Path(bpy.path.abspath(image.filepath)).name for image in images) == [
        "metallic_roughness.png", "texture.png"]
    for image in images:
        assert _local_runs(remote) in Path(bpy.path.abspath(image.filepath)).parents


def test_regenerate_then_import_the_run_from_the_host_over_ssh(addon, scene, remote, host) -> None:
    """Regenerate sends the host's run path and swaps in the mesh that comes back; a run whose local
    copy is gone comes back whole through Import Run from the Host."""
    scene.img23d.targets = "house, barrel"
    assert bpy.ops.img23d.generate() == {"FINISHED"}
    house = bpy.data.objects["house"]
    run, old_mesh = Path(house["img23d_run"]), house.data
    for obj in bpy.context.view_layer.objects:
        obj.select_set(obj == house)
    assert bpy.ops.img23d.regenerate() == {"FINISHED"}
    assert bpy.data.objects["house"] == house and house.data != old_mesh
    new_mesh = Path(house["img23d_mesh"])
    assert new_mesh.is_file() and new_mesh.parent.parent == run / "regenerated"
    assert (host.path_for_host("blender-runs") / run.name / "regenerated" / new_mesh.parent.name / new_mesh.name).is_file()

    # The local copy is lost (another computer, a cleaned disk); the host still has the run.
    shutil.rmtree(run)
    for obj in [o for o in bpy.data.objects if o.get("img23d_run") == str(run)]:
        bpy.data.objects.remove(obj)
    runs = addon.operators.import_host_run.IMG23D_OT_import_host_run._list()
    assert runs[0].name == run.name and runs[0].targets == ("house", "barrel") and runs[0].done == 2
    addon.operators.import_host_run.listed_runs[:] = runs
    assert bpy.ops.img23d.import_host_run(choice="0") == {"FINISHED"}
    assert {"house", "barrel"} <= {o.name for o in bpy.data.objects}
    assert bpy.data.objects["house"]["img23d_run"] == str(run) and (run / "manifest.json").is_file()
    assert (run / "regenerated" / new_mesh.parent.name / new_mesh.name).is_file()  # everything of the run came


def test_import_run_from_the_host_names_what_is_wrong(addon, scene, remote) -> None:
    with pytest.raises(RuntimeError, match="is not inside the backend's runs folder"):
        bpy.ops.img23d.import_host_run(run="/etc")
    remote.backend = "LOCAL"
    assert not bpy.ops.img23d.import_host_run.poll()


def test_the_model_manager_lists_and_downloads_the_hosts_models(addon, scene, remote, host) -> None:
    addon.runtime.catalog = addon.model_catalog.ModelCatalog()
    assert bpy.ops.img23d.models_refresh() == {"FINISHED"}
    catalog = addon.runtime.catalog
    assert {e.role for e in catalog.entries} >= {"grounding", "matting", "shape"}
    assert all(e.local and e.state == "cached" for e in catalog.entries)
    # The host's own cache: in its user's home there (the preferences show where).
    assert Path(catalog.cache_dir).is_relative_to(host.path_for_host("")), catalog.cache_dir
    # The real models, which this host has not downloaded (and, offline, will not).
    remote.model_set, remote.offline = "DEFAULT", True
    try:
        assert bpy.ops.img23d.models_refresh() == {"FINISHED"}
        shape = next(e for e in addon.runtime.catalog.entries if e.role == "shape")
        assert shape.state == "missing" and shape.repo_id.startswith("tencent/")
        with pytest.raises(RuntimeError, match="its licence .* must be accepted first"):
            bpy.ops.img23d.model_download(model=shape.id)  # the host's backend asks for consent too
        grounding = next(e for e in addon.runtime.catalog.entries if e.role == "grounding")
        with pytest.raises(RuntimeError, match="offline"):
            bpy.ops.img23d.model_download(model=grounding.id)
    finally:
        remote.offline = False
        configure_preferences()
