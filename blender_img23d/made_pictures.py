"""A picture made from the panel's Prompt, brought into Blender: loaded as an image and picked in the panel (its
preview shown), by Make Picture and by a Generate from a prompt. Picked, it is what the next Generate, Detect and
Re-texture read, and Regenerate finds it in the run folder it came from (``input.png``). Make Picture's
variations are loaded beside it (``load``), for the artist to pick another."""

from __future__ import annotations

from pathlib import Path

import bpy

from . import scene_import


def pick(scene: bpy.types.Scene, path: str, notes: list[str]) -> bpy.types.Image | None:
    """The picture at ``path`` (from the backend's ``picture`` artifact) loaded as an image and picked in
    ``scene``'s panel; None, with one sentence in ``notes``, when it cannot be read."""
    image = load(path, notes)
    if image is not None:
        settings = scene.img23d
        settings.image_source = "DATABLOCK"
        settings.image = image
    return image


def load(path: str, notes: list[str], number: int = 1) -> bpy.types.Image | None:
    """The picture at ``path`` loaded as an image with its preview, not picked: Make Picture's variation ``number``
    (from 1) for the artist to pick in the panel's Image; None, with one sentence in ``notes``, when it cannot be
    read."""
    try:
        # Checked from its header first, as every image from a backend is: a 12,000 px picture took 600 MB.
        scene_import.check_image(Path(path))
        image = bpy.data.images.load(str(Path(path)), check_existing=True)
    except scene_import.ImportFailed as exc:
        notes.append(f"The picture made from the prompt is not loaded: {exc}")
        return None
    except RuntimeError as exc:  # Blender's sentence for a file it cannot read
        notes.append(f"The picture made from the prompt could not be loaded from {path}: {exc}")
        return None
    # Named for its run folder: every run's picture is input.png, and the artist tells them apart by run.
    image.name = f"{Path(path).parent.name} picture" + (f" v{number}" if number > 1 else "")
    # Kept in the .blend while not picked: the ones to pick from had no user and were gone once it was reopened.
    image.use_fake_user = True
    image.preview_ensure()
    return image
