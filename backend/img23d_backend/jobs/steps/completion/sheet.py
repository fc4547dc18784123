"""Detect's completion picture (``completion.png``): one row per target, its cut-out as the picture
shows it beside its completed cut-out, under its name and the reason it was (or was not) completed.

The artist reads it before Generate to decide, per name, whether to keep completion on (the Boxes
panel's Complete toggle): so a target that was not completed still gets its row, with its cut-out
alone and the reason, and a failed completion says its one sentence there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw, ImageFont

CELL = 192                      # each cut-out fits a CELL x CELL square
GAP = 12
CAPTION = 40                    # room for the name and one line of reason above the cut-outs
BACKDROP = (236, 236, 236)      # behind a cut-out: light grey, so a white object's edge still shows
PAPER = (255, 255, 255)
INK = (30, 30, 30)
MUTED = (110, 110, 110)
MAX_REASON = 90                 # characters of the reason drawn; the result and the manifest keep it whole


@dataclass(frozen=True)
class Row:
    """One target's row: its label (its name, and its number when a name has several), why it was
    or was not completed, its cut-out as seen, and its completed cut-out (None when it has none)."""

    label: str
    reason: str
    seen: Image.Image
    completed: Image.Image | None = None


def draw(rows: list[Row]) -> Image.Image:
    """The completion picture: the rows one under another, the seen cut-out left, the completed one right."""
    width = GAP * 3 + CELL * 2
    height = GAP + max(1, len(rows)) * (CAPTION + CELL + GAP)
    sheet = Image.new("RGB", (width, height), PAPER)
    pen = ImageDraw.Draw(sheet)
    name_font, small = _font(15), _font(12)
    top = GAP
    for row in rows:
        pen.text((GAP, top), row.label, fill=INK, font=name_font)
        reason = row.reason if len(row.reason) <= MAX_REASON else row.reason[:MAX_REASON - 1] + "…"
        pen.text((GAP, top + 20), reason, fill=MUTED, font=small)
        cells_top = top + CAPTION
        _paste(sheet, row.seen, (GAP, cells_top))
        if row.completed is not None:
            _paste(sheet, row.completed, (GAP * 2 + CELL, cells_top))
        else:  # nothing completed: the right cell says so rather than repeat the left one
            pen.rectangle((GAP * 2 + CELL, cells_top, GAP * 2 + CELL * 2, cells_top + CELL), outline=MUTED)
            pen.text((GAP * 2 + CELL + CELL // 2, cells_top + CELL // 2), "not completed", fill=MUTED, font=small,
                     anchor="mm")
        top += CAPTION + CELL + GAP
    return sheet


def _paste(sheet: Image.Image, cutout: Image.Image, corner: tuple[int, int]) -> None:
    """``cutout`` (RGBA) fitted into the cell at ``corner``, on the backdrop, centred."""
    cell = Image.new("RGB", (CELL, CELL), BACKDROP)
    picture = cutout.convert("RGBA")
    picture.thumbnail((CELL, CELL))
    offset = ((CELL - picture.width) // 2, (CELL - picture.height) // 2)
    cell.paste(picture, offset, picture)
    sheet.paste(cell, corner)


def _font(size: int) -> Any:
    # Pillow's own scalable font (no system fonts needed on a headless server), as layout.png's.
    return ImageFont.load_default(size=size)
