"""The preferences of issue 57 reach the backend's command line: BiRefNet_HR as the matting model, the grounding
model on the CPU, and the warm-up, and issue 99's memory cap; each left off the command line while not chosen. The
runs folder reaches it as an absolute path."""

from __future__ import annotations

from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")

import img23d_protocol as protocol  # noqa: E402

from blender_support import ADDON_MODULE  # noqa: E402


def _flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


@pytest.mark.smoke  # also run on Blender 4.2 LTS and 5.0 (scripts/test.sh)
def test_matting_grounding_on_cpu_and_warm_up_reach_the_launch(addon) -> None:
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    items = {item.identifier for item in prefs.bl_rna.properties["matting"].enum_items}
    assert items == {"birefnet", "birefnet-hr"} and prefs.matting == "birefnet"
    # Both menus are the protocol's rows (img23d_protocol.shared_models), their labels and tooltips included.
    for menu, rows in (("matting", protocol.MATTING_MODELS), ("grounding", protocol.GROUNDING_MODELS)):
        shown = {item.identifier: (item.name, item.description) for item in prefs.bl_rna.properties[menu].enum_items}
        assert shown == {row.name: (row.label, row.description) for row in rows.values()}, menu
    command = prefs.launch_settings().command()
    assert "--device-for" not in command and "--warm-up" not in command
    try:
        prefs.matting, prefs.grounding_on_cpu, prefs.warm_up = "birefnet-hr", True, True
        command = prefs.launch_settings().command()
        assert _flag(command, "--matting") == "birefnet-hr" and _flag(command, "--device-for") == "grounding=cpu"
        assert "--warm-up" in command
        assert "birefnet-hr" in prefs.model_configuration()  # the models listing is asked again
    finally:
        prefs.matting, prefs.grounding_on_cpu, prefs.warm_up = "birefnet", False, False


def test_a_relative_runs_folder_is_made_absolute_once(addon, tmp_path, monkeypatch) -> None:
    """The backend starts inside its runs folder and was told to write to the same relative path: each run
    landed in "my runs/my runs/<run>", and every object was tagged with a run folder that did not exist."""
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    kept = prefs.runs_dir
    monkeypatch.chdir(tmp_path)
    try:
        prefs.runs_dir = "my runs"
        assert prefs.launch_settings().runs_dir == tmp_path / "my runs"
        prefs.runs_dir = "~/img23d runs"
        assert prefs.launch_settings().runs_dir == Path.home() / "img23d runs"
    finally:
        prefs.runs_dir = kept


def test_the_memory_cap_preference_reaches_the_launch(addon) -> None:
    """Issue 99: the backend's ``--memory-cap-gb`` from the preferences, beside the budget; none while it is 0."""
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    assert prefs.memory_cap_gb == 0.0 and "--memory-cap-gb" not in prefs.launch_settings().command()
    try:
        prefs.memory_cap_gb = 8.0
        assert _flag(prefs.launch_settings().command(), "--memory-cap-gb") == "8"
        prefs.memory_cap_gb = 0.1  # less than the backend runs in: it would refuse to start, in its log
        assert prefs.memory_cap_gb == pytest.approx(protocol.BUDGET_GB_MIN)
        assert _flag(prefs.launch_settings().command(), "--memory-cap-gb") == f"{protocol.BUDGET_GB_MIN:g}"
    finally:
        prefs.memory_cap_gb = 0.0


def test_every_model_menu_is_its_protocol_rows(addon) -> None:
    """Issue 99: the family, shape and paint menus wrote their tooltips by hand; each menu is now its rows' names,
    labels and descriptions, the words the command line's ``--help`` says of them (``protocol.rows_help``)."""
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    shapes = {kind.name: kind for kind in protocol.SHAPE_MODELS.values() if kind.name not in protocol.TINY_MODELS}
    menus = [("family", protocol.MODEL_FAMILIES), ("editor", protocol.IMAGE_EDITORS), ("depth", protocol.DEPTH_MODELS),
             ("paint", protocol.PAINT_MODELS), ("shape", {n: k for n, k in shapes.items() if k.family == "hunyuan3d"}),
             ("clean_shape", {n: k for n, k in shapes.items() if k.family == "clean"})]
    for menu, rows in menus:
        shown = {item.identifier: (item.name, item.description) for item in prefs.bl_rna.properties[menu].enum_items}
        assert shown == {row.name: (row.label, row.description) for row in rows.values()}, menu
