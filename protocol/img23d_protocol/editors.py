"""The image editors an artist chooses between: which model fills in the hidden parts of an object's crop.

The add-on's preference and the backend's ``--editor`` offer these names (the backend's editor
table holds one model per name: tests/backend/families/test_families.py holds the two to each other).
"""

from __future__ import annotations

from dataclasses import dataclass

from .tables import by_name


@dataclass(frozen=True)
class ImageEditor:
    name: str           # the command line's --editor, the add-on's preference
    label: str          # what the add-on shows
    description: str    # the add-on's tooltip: what it does, its size and the card it needs


IMAGE_EDITORS: dict[str, ImageEditor] = by_name(
    ImageEditor("flux2-klein-4b", "FLUX.2 [klein] 4B", "Completes hidden parts; 16 GB, runs on a 12 GB card"),
    ImageEditor("qwen-image-edit-2511", "Qwen-Image-Edit-2511",
                "Completes hidden parts; 58 GB, for a GPU of 48 GB or more"),
)
DEFAULT_IMAGE_EDITOR = "flux2-klein-4b"
