"""The licence-clean family in Blender: the preference, and a whole Generate with the tiny Step1X-3D
replica on a backend whose Python cannot import hy3dgen."""

from __future__ import annotations

import json
import os
import shlex
from importlib import import_module
from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")

from blender_support import ADDON_MODULE, BACKEND_PYTHON, pbr_images  # noqa: E402

BLOCKER = '''import os
from pathlib import Path
Path(os.environ["IMG23D_TEST_HY3DGEN_MARK"]).write_text("hy3dgen was imported")
raise ImportError("hy3dgen is not installed here (the licence-clean family's test)")
'''


def _python_without_hy3dgen(folder: Path) -> tuple[Path, Path]:
    """A backend Python whose first hy3dgen on the path refuses to import (and leaves a mark): a
    wrapper, since the add-on sets the backend's PYTHONPATH itself."""
    blocked = folder / "blocked"
    (blocked / "hy3dgen").mkdir(parents=True)
    (blocked / "hy3dgen" / "__init__.py").write_text(BLOCKER)
    mark = folder / "hy3dgen-imported"
    wrapper = folder / "python"
    wrapper.write_text(f'#!/bin/sh\nexport PYTHONPATH={shlex.quote(str(blocked))}:"$PYTHONPATH"\n'
                       f"export IMG23D_TEST_HY3DGEN_MARK={shlex.quote(str(mark))}\n"
                       f'exec {shlex.quote(BACKEND_PYTHON)} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper, mark


def test_the_family_decides_the_shape_model_and_the_launch(addon) -> None:
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    try:
        prefs.family = "clean"
        assert prefs.shape_model().name == "tiny-step1x" and prefs.shape_model().steps == 3
        prefs.model_set = "DEFAULT"
        assert prefs.shape_model().name == "step1x" and prefs.shape_model().steps == 30
        command = prefs.launch_settings().command()
        assert command[command.index("--family") + 1] == "clean" and command[command.index("--shape") + 1] == "step1x"
    finally:
        prefs.family, prefs.model_set = "hunyuan3d", "TINY"


def test_the_image_editor_preference_reaches_the_launch_only_when_not_the_default(addon) -> None:
    """Both editors are offered (every family uses them: they are licence-clean); the default is left
    off the command line, so an older backend still starts, and the large one is passed on."""
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    items = {item.identifier for item in prefs.bl_rna.properties["editor"].enum_items}
    assert items == {"flux2-klein-4b", "qwen-image-edit-2511"} and prefs.editor == "flux2-klein-4b"
    assert "--editor" not in prefs.launch_settings().command()
    try:
        prefs.editor = "qwen-image-edit-2511"
        command = prefs.launch_settings().command()
        assert command[command.index("--editor") + 1] == "qwen-image-edit-2511"
        assert "qwen-image-edit-2511" in prefs.model_configuration()  # the models listing is asked again
    finally:
        prefs.editor = "flux2-klein-4b"


@pytest.mark.skipif(os.name == "nt", reason="the wrapper is a shell script")
def test_generate_on_the_clean_family_without_hy3dgen_paints_the_meshes(addon, scene, fresh_backend, tmp_path: Path,
                                                                        capfd) -> None:
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    wrapper, mark = _python_without_hy3dgen(tmp_path)
    prefs.python_path, prefs.family = str(wrapper), "clean"
    try:
        settings = scene.img23d
        settings.targets, settings.texture = "house, chimney", True
        settings.texture_size, settings.paint_steps = 256, 2
        capfd.readouterr()
        assert bpy.ops.img23d.generate() == {"FINISHED"}
        # Texture was asked for: the family's own model (Step1X-3D's over SDXL) paints every mesh.
        out = capfd.readouterr().out
        assert "texture skipped" not in out.lower() and "Some names failed" not in out, out
        collection = bpy.data.collections["house_scene"]
        objects = sorted((o for o in collection.objects if o.type == "MESH"), key=lambda o: o.name)
        assert [o.name for o in objects] == ["chimney", "house"]
        for obj in objects:
            assert len(obj.data.polygons) > 100
            assert json.loads(obj["img23d_models"])["shape"].startswith("tiny/step1x-3d")
            [material] = obj.data.materials
            assert [tuple(image.size) for image in pbr_images(material)] == [(256, 256), (256, 256)]
            assert obj.data.uv_layers
        assert not mark.exists(), "the backend imported hy3dgen for the licence-clean family"
    finally:
        addon.runtime.shutdown()
        prefs.python_path, prefs.family = BACKEND_PYTHON, "hunyuan3d"


def test_the_label_model_sends_symmetry_and_edges_and_others_send_auto(addon, scene) -> None:
    _inputs = import_module(f"{ADDON_MODULE}.operators._inputs")
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    settings = scene.img23d
    settings.symmetry, settings.edges = "x", "sharp"
    try:
        prefs.family, prefs.clean_shape = "clean", "step1x-label"
        assert prefs.shape_model().name == "tiny-step1x-label" and prefs.shape_model().labels
        options = _inputs.options(bpy.context)
        assert (options.symmetry, options.sharpness) == ("x", "sharp")
        prefs.model_set = "DEFAULT"
        command = prefs.launch_settings().command()
        assert command[command.index("--shape") + 1] == "step1x-label"
        prefs.clean_shape = "step1x"   # a model without labels: the panel's choice is not sent
        options = _inputs.options(bpy.context)
        assert (options.symmetry, options.sharpness) == ("auto", "auto")
    finally:
        prefs.family, prefs.model_set, prefs.clean_shape = "hunyuan3d", "TINY", "step1x"
        settings.symmetry, settings.edges = "auto", "auto"
