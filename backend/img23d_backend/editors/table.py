"""The image editors img23d has, by choice name: the one table the backend asks (``editor.EditorRow``,
``editor.Editor``).

Each entry names its editor's folder; its row (``<folder>.model.ROW``: facts, no code) is imported when
the registry, the listing or the time estimate reads it, its code (``<folder>.editor.EDITOR``: readers,
phases, canvas, replica) when an edit or a replica build needs it. A third editor is one more folder
and one more line here.
"""

from __future__ import annotations

from pathlib import Path

from ..env.lazy_table import LazyTable
from ..env.room_table import RoomTable
from ..models.specs import ModelSpec
from .editor import Editor, EditorRow

# Each editor's choice name -> its folder (a package beside this module).
EDITOR_PACKAGES: dict[str, str] = {
    "flux2-klein-4b": f"{__package__}.flux2_klein",
    "qwen-image-edit-2511": f"{__package__}.qwen_edit",
}
# FLUX.2 [klein] 4B by default: a 12 GB card runs it in phases.
DEFAULT_EDITOR = "flux2-klein-4b"

EDITOR_TABLE: RoomTable[EditorRow, Editor] = RoomTable(EDITOR_PACKAGES, EditorRow, "editor", "EDITOR", Editor,
                                                       "editor", "image editor")
EDITOR_ROWS: LazyTable[EditorRow] = EDITOR_TABLE.rows
EDITOR_CODE: LazyTable[Editor] = EDITOR_TABLE.code
# The editor a spec is (real, tiny or full-size replica: its options name it).
row_of = EDITOR_TABLE.row_of


def tiny_editor(root: Path, choice: str = DEFAULT_EDITOR) -> ModelSpec:
    """The tiny replica of the editor ``choice`` under ``root``: the real folder's layout and files."""
    return EDITOR_ROWS[choice].tiny_spec(root)


def editor_for_pipeline(pipeline: str) -> Editor:
    """The editor whose folder's ``model_index.json`` names ``pipeline``; ``ValueError`` naming the
    pipelines img23d runs for any other."""
    for name, row in EDITOR_ROWS.items():
        if row.pipeline == pipeline:
            return EDITOR_CODE[name]
    raise ValueError(f"its model_index.json names the pipeline {pipeline!r}; img23d runs "
                     f"{', '.join(row.pipeline for row in EDITOR_ROWS.values())}")
