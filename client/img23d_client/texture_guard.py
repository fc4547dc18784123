"""The images in what is about to be imported into Blender, bounded by the bytes Blender will hold.

A GLB or a texture can come from another machine (a backend over SSH, a run brought from a host)
or from any run folder, and Blender's glTF importer takes its images whatever their size: a GLB
under 1 MB whose texture is a 16384 x 16384 PNG imports silently, and Blender grows by about
1 GB the first time the image is looked at. What it holds grows with the bit depth too: an image
of 8 bits a sample is byte RGBA (4 bytes a pixel), one above (a 16-bit PNG) float RGBA (16 bytes a
pixel), so three 8192 x 8192 16-bit PNGs in a 1.6 MB GLB would cost 3 GB. So before a file is
imported (``check_glb``) or loaded as an image (``check_image``), every image's size and bit depth
are read from its header (``img23d_protocol.image_headers``: nothing is decoded) and the file is refused, in one
sentence naming it, the image, its size, its bit depth and the bytes Blender would hold, when

- an image would hold more than img23d's largest texture does (``MAX_IMAGE_BYTES``: the largest
  ``texture_size`` or ``bake_size`` the protocol allows, 8-bit: 256 MB). img23d itself makes only
  8-bit images; a 16-bit one is not refused for its depth, only held to the same bytes (a 4096 x
  4096 16-bit map passes), since a texture painted elsewhere may well be 16-bit;
- its images together would hold more than three of those (``MAX_FILE_BYTES``, 768 MB: a finished
  object's colour, metallicRoughness and normal maps);
- the imported run's images would pass its budget (``RunBudget``, ``MAX_RUN_BYTES``, 4 GB): one
  account shared by every file one job, Import Run or Import Run from Host brings into Blender,
  so 32 names, each a hostile host's largest allowed file, cannot add up to 25 GB. A legitimate
  run stays well inside it: 32 finished objects at bake size 2048, each a low and a high mesh
  with three 2048 x 2048 maps, hold 3 GB.

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
from dataclasses import dataclass, field
from pathlib import Path

import img23d_protocol as protocol
from img23d_protocol import image_headers
from img23d_protocol.glb_images import Refused, image_window, read_glb
from img23d_protocol.image_headers import ImageSize, UnreadableImage, Window, image_size

ErrorCode = protocol.ErrorCode
ProtocolError = protocol.ProtocolError

LARGEST_TEXTURE = int(max(protocol.OPTION_RANGES["texture_size"].high, protocol.OPTION_RANGES["bake_size"].high))
# img23d's largest texture as Blender holds it: 8-bit, so byte RGBA.
MAX_IMAGE_BYTES = LARGEST_TEXTURE ** 2 * image_headers.BYTE_PIXEL
# A finished object's GLB: its colour, metallicRoughness and normal maps, all at the largest size.
MAX_FILE_BYTES = 3 * MAX_IMAGE_BYTES
# One imported run: 32 finished objects at bake size 2048 (a low and a high mesh, three 2048 x
# 2048 maps each) hold 3 GB; this leaves a quarter more, and keeps a hostile host's 32 largest
# files (25 GB) out.
MAX_RUN_BYTES = 16 * MAX_IMAGE_BYTES
MAX_IMAGES = 64                          # images one GLB may list: img23d's have three at most
# The largest picture img23d makes from a prompt: a square of edit_size's top side (2,048 px), 8-bit as the
# backend writes it (16 MB in Blender). Make Picture's pictures share a budget of that many (``picture_budget``):
# six 8,192 x 8,192 PNGs from a hostile host, each under MAX_IMAGE_BYTES, added 1.5 GB to Blender.
MAX_PICTURE_BYTES = int(protocol.OPTION_RANGES["edit_size"].high) ** 2 * image_headers.BYTE_PIXEL


def megabytes(count: int) -> str:
    """``count`` bytes as a sentence says them: "1,024 MB" (of 2**20 bytes)."""
    return f"{count / 1024 ** 2:,.0f} MB"


_LARGEST = (f"the {megabytes(MAX_IMAGE_BYTES)} of img23d's largest texture "
            f"({LARGEST_TEXTURE:,} x {LARGEST_TEXTURE:,} pixels of 8-bit colour)")


class OverBudget(Refused):
    """A file refused because its images would pass its run's budget (``RunBudget``)."""


@dataclass
class RunBudget:
    """The bytes Blender holds of one imported run's images: one account for every file one job,
    Import Run or Import Run from Host brings in, charged as each file passes the guard (and
    refunded by the importer when that file then fails to import)."""

    limit: int = field(default_factory=lambda: MAX_RUN_BYTES)
    held: int = 0

    def charge(self, name: str, count: int, what: str = "its images") -> None:
        """Add ``count`` bytes for the file ``name``; ``OverBudget`` (nothing added) past the limit."""
        if self.held + count > self.limit:
            raise OverBudget(f"{name}: {what}, which Blender holds as {megabytes(count)}, would take this "
                             f"run past its budget of {megabytes(self.limit)} of images "
                             f"({megabytes(self.held)} held already), so it is not imported")
        self.held += count

    def refund(self, count: int) -> None:
        self.held = max(0, self.held - count)

    def left_out(self, names: list[str]) -> str:
        """The one sentence that names what this run left out past its budget."""
        return f"Left out, past the {megabytes(self.limit)} of images Blender may hold of one run: {', '.join(names)}"


def picture_budget(count: int) -> RunBudget:
    """The budget of a job's pictures made from a prompt (``count`` of them: Make Picture's, or a Generate's one):
    as many of img23d's largest picture, so each is checked from its header before it is loaded."""
    return RunBudget(limit=max(1, count) * MAX_PICTURE_BYTES)


def _image_too_big(size: ImageSize) -> bool:
    return size.held_bytes > MAX_IMAGE_BYTES


def _holds(size: ImageSize) -> str:
    return f"{size}, which Blender holds as {megabytes(size.held_bytes)}, more than {_LARGEST}"


def check_image(path: Path, budget: RunBudget | None = None) -> ImageSize:
    """The size of the image file ``path`` (a texture, a run's picture); ``Refused`` when it
    cannot be read from its header or Blender would hold more of it than ``MAX_IMAGE_BYTES``;
    ``OverBudget`` when it would take ``budget`` past its limit (charged when it passes)."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            size = image_size(Window(handle, 0, os.fstat(handle.fileno()).st_size))
    except OSError as exc:
        raise ProtocolError(ErrorCode.DISK, f"{path.name} cannot be read: {exc.strerror or exc}", str(exc)) from exc
    except UnreadableImage as exc:
        raise Refused(f"{path.name} is not loaded: {exc}") from None
    if _image_too_big(size):
        raise Refused(f"{path.name} is {_holds(size)}, so it is not loaded")
    if budget is not None:
        budget.charge(path.name, size.held_bytes, "this image")
    return size


def check_glb(path: Path, budget: RunBudget | None = None) -> list[ImageSize]:
    """The sizes of the images the GLB ``path`` holds or names, in the document's order;
    ``Refused`` for a file that is not a whole GLB, an image whose size cannot be read, one Blender
    would hold as more than ``MAX_IMAGE_BYTES``, or all of them together as more than
    ``MAX_FILE_BYTES``; ``OverBudget`` when they would take ``budget`` past its limit (charged
    with their bytes when they pass)."""
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
                if _image_too_big(size):
                    raise Refused(f"{name}: its image {index} is {_holds(size)}, so it is not imported")
                sizes.append(size)
    except OSError as exc:
        raise ProtocolError(ErrorCode.DISK, f"{name} cannot be read: {exc.strerror or exc}", str(exc)) from exc
    total = sum(size.held_bytes for size in sizes)
    if total > MAX_FILE_BYTES:
        raise Refused(f"{name}: its {len(sizes)} images ({_depths(sizes)}) are held by Blender as "
                      f"{megabytes(total)}, more than the {megabytes(MAX_FILE_BYTES)} of three of img23d's "
                      "largest textures, so it is not imported")
    if budget is not None:
        budget.charge(name, total)
    return sizes


def _depths(sizes: list[ImageSize]) -> str:
    """"2 of 16-bit colour, 1 of 8-bit colour": what the sentence about a file's images says."""
    counts: dict[int, int] = {}
    for size in sizes:
        counts[size.bits] = counts.get(size.bits, 0) + 1
    return ", ".join(f"{count} of {bits}-bit colour" for bits, count in sorted(counts.items(), reverse=True))

