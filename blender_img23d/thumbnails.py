"""Thumbnails of the pictures the artist picks (the main picture and each view), made only when the
file's header, read alone (``img23d_protocol.image_headers``: nothing decoded), says Blender can hold
it small. Making a thumbnail decodes the whole file on Blender's UI thread: a 16-bit 8192 x 8192 PNG
took 1 GB more and 6 s, a 20000 x 20000 one 1.5 GB and 11.5 s, before this check. A picture past the
bound shows no thumbnail and says why; the job still uses it (the backend reads pictures with bounds
of its own and says in one sentence when it cannot)."""

from __future__ import annotations

import os
from pathlib import Path

import bpy
from img23d_protocol.image_headers import UnreadableImage, Window, image_size

# What Blender may hold for a thumbnail's sake: a 4096 x 4096 picture at 8 bits (the backend's own
# working size is at most 4096 a side), 64 MB.
PREVIEW_MAX_BYTES = 4096 * 4096 * 4


def thumbnail_image(path: str) -> tuple["bpy.types.Image | None", str]:
    """The image datablock of ``path`` with its thumbnail made, and "" ; or None and why no thumbnail
    is shown (one phrase; "" for no path at all). Never decodes a picture over ``PREVIEW_MAX_BYTES``."""
    if not path:
        return None, ""
    name = Path(path).name
    try:
        with open(path, "rb") as handle:
            size = image_size(Window(handle, 0, os.fstat(handle.fileno()).st_size))
    except OSError as exc:
        return None, f"{name} cannot be read: {exc.strerror or exc}"
    except UnreadableImage as exc:
        return None, f"no thumbnail: {exc}"
    if size.held_bytes > PREVIEW_MAX_BYTES:
        return None, f"no thumbnail: {name} is {size}, too large to show here (the job still uses it)"
    try:
        image = bpy.data.images.load(path, check_existing=True)
    except RuntimeError:  # not an image Blender reads: the job says so in one sentence
        return None, f"no thumbnail: Blender cannot read {name}"
    image.preview_ensure()  # here, when the picture is chosen: draw() never does work
    return image, ""
