"""Luma Key's row (``matting.matter.MattingRow``): its spec, the side it reads crops at and its memory figures
(its own: a 1 x 1 convolution, a few bytes a pixel, not measured on a device)."""

from __future__ import annotations

from img23d_backend.matting.matter import MattingMemory, MattingRow
from img23d_backend.models.specs import ModelSpec

NAME = "luma-key"
REPO = "test/luma-key"
SIDE = 64

SPEC = ModelSpec(role="matting", repo_id=REPO, allow_patterns=("key.pt",), exact_files=True, size_bytes=1 << 10,
                 options={"matting": NAME, "input_size": SIDE})

ROWS: dict[str, MattingRow] = {
    NAME: MattingRow(NAME, SPEC, tiny_folder=NAME,
                     memory=MattingMemory(bytes_per_input_pixel=16, batch_bytes_per_input_pixel=8,
                                          published_bytes=1 << 10)),
}
