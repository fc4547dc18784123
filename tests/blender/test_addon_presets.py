"""The quality presets against what the backend can deliver: no texture that is only upscaled."""

from __future__ import annotations

import sys

import pytest

bpy = pytest.importorskip("bpy")

from blender_support import ADDON_MODULE  # noqa: E402


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
