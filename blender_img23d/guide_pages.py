"""Which page of the guide each place in the add-on's interface opens, and that page on disk.

The guide travels in the extension (``guide/``, see build_addon.py): the built HTML, whose pages
are ``<page>.html`` with the headings' anchors, or the Markdown pages ``<page>.md`` where the zip
was built without MkDocs. Help opens the file, so it works offline and names no web address.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from img23d_client import paths


@dataclass(frozen=True)
class GuidePage:
    """A page of the guide (its name under docs/ without ``.md``) and a heading's anchor on it."""

    page: str
    anchor: str = ""


# Panel ids (bl_idname) and "preferences": the page that explains what that place shows.
PAGES: dict[str, GuidePage] = {
    "IMG23D_PT_main": GuidePage("panel"),
    "IMG23D_PT_placement": GuidePage("placement"),
    "IMG23D_PT_finish": GuidePage("game-ready", "in-blender"),
    "IMG23D_PT_advanced": GuidePage("panel", "generate"),
    "IMG23D_PT_boxes": GuidePage("artists-loop"),
    "IMG23D_PT_retexture": GuidePage("panel", "views"),
    "IMG23D_PT_print": GuidePage("print", "in-blender"),
    "preferences": GuidePage("install"),
}


def page_file(place: str, guide: Path | None = None) -> Path:
    """The file of ``place``'s page: the HTML page where the guide was built, else its Markdown."""
    if place not in PAGES:
        raise KeyError(f"no page of the guide is known for {place!r}")
    folder = guide if guide is not None else paths.guide_dir()
    page = PAGES[place].page
    for candidate in (folder / f"{page}.html", folder / f"{page}.md"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"the guide's page {page} is missing from {folder}; reinstall the add-on")


def page_uri(place: str, guide: Path | None = None) -> str:
    """A ``file:`` address of ``place``'s page, at its heading where the page is HTML."""
    found = page_file(place, guide)
    anchor = PAGES[place].anchor
    return found.as_uri() + (f"#{anchor}" if anchor and found.suffix == ".html" else "")
