"""A picture made from the panel's Prompt, brought into Blender: loaded as an image and picked in the panel (its
preview shown), by Make Picture and by a Generate from a prompt. Picked, it is what the next Generate, Detect and
Re-texture read, and Regenerate finds it in the run folder it came from (``input.png``)."""

from __future__ import annotations

from pathlib import Path

import bpy


def pick(scene: bpy.types.Scene, path: str, notes: list[str]) -> bpy.types.Image | None:
    """The picture at ``path`` (from the backend's ``picture`` artifact) loaded as an image and picked in
    ``scene``'s panel; None, with one sentence in ``notes``, when it cannot be read."""
    try:
        image = bpy.data.images.load(str(Path(path)), check_existing=True)
    except RuntimeError as exc:  # Blender's sentence for a file it cannot read
        notes.append(f"The picture made from the prompt could not be loaded from {path}: {exc}")
        return None
    # Named for its run folder: every run's picture is input.png, and the artist tells them apart by run.
    image.name = f"{Path(path).parent.name} picture"
    image.preview_ensure()
    settings = scene.img23d
    settings.image_source = "DATABLOCK"
    settings.image = image
    return image
