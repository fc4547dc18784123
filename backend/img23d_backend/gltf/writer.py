"""A trimesh mesh or scene written as a GLB, its textures' PNGs compressed for speed: the one way img23d writes one.

trimesh's glTF writer encodes each texture with Pillow's PNG defaults (zlib level 6), which took 2.6 s for a
2048 px painted texture on the 2-core development CPU and most of a textured object's export (2.8 to 2.9 s a
target on an H200's host, two textures with its material maps: ``bench/results/chain-full-size-gpu-h200.json``).
Level 1 with zlib's run-length strategy (``Z_RLE``: "almost as fast as Huffman-only, but better compression for
PNG image data", zlib's manual) takes 0.7 s for the same texture and a file 4 % larger; the pixels are the same,
PNG being lossless (``bench/host_stages.py``). Pillow reads a save's options from the image's own
``encoderinfo`` too (its ``Image.save`` documents it), which is how they reach the images trimesh saves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from ..runs.folders import QUICK_PNG  # every PNG img23d writes, a run folder's pictures too
# The texture slots of trimesh's materials (PBRMaterial's; SimpleMaterial keeps one ``image``).
_TEXTURE_SLOTS = ("baseColorTexture", "metallicRoughnessTexture", "normalTexture", "emissiveTexture",
                  "occlusionTexture", "image")


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


def export_glb(geometry: Any, path: Path | str, **options: Any) -> None:
    """``geometry`` written to ``path`` as a GLB by trimesh (``options`` are its exporter's), its textures
    encoded with ``QUICK_PNG``."""
    for image in textures(geometry):
        quick_png(image)
    geometry.export(str(path), file_type="glb", **options)
