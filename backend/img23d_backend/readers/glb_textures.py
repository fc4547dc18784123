"""A GLB's (or a text glTF's) textures checked from their headers before anything decodes them, for
``retopo`` and ``retexture``.

trimesh decodes every image a GLB lists as it loads it: a 1.5 MB GLB with three 16-bit 8192 x 8192
PNGs took 5.2 GB that way, and one with a 16384 x 16384 texture lost it without a word. img23d reads
two of a GLB's textures, the colour (``baseColorTexture``) and the ``metallicRoughnessTexture``, in
8 bits. So each image is read through the add-on's own walker (``img23d_protocol.glb_images``) and
its size from its header (``image_headers``), nothing decoded, and before trimesh sees the file:

- a colour or metallicRoughness image larger than img23d's largest texture (``LARGEST_TEXTURE``),
  16-bit, or whose size cannot be read, is left out, and a sentence says so (``TexturePlan.left_out``);
- every other image (a normal map, an occlusion map: img23d reads none of them) is left out unread.

An image left out is replaced by a 1 x 1 PNG and the materials' references to it are removed, in a
copy of the GLB written beside the conversion (its binary chunk copied as it is); a GLB whose images
are all kept is read as it is. A file that is not a whole GLB is refused in one sentence. A text
glTF (``.gltf``) is checked the same way: its images are files or ``data:`` URIs beside its JSON, and
its checked copy is a ``.gltf`` whose relative URIs still resolve from the original's folder.
"""

from __future__ import annotations

import json
import os
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from img23d_protocol import OPTION_RANGES
from img23d_protocol.glb_images import image_window, read_glb
from img23d_protocol.image_headers import UnreadableImage, Window, image_size

from ..gltf.document import node_triangles, read_gltf_json
from ..gltf.writer import write_glb_document

# The largest texture a job makes (the add-on's texture guard's bound, from the same options).
LARGEST_TEXTURE = int(max(OPTION_RANGES["texture_size"].high, OPTION_RANGES["bake_size"].high))
READ_TEXTURES = ("baseColorTexture", "metallicRoughnessTexture")  # in each material's pbrMetallicRoughness
_WHAT = {"baseColorTexture": "colour texture", "metallicRoughnessTexture": "metallicRoughness texture"}
# A 1 x 1 grey PNG, in place of an image left out: trimesh decodes it in microseconds.
_BLANK_PNG = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNoAAAAggCB"
              "d81ytgAAAABJRU5ErkJggg==")


@dataclass
class TexturePlan:
    """What of a GLB is read: ``source`` (the GLB itself, or a copy without the images left out)
    and one sentence for each texture img23d reads that was left out."""

    source: Path
    left_out: list[str] = field(default_factory=list)
    # Every mesh node's triangles, each node's copy counted, from the JSON read here (``node_triangles``): None
    # where the counts are not glTF's numbers.
    triangles: int | None = None


def _lookup(items: object, index: object) -> Any:
    if isinstance(items, list) and isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(items):
        return items[index]
    return None


def _texture_uses(document: dict) -> dict[int, list[tuple[dict, str]]]:
    """Image index -> the (pbrMetallicRoughness, key) pairs of the textures img23d reads that show it."""
    uses: dict[int, list[tuple[dict, str]]] = {}
    for material in document.get("materials") or []:
        pbr = material.get("pbrMetallicRoughness") if isinstance(material, dict) else None
        if not isinstance(pbr, dict):
            continue
        for key in READ_TEXTURES:
            info = pbr.get(key)
            texture = _lookup(document.get("textures"), info.get("index")) if isinstance(info, dict) else None
            for source in _sources(texture):
                if _lookup(document.get("images"), source) is not None:
                    uses.setdefault(source, []).append((pbr, key))
    return uses


def _sources(texture: object) -> list[Any]:
    """A texture's images: its ``source``, and an extension's (``EXT_texture_webp`` and its kin name one)."""
    if not isinstance(texture, dict):
        return []
    extensions = texture.get("extensions")
    more = [ext.get("source") for ext in extensions.values() if isinstance(ext, dict)] \
        if isinstance(extensions, dict) else []
    return [texture.get("source"), *more]


def why_left_out(window: Window) -> str | None:
    """Why an image img23d would read is left out, as a phrase; None to keep it."""
    try:
        size = image_size(window)  # with its bit depth, from the header
    except UnreadableImage as exc:
        return f"cannot be read ({exc})"
    if size.width > LARGEST_TEXTURE or size.height > LARGEST_TEXTURE:
        return f"is {size}, more than img23d's largest texture ({LARGEST_TEXTURE:,} x {LARGEST_TEXTURE:,})"
    if size.bits > 8:
        return f"is {size.bits}-bit; img23d reads 8-bit textures"
    return None


def plan_textures(path: Path, folder: Path) -> TexturePlan:
    """Check the GLB ``path``'s images from their headers; where any is left out, write the GLB
    without it into ``folder`` and name that copy as the source. ``ProtocolError(bad_request)``
    for a file that is not a whole GLB."""
    with ExitStack() as files:
        handle = files.enter_context(open(path, "rb"))
        text_gltf = path.suffix.lower() == ".gltf"
        document, binary = (read_gltf_json(handle, path.name), None) if text_gltf else \
            read_glb(handle, os.fstat(handle.fileno()).st_size, path.name)
        triangles = node_triangles(document)  # before any image is left out of it
        images = document.get("images")
        if not isinstance(images, list) or not images:
            return TexturePlan(path, triangles=triangles)
        uses = _texture_uses(document)
        plan, changed = TexturePlan(path, triangles=triangles), False
        for index in range(len(images)):
            why = None
            if index in uses:
                try:
                    why = why_left_out(image_window(document, images[index], binary, path.parent, files))
                except UnreadableImage as exc:
                    why = f"cannot be read ({exc})"
                if why is None:
                    continue
                names = sorted({_WHAT[key] for _, key in uses[index]})
                plan.left_out.append(f"{path.name}: its {' and '.join(names)} (image {index}) {why}, so it is "
                                     "left out")
                for pbr, key in uses[index]:
                    pbr.pop(key, None)
            images[index] = {"uri": _BLANK_PNG}  # left out, or never read here: nothing large to decode
            changed = True
        if not changed:
            return plan
        plan.source = folder / f"textures-checked{path.suffix}"
        if text_gltf:
            plan.source.write_text(json.dumps(document, separators=(",", ":")), encoding="utf-8")
        else:
            write_glb_document(plan.source, document, binary)  # the input's own asset kept
    return plan
