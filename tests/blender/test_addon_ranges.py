"""The add-on's number fields stop where the backend's checks do (protocol.OPTION_RANGES and the memory
budget's BUDGET_GB_MAX, the one table both read): the largest value a field takes is one the job's
options accept, and it is the backend's own largest; Bake Size offers every power of two the backend bakes."""

from __future__ import annotations

import math
import sys

import pytest

bpy = pytest.importorskip("bpy")

from blender_support import ADDON_MODULE  # noqa: E402

# Each scene field, its option in the backend's table and the field's unit in the option's: Smallest
# Piece is a percentage of min_piece's fraction, Field of View is kept in radians.
FIELDS = [("steps", "steps", 1), ("octree_resolution", "octree_resolution", 1), ("face_budget", "face_budget", 1),
          ("smoothing", "smoothing", 1), ("fill_holes", "fill_holes", 1), ("min_piece", "min_piece", 100),
          ("texture_size", "texture_size", 1), ("paint_steps", "paint_steps", 1),
          ("delight_steps", "delight_steps", 1), ("variations", "variations", 1),
          ("fov", "fov_degrees", math.radians(1)), ("face_target", "face_target", 1)]


def test_each_number_field_stops_at_the_largest_value_its_option_accepts(addon, scene) -> None:
    protocol = sys.modules[f"{ADDON_MODULE}.job_runner"].protocol
    settings = scene.img23d
    properties = settings.bl_rna.properties
    for field, option, unit in FIELDS:
        assert properties[field].hard_max == pytest.approx(protocol.OPTION_RANGES[option].high * unit), field
        setattr(settings, field, properties[field].hard_max)
    options = settings.job_options()  # validates them: each largest value is accepted
    for field, option, unit in FIELDS:
        assert getattr(options, option) == pytest.approx(protocol.OPTION_RANGES[option].high), field
    bake_sizes = [int(item.identifier) for item in properties["bake_size"].enum_items if item.identifier != "0"]
    bake_range = protocol.OPTION_RANGES["bake_size"]
    # Every power of two from the range's low end (128, itself one) to its high end, each one the backend bakes.
    assert bake_sizes == [bake_range.low * 2**k for k in range(len(bake_sizes))] and bake_sizes[-1] == bake_range.high
    assert all(bake_range.admits(size) for size in bake_sizes), bake_sizes
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    assert prefs.bl_rna.properties["budget_gb"].hard_max == protocol.BUDGET_GB_MAX
    assert protocol.check_budget_gb(prefs.bl_rna.properties["budget_gb"].hard_max) == protocol.BUDGET_GB_MAX
