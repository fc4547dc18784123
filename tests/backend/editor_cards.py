"""The image editors' preflight in the tests: a GPU card of a given size, and an editor's parts as
they would sit on it, from the published parameter counts."""

from __future__ import annotations

import torch

from img23d_backend.catalog import EDITORS
from img23d_backend.models.preflight import Room

GIB = 1 << 30
CUDA = torch.device("cuda")


def card(gib: float, host_gib: int) -> Room:
    """A ``gib`` GiB GPU of its own (not memory shared with the host) in a machine of ``host_gib`` GiB."""
    return Room(host=host_gib * GIB, device=int(gib * GIB), shared=False)


def bfloat16_parts(parameters: dict[str, int]) -> dict[str, int]:
    """Each part's bytes in bfloat16, as an editor runs on a GPU, from its parameter count."""
    return {part: count * 2 for part, count in parameters.items()}


def working_pixels(editor: str) -> int:
    """The pixels ``editor`` edits a crop at."""
    return EDITORS[editor].options["working_pixels"]
