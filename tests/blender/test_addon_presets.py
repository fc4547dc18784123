"""The quality presets against what the backend can deliver: no texture that is only upscaled, and
the shape model's own steps (the panel says how many will run)."""

from __future__ import annotations

import sys

import pytest

bpy = pytest.importorskip("bpy")

from blender_support import ADDON_MODULE, StandInLayout, configure_preferences, draw_main_panel, labels  # noqa: E402


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


@pytest.mark.parametrize("family, quality, octree", [
    ("hunyuan3d", "FAST", 256), ("hunyuan3d", "STANDARD", 256), ("clean", "FAST", 384), ("clean", "STANDARD", 384),
    ("clean", "DRAFT", 128), ("clean", "HIGH", 384), ("hunyuan3d", "HIGH", 384)])
def test_fast_and_standard_decode_at_the_shape_models_own_octree(addon, scene, family: str, quality: str,
                                                                 octree: int) -> None:
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    settings = scene.img23d
    before = prefs.family
    try:
        prefs.family = family
        settings.quality, settings.octree_resolution = quality, 0
        assert settings.job_options(prefs.shape_model()).octree_resolution == octree
        settings.octree_resolution = 200
        assert settings.job_options(prefs.shape_model()).octree_resolution == 200  # an explicit value wins
    finally:
        prefs.family, settings.octree_resolution = before, 0


def _steps_label(addon) -> str:
    return next(text for text in labels(draw_main_panel(addon)) if text.startswith("Steps:"))


@pytest.mark.smoke  # also run on Blender 4.2 LTS (scripts/test.sh)
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


class _EnabledLayout(StandInLayout):
    """The stand-in layout, each prop recorded with whether its row was enabled (greyed when not)."""

    def _container(self, *args, **kwargs) -> "_EnabledLayout":
        return _EnabledLayout(self.log)

    row = column = box = split = grid_flow = column_flow = _container

    def prop(self, data, name: str, **kwargs) -> None:
        self.log.append(("prop", (data, name), {**kwargs, "enabled": self.enabled}))


def test_pbr_materials_is_on_by_default_beside_texture_and_greyed_without_it(addon, scene) -> None:
    settings = scene.img23d
    prop = settings.bl_rna.properties["materials"]
    assert prop.name == "PBR materials" and prop.default is True

    def materials_row_enabled() -> bool:
        log: list[tuple] = []
        addon.panels.main.IMG23D_PT_main.draw(type("Panel", (), {"layout": _EnabledLayout(log)})(), bpy.context)
        [enabled] = [kwargs["enabled"] for name, args, kwargs in log if name == "prop" and args[1] == "materials"]
        return enabled

    try:
        settings.texture, settings.materials = True, True
        assert materials_row_enabled() and settings.job_options().materials is True
        settings.materials = False
        assert settings.job_options().materials is False
        settings.texture = False
        assert not materials_row_enabled()
    finally:
        settings.materials = True
