"""Every GLB img23d writes, written here: a trimesh mesh or scene (``export_glb``), a pygltflib document (a rig:
``write_gltf``), or a GLB's JSON document beside its binary chunk as it is (``write_glb_document``). Each output
says what made it in its ``asset`` (``made_by``: img23d's version, and each model with its licence);
``tests/test_boundaries.py`` checks that no other module writes a GLB.

trimesh's textures are written with their PNGs compressed for speed:

trimesh's glTF writer encodes each texture with Pillow's PNG defaults (zlib level 6), which took 2.6 s for a
2048 px painted texture on the 2-core development CPU and most of a textured object's export (2.8 to 2.9 s a
target on an H200's host, two textures with its material maps: ``bench/results/chain-full-size-gpu-h200.json``).
Level 1 with zlib's run-length strategy (``Z_RLE``: "almost as fast as Huffman-only, but better compression for
PNG image data", zlib's manual) takes 0.7 s for the same texture and a file 4 % larger; the pixels are the same,
PNG being lossless (``bench/host_stages.py``). Pillow reads a save's options from the image's own
``encoderinfo`` too (its ``Image.save`` documents it), which is how they reach the images trimesh saves.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any, Iterator

from img23d_protocol.image_headers import Window

from ..runs.folders import QUICK_PNG  # every PNG img23d writes, a run folder's pictures too
from .made_by import MadeBy

# The texture slots of trimesh's materials (PBRMaterial's; SimpleMaterial keeps one ``image``).
_TEXTURE_SLOTS = ("baseColorTexture", "metallicRoughnessTexture", "normalTexture", "emissiveTexture",
                  "occlusionTexture", "image")
_JSON_CHUNK, _BIN_CHUNK = 0x4E4F534A, 0x004E4942


def quick_png(image: Any) -> Any:
    """``image`` (a PIL image) set to be saved with ``QUICK_PNG`` whoever saves it; returned for chaining."""
    image.encoderinfo = {**getattr(image, "encoderinfo", {}), **QUICK_PNG}
    return image


def textures(geometry: Any) -> Iterator[Any]:
    """The PIL images of ``geometry``'s materials (a trimesh mesh, or every mesh of a scene), each once."""
    meshes = geometry.geometry.values() if hasattr(geometry, "geometry") else (geometry,)
    seen: set[int] = set()
    for mesh in meshes:
        material = getattr(getattr(mesh, "visual", None), "material", None)
        for slot in _TEXTURE_SLOTS:
            image = getattr(material, slot, None)
            if hasattr(image, "save") and id(image) not in seen:
                seen.add(id(image))
                yield image


def export_glb(geometry: Any, path: Path | str, made: MadeBy, **options: Any) -> None:
    """``geometry`` written to ``path`` as a GLB by trimesh (``options`` are its exporter's), its textures
    encoded with ``QUICK_PNG``, its ``asset`` saying what ``made`` it."""
    for image in textures(geometry):
        quick_png(image)

    def stamp(tree: dict[str, Any]) -> None:
        tree["asset"] = made.asset()

    geometry.export(str(path), file_type="glb", tree_postprocessor=stamp, **options)


def write_gltf(gltf: Any, path: Path | str, made: MadeBy) -> None:
    """A pygltflib document (its binary blob set) written to ``path`` as a GLB, its ``asset`` saying what
    ``made`` it (what it said before is replaced: the caller carries an input's models into ``made``)."""
    asset = made.asset()
    # The document's own Asset class (pygltflib's): this module imports no pygltflib, since the command line
    # imports it through the readers and must start with no third-party package (tests/backend/commands/test_cli.py).
    gltf.asset = type(gltf.asset)(version=asset["version"], generator=asset["generator"],
                                  copyright=asset["copyright"], extras=asset["extras"])
    gltf.save_binary(str(path))


def write_glb_document(path: Path | str, document: dict[str, Any], binary: Window | bytes | None,
                       made: MadeBy | None = None) -> None:
    """A GLB of the JSON ``document`` and ``binary`` (a window on another GLB's binary chunk, copied a megabyte
    at a time, not held whole; or its bytes); with ``made``, its ``asset`` says so, else the document's own is
    kept (a checked copy of an input, read and not given out)."""
    if made is not None:
        document = {**document, "asset": made.asset()}
    text = json.dumps(document, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 4)  # chunks are 4-byte aligned; JSON pads with spaces
    length = 0 if binary is None else binary.length if isinstance(binary, Window) else len(binary)
    padding = -length % 4
    total = 12 + 8 + len(text) + ((8 + length + padding) if binary is not None else 0)
    with open(path, "wb") as out:
        out.write(struct.pack("<4sII", b"glTF", 2, total))
        out.write(struct.pack("<II", len(text), _JSON_CHUNK) + text)
        if binary is None:
            return
        out.write(struct.pack("<II", length + padding, _BIN_CHUNK))
        if isinstance(binary, Window):
            binary.handle.seek(binary.start)
            _copy(binary.handle, out, length)
        else:
            out.write(binary)
        out.write(b"\0" * padding)


def _copy(source: Any, target: Any, count: int) -> None:
    while count > 0:
        data = source.read(min(count, 1 << 20))
        if not data:
            raise OSError("the GLB's binary chunk ended early")
        target.write(data)
        count -= len(data)
