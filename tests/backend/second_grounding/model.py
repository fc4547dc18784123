"""Colour Words' row (``grounding.grounder.GroundingRow``): its spec, named by its one file, and its tiny replica,
which reads a picture at most ``TINY_PIXELS`` large (a larger one is shrunk, its boxes given back in the
picture's own pixels)."""

from __future__ import annotations

from img23d_backend.grounding.grounder import GroundingRow
from img23d_backend.models.specs import ModelSpec

NAME = "colour-words"
REPO = "test/colour-words"
TINY_PIXELS = 96 * 96

SPEC = ModelSpec(role="grounding", repo_id=REPO, allow_patterns=("palette.pt",), exact_files=True, size_bytes=1 << 10,
                 options={"grounding": NAME, "max_pixels": 512 * 512})

ROWS: dict[str, GroundingRow] = {
    NAME: GroundingRow(NAME, SPEC, tiny_folder=NAME, tiny_bytes=1 << 10, tiny_options={"max_pixels": TINY_PIXELS}),
}
