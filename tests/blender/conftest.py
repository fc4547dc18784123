"""Real Blender (the bpy module) with the add-on installed from the zip build_addon.py makes.

Blender's user folder is a temporary one, so nothing is written to the home folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Blender's user folder, set by tests/conftest.py before any test module could import bpy.
_USER = Path(os.environ["BLENDER_USER_RESOURCES"])

from background_removal import remove_in_background  # noqa: E402
from blender_support import ADDON_MODULE, REPO, LiveAddon, backend_set_aside, configure_preferences  # noqa: E402
from testdata import HOUSE  # noqa: E402


@pytest.fixture(scope="session")
def addon_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sys.path.insert(0, str(REPO))
    import build_addon

    return build_addon.build(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def addon(addon_zip: Path, tiny_root: Path, tmp_path_factory: pytest.TempPathFactory):
    """The installed, enabled add-on, set up for the tiny models and this test's Python."""
    import bpy

    os.environ["IMG23D_TINY_MODELS"] = str(tiny_root)
    result = bpy.ops.extensions.package_install_files(filepath=str(addon_zip), repo="user_default",
                                                      enable_on_install=True)
    assert result == {"FINISHED"}
    configure_preferences(tmp_path_factory.mktemp("blender runs ü"))
    addon = LiveAddon()
    yield addon
    addon.runtime.shutdown()
    # Where the real Install Backend runs (Blender 4.2), its environment is in here: about 2 GB that
    # took 6 to 12 s of lane B to remove at the end of its Blender 4.2 run.
    remove_in_background(_USER)


@pytest.fixture
def fresh_backend(addon, monkeypatch):
    """Each fault test starts and ends with no backend of its own running, and the normal preferences. A backend
    an earlier test left running is set aside meanwhile and taken back after (blender_support.backend_set_aside),
    not stopped: the next test that needs one finds it up."""
    import bpy

    with backend_set_aside(addon):
        yield monkeypatch
        monkeypatch.delenv("IMG23D_FAILPOINTS", raising=False)
        configure_preferences()
        bpy.context.preferences.addons[ADDON_MODULE].preferences.watchdog_seconds = 600.0


@pytest.fixture
def backend_kept_aside(addon):
    """The backend an earlier test left running, set aside while this test runs another (one on an SSH host) and
    taken back after (blender_support.backend_set_aside), not stopped."""
    with backend_set_aside(addon):
        yield


@pytest.fixture
def scene(addon):
    """A clean scene state for each test: inputs reset, nothing left from earlier tests."""
    import bpy

    before_objects = set(bpy.data.objects)
    before_collections = set(bpy.data.collections)
    settings = bpy.context.scene.img23d
    settings.image_source = "FILE"
    settings.image_path = str(HOUSE)
    settings.targets = "house, chimney, barrel"
    settings.texture = False
    settings.steps, settings.octree_resolution, settings.face_budget = 3, 32, 2000
    settings.texture_size, settings.paint_steps, settings.delight_steps = 0, 0, 0
    # As a new scene has them: the layout settings, and those a test's operator may set (Suggest
    # turns All Instances on), so no test sees what an earlier one left, whatever their order.
    for name in ("fov", "estimate_fov", "ground", "all_instances", "quality", "seed", "random_seed", "last_seed",
                 "keep_all_faces", "smoothing", "fill_holes", "min_piece", "variations", "picture_variations",
                 "topology", "finish_preset", "face_target", "bake_size", "complete_hidden", "edit_size", "accept_long",
                 "part_names", "parts_method", "parts_picture", "parts_mask", "parts_grid", "parts_max",
                 "rig_humanoid_names", "rig_weights"):
        settings.property_unset(name)
    settings.boxes.clear()
    settings.views.clear()
    settings.retexture_views.clear()
    yield bpy.context.scene
    addon.runtime.active_runner = None
    for obj in set(bpy.data.objects) - before_objects:
        bpy.data.objects.remove(obj, do_unlink=True)
    for collection in set(bpy.data.collections) - before_collections:
        bpy.data.collections.remove(collection)
    bpy.context.view_layer.update()  # else its object list can keep removed objects (as None) after an undo
