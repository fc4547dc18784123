"""The finished mesh and the random seed from the panel: the controls, what they send, what comes back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")

from blender_support import ADDON_MODULE  # noqa: E402


def _protocol():
    from importlib import import_module

    return import_module(f"{ADDON_MODULE}.job_runner").protocol


def test_a_new_scene_finishes_meshes_as_every_job_did_before(addon, scene) -> None:
    options = scene.img23d.job_options()
    defaults = _protocol().JobOptions()
    assert (options.smoothing, options.fill_holes, options.min_piece, options.random_seed) == (
        defaults.smoothing, defaults.fill_holes, defaults.min_piece, False)
    assert options.face_budget == 2000  # the scene fixture's budget, not "keep every face"


def test_the_finishing_controls_reach_the_job_options(addon, scene) -> None:
    settings = scene.img23d
    settings.keep_all_faces, settings.smoothing, settings.fill_holes, settings.min_piece = True, 4, 500, 0.0
    settings.random_seed = True
    options = settings.job_options()
    assert (options.face_budget, options.smoothing, options.fill_holes, options.min_piece) == (0, 4, 500, 0.0)
    assert options.random_seed is True
    settings.keep_all_faces, settings.min_piece = False, 2.5  # percent in the panel, a fraction on the wire
    assert settings.job_options().face_budget == 2000 and settings.job_options().min_piece == pytest.approx(0.025)


def _draw(addon, panel_class) -> list[tuple]:
    from blender_support import StandInLayout

    log: list[tuple] = []
    panel = type("StandInPanel", (), {"layout": StandInLayout(log)})()
    panel_class.draw(panel, bpy.context)
    return log


def test_the_panels_show_the_finishing_controls_and_the_last_random_seed(addon, scene) -> None:
    advanced = _draw(addon, addon.panels.main.IMG23D_PT_advanced)
    shown = {args[1] for name, args, kwargs in advanced if name == "prop"}
    assert {"face_budget", "keep_all_faces", "smoothing", "fill_holes", "min_piece"} <= shown
    settings = scene.img23d
    settings.random_seed, settings.last_seed = True, 1234
    main = _draw(addon, addon.panels.main.IMG23D_PT_main)
    assert {"seed", "random_seed"} <= {args[1] for name, args, kwargs in main if name == "prop"}
    assert "Last job's seed: 1234" in [kwargs.get("text") for name, args, kwargs in main if name == "label"]
    settings.random_seed = False
    main = _draw(addon, addon.panels.main.IMG23D_PT_main)
    assert not any("Last job's seed" in (kwargs.get("text") or "") for name, args, kwargs in main)


def test_a_job_keeps_every_face_and_reports_its_random_seed(addon, scene) -> None:
    settings = scene.img23d
    settings.targets = "chimney"
    settings.keep_all_faces, settings.smoothing, settings.random_seed = True, 2, True
    assert bpy.ops.img23d.generate() == {"FINISHED"}
    chimney = bpy.data.objects["chimney"]
    manifest = json.loads((Path(chimney["img23d_run"]) / "manifest.json").read_text())
    [record] = manifest["records"]
    assert manifest["options"]["face_budget"] == 0 and manifest["options"]["smoothing"] == 2
    # Every face the clean-up kept, over the 2,000 the scene's budget would have allowed.
    assert len(chimney.data.polygons) == record["faces"] == record["cleanup"]["faces_out"] > 2000
    assert settings.last_seed == manifest["options"]["seed"] == chimney["img23d_seed"]
    assert manifest["options"]["random_seed"] is True
