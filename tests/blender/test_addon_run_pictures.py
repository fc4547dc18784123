"""A run's pictures from the panel in real Blender: layout.png and detections.png in an Image
Editor with one click, and Help opening the guide."""

from __future__ import annotations

from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")

from blender_support import draw_main_panel  # noqa: E402


def _png(path: Path, width: int, height: int) -> None:
    """A PNG written by Blender itself (the Blender 4.2 lane has no Pillow)."""
    image = bpy.data.images.new("scratch", width, height)
    image.filepath_raw, image.file_format = str(path), "PNG"
    image.save()
    bpy.data.images.remove(image)


@pytest.fixture
def run(addon, tmp_path: Path):
    folder = tmp_path / "20260101-120000-house_scene"
    folder.mkdir()
    _png(folder / "layout.png", 80, 80)
    addon.runtime.active_runner = None
    bpy.context.view_layer.objects.active = None
    yield folder
    for image in [i for i in bpy.data.images if i.name.startswith("img23d layout")]:
        bpy.data.images.remove(image)


def test_the_layout_opens_from_a_run_folder(addon, run: Path) -> None:
    assert bpy.ops.img23d.show_run_picture(picture="LAYOUT", run_dir=str(run)) == {"FINISHED"}
    image = bpy.data.images[f"img23d layout {run.name}"]
    assert tuple(image.size) == (80, 80) and Path(image.filepath) == run / "layout.png"
    # Again: the same image, reloaded (a run drawn again shows its newest picture), not a copy.
    assert bpy.ops.img23d.show_run_picture(picture="LAYOUT", run_dir=str(run)) == {"FINISHED"}
    assert len([i for i in bpy.data.images if i.name.startswith("img23d layout")]) == 1


def test_a_second_run_folder_of_the_same_name_keeps_one_image_of_its_own(addon, run: Path, tmp_path: Path) -> None:
    """Found by name, the second folder's image ("<name>.001") was missed on every press, and each made another."""
    other = tmp_path / "copies" / run.name
    other.mkdir(parents=True)
    _png(other / "layout.png", 40, 40)
    for _ in range(3):
        for folder in (run, other):
            assert bpy.ops.img23d.show_run_picture(picture="LAYOUT", run_dir=str(folder)) == {"FINISHED"}
    images = [i for i in bpy.data.images if i.name.startswith("img23d layout")]
    assert sorted(Path(i.filepath) for i in images) == sorted([run / "layout.png", other / "layout.png"])


def test_a_missing_picture_or_run_is_one_sentence(addon, run: Path) -> None:
    with pytest.raises(RuntimeError, match=f"The run {run.name} has no detections.png"):
        bpy.ops.img23d.show_run_picture(picture="DETECTIONS", run_dir=str(run))
    with pytest.raises(RuntimeError, match="No run yet: select an object img23d made, or run a job first"):
        bpy.ops.img23d.show_run_picture(picture="LAYOUT")


def test_the_active_objects_run_is_the_one_opened_and_the_panel_offers_it(addon, run: Path) -> None:
    log = draw_main_panel(addon)
    buttons = [(args[0], kwargs.get("text")) for name, args, kwargs in log if name == "operator"]
    assert ("img23d.show_run_picture", "Layout") in buttons and ("img23d.show_run_picture", "Detections") in buttons
    assert ("img23d.open_guide", "Help") in buttons  # the guide's page for this panel, from disk
    obj = bpy.data.objects.new("made by img23d", None)
    bpy.context.scene.collection.objects.link(obj)
    obj["img23d_run"] = str(run)
    bpy.context.view_layer.objects.active = obj
    try:
        assert addon.runtime.current_run(bpy.context) == run
        assert bpy.ops.img23d.show_run_picture(picture="LAYOUT") == {"FINISHED"}
        assert f"img23d layout {run.name}" in bpy.data.images
    finally:
        bpy.data.objects.remove(obj)
