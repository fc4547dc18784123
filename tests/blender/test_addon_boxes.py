"""Boxes by hand in real Blender with the real backend: Detect fills them, the artist corrects one
or draws one for a name not found, and Generate uses them instead of looking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")


def _manifest(obj) -> dict:
    return json.loads((Path(obj["img23d_run"]) / "manifest.json").read_text())


def test_detect_fills_the_boxes_and_an_edited_one_skips_grounding(addon, scene) -> None:
    settings = scene.img23d
    settings.targets = "chimney, unicorn"
    before = set(bpy.data.images)
    assert bpy.ops.img23d.detect() == {"FINISHED"}
    for image in set(bpy.data.images) - before:
        bpy.data.images.remove(image)
    boxes = {box.name: box for box in settings.boxes}
    assert list(boxes) == ["chimney", "unicorn"]
    chimney, unicorn = boxes["chimney"], boxes["unicorn"]
    assert chimney.found and chimney.x1 > chimney.x0 and chimney.y1 > chimney.y0 and not chimney.use
    assert not unicorn.found and not unicorn.use  # not found: left for the artist to draw
    # The artist draws the unicorn (editing a box puts it in use) and leaves the chimney as found.
    unicorn.x0, unicorn.y0, unicorn.x1, unicorn.y1 = 100, 600, 300, 900
    assert unicorn.use
    assert bpy.ops.img23d.generate() == {"FINISHED"}
    made = bpy.data.objects["unicorn"]
    records = {r["target"]: r for r in _manifest(made)["records"]}
    assert records["unicorn"]["box"] == [100.0, 600.0, 300.0, 900.0] and records["unicorn"]["artist_box"] is True
    assert records["chimney"]["artist_box"] is False and records["chimney"]["status"] == "done"
    assert list(made["img23d_box"]) == [100.0, 600.0, 300.0, 900.0]


def test_every_name_with_a_box_loads_no_grounding_model(addon, scene) -> None:
    settings = scene.img23d
    settings.targets = "chimney"
    box = settings.boxes.add()
    box.name = "chimney"
    box.x0, box.y0, box.x1, box.y1 = 600, 80, 760, 600
    assert bpy.ops.img23d.generate() == {"FINISHED"}
    manifest = _manifest(bpy.data.objects["chimney"])
    assert manifest["records"][0]["artist_box"] is True
    assert manifest["model_counters"]["grounding"]["loads_from_disk"] == 0
    assert "grounding" not in manifest["timings"]


@pytest.mark.parametrize("name, corners, message", [
    ("barrel", (1, 2, 30, 40), "There is a box for 'barrel', which is not one of the names (chimney)"),
    ("chimney", (600, 80, 600, 600), "The box of 'chimney' has no size"),
    ("chimney", (900, 80, 1500, 600), "reaches past the picture, which is 1024 x 1024 pixels"),
])
def test_a_bad_box_is_one_sentence(addon, scene, name: str, corners, message: str) -> None:
    settings = scene.img23d
    settings.targets = "chimney"
    box = settings.boxes.add()
    box.name = name
    box.x0, box.y0, box.x1, box.y1 = corners
    with pytest.raises(RuntimeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        bpy.ops.img23d.generate()
    assert "chimney" not in bpy.data.objects


def test_the_boxes_panel_lists_each_box(addon, scene) -> None:
    from blender_support import StandInLayout

    settings = scene.img23d
    for name, found in (("chimney", True), ("unicorn", False)):
        box = settings.boxes.add()
        box.name, box.found = name, found
    log: list[tuple] = []
    panel = type("StandInPanel", (), {"layout": StandInLayout(log)})()
    addon.panels.main.IMG23D_PT_boxes.draw(panel, bpy.context)
    labels = [kwargs.get("text") for name, args, kwargs in log if name == "label"]
    assert "chimney" in labels and "unicorn (not found: draw it)" in labels
    assert sum(1 for name, args, kwargs in log if name == "prop" and args[1] == "x0") == 2
    assert ("operator", ("img23d.boxes_clear",)) in [(name, args) for name, args, kwargs in log]
    assert bpy.ops.img23d.boxes_clear() == {"FINISHED"} and len(settings.boxes) == 0


def test_complete_hidden_in_the_panel_and_a_name_turned_off_in_boxes(addon, scene) -> None:
    from blender_support import StandInLayout

    settings = scene.img23d
    assert settings.complete_hidden == "never" and settings.job_options().complete_hidden == "never"
    settings.targets = "chimney, barrel"
    for name in ("chimney", "barrel"):
        box = settings.boxes.add()
        box.name = name

    def drawn(panel: type) -> list[tuple]:
        log: list[tuple] = []
        panel.draw(type("StandInPanel", (), {"layout": StandInLayout(log)})(), bpy.context)
        return [args[1] for name, args, kwargs in log if name == "prop"]

    assert "complete_hidden" in drawn(addon.panels.main.IMG23D_PT_main)
    assert "edit_size" not in drawn(addon.panels.main.IMG23D_PT_main)  # never: no size to choose
    assert "complete" not in drawn(addon.panels.main.IMG23D_PT_boxes)  # never: nothing to turn off
    settings.complete_hidden = "always"
    assert "edit_size" in drawn(addon.panels.main.IMG23D_PT_main)
    assert drawn(addon.panels.main.IMG23D_PT_boxes).count("complete") == 2
    settings.boxes["chimney"].complete = False
    assert settings.job_options().complete_hidden == "always" and settings.job_options().edit_size == 0
    settings.edit_size = "256"  # the smallest: the tiny editor's job below runs at 256 x 256
    assert settings.job_options().edit_size == 256
    # The real backend with the tiny editor: the barrel is completed (the replica's noise, pasted under
    # what was seen), the chimney is not tried (the artist turned it off), and both are made.
    assert bpy.ops.img23d.generate() == {"FINISHED"}
    manifest = _manifest(bpy.data.objects["barrel"])
    records = {r["target"]: r for r in manifest["records"]}
    assert records["chimney"]["completion"] == {"completed": False, "cutout": None, "skipped": None,
                                                "reason": "the artist turned completion off for it"}
    barrel = records["barrel"]["completion"]
    assert (barrel["reason"], barrel["completed"], barrel["skipped"]) == ("asked for every target", True, None)
    assert (Path(bpy.data.objects["barrel"]["img23d_run"]) / barrel["cutout"]).is_file()
    assert {r["status"] for r in records.values()} == {"done"}


def test_detect_with_complete_hidden_shows_its_completion_picture(addon, scene) -> None:
    from PIL import Image

    settings = scene.img23d
    settings.targets = "chimney, barrel"
    settings.complete_hidden = "always"
    before = set(bpy.data.images)
    try:
        assert bpy.ops.img23d.detect() == {"FINISHED"}
    finally:
        settings.complete_hidden = "never"
    added = {image.name.rsplit(" ", 1)[0]: image for image in set(bpy.data.images) - before}
    try:
        # The boxes' picture as always, and beside it the completion preview: each cut-out beside
        # its completed one (or "not completed"), read from the run's completion.png.
        assert set(added) == {"img23d detections", "img23d completion"}
        shown = added["img23d completion"]
        path = Path(bpy.path.abspath(shown.filepath))
        assert path.name == "completion.png" and (path.parent / "mattes").is_dir()
        with Image.open(path) as picture:
            assert tuple(shown.size) == picture.size
        records = json.loads((path.parent / "manifest.json").read_text())["records"]
        assert {r["target"] for r in records if r["completion"]} == {"chimney", "barrel"}
    finally:
        for image in added.values():
            bpy.data.images.remove(image)
