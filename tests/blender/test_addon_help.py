"""Help opens a page that is on the artist's disk: every Help place of the installed add-on (each
panel, the preferences) resolves to a file of the guide the zip carries, and the operator opens it."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import pytest

bpy = pytest.importorskip("bpy")

from blender_support import StandInLayout  # noqa: E402
from img23d_client import paths  # noqa: E402


def _installed_guide(addon) -> Path:
    folder = Path(addon.module.__file__).parent / "guide"
    assert folder.is_dir(), f"the installed add-on carries no guide/ ({folder})"
    return folder


def test_every_panel_of_the_addon_has_a_help_page(addon) -> None:
    panels = {name for name in dir(bpy.types) if name.startswith("IMG23D_PT_")}
    assert panels and panels <= set(addon.guide_pages.PAGES), panels - set(addon.guide_pages.PAGES)


# Smoke: the zip carries the guide as MkDocs' HTML (its anchors checked) only where MkDocs is installed, which is
# Blender 4.2's environment (requirements-blender42.txt); elsewhere as Markdown pages.
@pytest.mark.smoke
@pytest.mark.parametrize("place", ["IMG23D_PT_main", "IMG23D_PT_placement", "IMG23D_PT_finish", "IMG23D_PT_advanced",
                                   "IMG23D_PT_boxes",
                                   "preferences"])
def test_each_help_target_is_a_file_of_the_installed_guide(addon, place: str, monkeypatch) -> None:
    guide = _installed_guide(addon)
    opened: list[str] = []
    monkeypatch.setattr(addon.operators.help, "open_url", lambda uri: opened.append(uri) or True)
    assert bpy.ops.img23d.open_guide(place=place) == {"FINISHED"}
    [uri] = opened
    parts = urlsplit(uri)
    path = url2pathname(parts.path)
    assert parts.scheme == "file" and path.startswith(str(guide)), uri
    page = Path(path)
    assert page.is_file(), f"Help for {place} opens {page}, which is not there"
    expected = addon.guide_pages.PAGES[place]
    assert page.stem == expected.page
    if page.suffix == ".html" and expected.anchor:
        assert parts.fragment == expected.anchor
        assert re.search(rf'id="{re.escape(expected.anchor)}"', page.read_text(encoding="utf-8")), \
            f"{page.name} has no heading #{expected.anchor}"


def test_an_unknown_place_or_a_missing_page_is_reported_not_opened(addon, monkeypatch, tmp_path) -> None:
    opened: list[str] = []
    monkeypatch.setattr(addon.operators.help, "open_url", lambda uri: opened.append(uri) or True)
    with pytest.raises(RuntimeError, match="no page of the guide is known for 'nowhere'"):
        bpy.ops.img23d.open_guide(place="nowhere")
    monkeypatch.setattr(paths, "guide_dir", lambda: tmp_path)  # a guide with its pages gone
    with pytest.raises(RuntimeError, match="the guide's page panel is missing from .*reinstall the add-on"):
        bpy.ops.img23d.open_guide(place="IMG23D_PT_main")
    assert opened == []


@pytest.mark.smoke  # also run on Blender 4.2 LTS (scripts/test.sh)
def test_the_panels_draw_their_help_buttons(addon) -> None:
    log: list[tuple] = []
    for name in ("IMG23D_PT_placement", "IMG23D_PT_advanced", "IMG23D_PT_boxes"):
        panel_class = getattr(addon.panels.main, name)
        panel = type("StandInPanel", (), {"layout": StandInLayout(log), "bl_idname": name})()
        panel_class.draw_header_preset(panel, bpy.context)
    helps = [args for op, args, _ in log if op == "operator" and args and args[0] == "img23d.open_guide"]
    assert len(helps) == 3
