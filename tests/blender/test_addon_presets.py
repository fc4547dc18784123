"""The quality presets against what the backend can deliver: no texture that is only upscaled, and
the shape model's own steps (the panel says how many will run)."""

from __future__ import annotations

import sys

import pytest

bpy = pytest.importorskip("bpy")

from blender_support import ADDON_MODULE, configure_preferences, draw_main_panel, labels  # noqa: E402


@pytest.mark.parametrize("quality", ["FAST", "DRAFT", "STANDARD", "HIGH"])
def test_no_preset_asks_for_a_texture_bigger_than_its_renders(addon, scene, quality: str) -> None:
    protocol = sys.modules[f"{ADDON_MODULE}.job_runner"].protocol
    settings = scene.img23d
    settings.quality = quality
    options = settings.job_options()
    # The backend bakes from renders of options.bake_render_size(); a bigger texture is upscaled.
    assert options.texture_size <= options.bake_render_size() <= protocol.DETAILED_TEXTURE_SIZE


def test_the_texture_size_slider_stops_where_detail_stops(addon, scene) -> None:
    protocol = sys.modules[f"{ADDON_MODULE}.job_runner"].protocol
    prop = scene.img23d.bl_rna.properties["texture_size"]
    assert prop.soft_max == protocol.DETAILED_TEXTURE_SIZE and prop.hard_max == 8192  # typing more is allowed
    assert str(protocol.DETAILED_TEXTURE_SIZE) in prop.description


@pytest.mark.parametrize("quality", ["FAST", "DRAFT", "STANDARD", "HIGH"])
def test_no_preset_forces_steps_on_the_shape_model(addon, scene, quality: str) -> None:
    settings = scene.img23d
    settings.quality, settings.steps = quality, 0
    assert settings.job_options().steps == 0  # the backend runs the chosen model's own
    settings.steps = 12
    assert settings.job_options().steps == 12  # an explicit value wins


def _steps_label(addon) -> str:
    return next(text for text in labels(draw_main_panel(addon)) if text.startswith("Steps:"))


def test_the_panel_shows_the_steps_the_chosen_shape_model_will_run(addon, scene) -> None:
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    settings = scene.img23d
    settings.quality, settings.steps = "FAST", 0
    try:
        prefs.model_set = "DEFAULT"
        prefs.shape = "2mini"
        assert _steps_label(addon) == "Steps: 30 (Hunyuan3D-2 mini)"  # not the turbo models' 5
        prefs.shape = "2mini-turbo"
        assert _steps_label(addon) == "Steps: 5 (Hunyuan3D-2 mini turbo)"
        settings.steps = 12
        assert _steps_label(addon) == "Steps: 12 (set in Advanced)"
        settings.steps = 0
        prefs.model_set = "TINY"
        protocol = sys.modules[f"{ADDON_MODULE}.job_runner"].protocol
        assert _steps_label(addon) == f"Steps: {protocol.SHAPE_MODELS['tiny'].steps} (tiny replica)"
    finally:
        prefs.property_unset("shape")
        configure_preferences()
