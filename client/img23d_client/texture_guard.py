"""The images in what is about to be imported into Blender, bounded by their pixels first.

A GLB or a texture can come from another machine (a backend over SSH, a run brought from a host)
or from any run folder, and Blender's glTF importer takes its images whatever their size: a GLB
under 1 MB whose texture is a 16384 x 16384 PNG imports silently, and Blender grows by about
1.8 GB the first time the image is looked at. So before a file is imported (``check_glb``) or
loaded as an image (``check_image``), every image's size is read from its header
(``img23d_protocol.image_headers``: nothing is decoded) and the file is refused, in one sentence naming it and
the size found, when an image has more pixels than the largest texture img23d can make
(``LARGEST_TEXTURE``: the largest ``texture_size`` or ``bake_size`` the protocol allows), or its
images together more than three of those (a finished object's colour, metallicRoughness and normal
maps).

A GLB is read (``img23d_protocol.glb_images``, shared with the backend's mesh reader) as glTF 2.0's
binary format says: a 12-byte header, the JSON chunk, then the
binary chunk; each of the document's ``images`` is read through its ``bufferView`` (in the binary
chunk, or in a buffer its ``uri`` names), a base64 ``data:`` URI, or a relative ``uri`` naming a
file in the GLB's own folder (never outside it, never another scheme). An image whose size cannot
be read, and a file that is not a whole GLB, are refused too. Standard library only; no bpy.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path

import img23d_protocol as protocol
from img23d_protocol.glb_images import Refused, image_window, read_glb
from img23d_protocol.image_headers import ImageSize, UnreadableImage, Window, image_size

ErrorCode = protocol.ErrorCode
ProtocolError = protocol.ProtocolError

LARGEST_TEXTURE = int(max(protocol.OPTION_RANGES["texture_size"].high, protocol.OPTION_RANGES["bake_size"].high))
MAX_IMAGE_PIXELS = LARGEST_TEXTURE ** 2
# A finished object's GLB: its colour, metallicRoughness and normal maps, all at the largest size.
MAX_FILE_PIXELS = 3 * MAX_IMAGE_PIXELS
MAX_IMAGES = 64                          # images one GLB may list: img23d's have three at most


def _too_big(size: ImageSize) -> bool:
    return size.pixels > MAX_IMAGE_PIXELS


_LARGEST = f"img23d's largest texture ({LARGEST_TEXTURE:,} x {LARGEST_TEXTURE:,})"


def check_image(path: Path) -> ImageSize:
    """The size of the image file ``path`` (a texture, a run's picture); ``Refused`` when it
    cannot be read from its header or has more pixels than ``LARGEST_TEXTURE`` squared."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            size = image_size(Window(handle, 0, os.fstat(handle.fileno()).st_size))
    except OSError as exc:
        raise ProtocolError(ErrorCode.DISK, f"{path.name} cannot be read: {exc.strerror or exc}", str(exc)) from exc
    except UnreadableImage as exc:
        raise Refused(f"{path.name} is not loaded: {exc}") from None
    if _too_big(size):
        raise Refused(f"{path.name} is {size}, more than {_LARGEST}, so it is not loaded")
    return size


def check_glb(path: Path) -> list[ImageSize]:
    """The sizes of the images the GLB ``path`` holds or names, in the document's order;
    ``Refused`` for a file that is not a whole GLB, an image whose size cannot be read, one over
    ``MAX_IMAGE_PIXELS``, or all of them over ``MAX_FILE_PIXELS``."""
    path = Path(path)
    name = path.name
    try:
        with ExitStack() as files:
            handle = files.enter_context(open(path, "rb"))
            document, binary = read_glb(handle, os.fstat(handle.fileno()).st_size, name)
            images = document.get("images", [])
            if not isinstance(images, list):
                raise Refused(f"{name} is not imported: its list of images is not a list")
            if len(images) > MAX_IMAGES:
                raise Refused(f"{name} is not imported: it lists {len(images):,} images, more than the "
                              f"{MAX_IMAGES} a GLB may bring here")
            sizes: list[ImageSize] = []
            for index, image in enumerate(images):
                try:
                    size = image_size(image_window(document, image, binary, path.parent, files))
                except UnreadableImage as exc:
                    raise Refused(f"{name} is not imported: its image {index} cannot be read ({exc})") from None
                if _too_big(size):
                    raise Refused(f"{name}: its image {index} is {size}, more than {_LARGEST}, so it is not "
                                  "imported")
                sizes.append(size)
    except OSError as exc:
        raise ProtocolError(ErrorCode.DISK, f"{name} cannot be read: {exc.strerror or exc}", str(exc)) from exc
    total = sum(size.pixels for size in sizes)
    if total > MAX_FILE_PIXELS:
        raise Refused(f"{name}: its {len(sizes)} images hold {total:,} pixels, more than three of {_LARGEST}, "
                      "so it is not imported")
    return sizes
