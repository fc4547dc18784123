"""A glTF's bounds and its JSON document, read with the standard library alone (the command line imports
``readers.meshes``, which uses both, before NumPy is loaded).

  MAX_FILE_BYTES   the largest mesh file img23d reads, and so the most a glTF's gathered bytes may total
  read_gltf_json   a text glTF's JSON document, or ``Refused`` with one sentence
  node_triangles   the triangles a document's mesh nodes hold, each node's copy counted, from its JSON alone
"""

from __future__ import annotations

import json
from typing import Any

from img23d_protocol.glb_images import Refused

# The largest mesh img23d paints or remakes has 5,000,000 triangles (``img23d_protocol.limits.MAX_TRIANGLES``):
# about 0.6 GB as an OBJ with UVs and normals and 0.2 GB in a GLB, beside which img23d reads two
# textures of at most 8,192 x 8,192 (0.27 GB each as an uncompressed RGBA PNG): 1 GiB holds them all.
MAX_FILE_BYTES = 1 << 30


def read_gltf_json(handle: Any, name: str) -> dict:
    """A text glTF's JSON document (the caller bounds the file first: ``MAX_FILE_BYTES``); ``Refused`` with
    one sentence when it is not one."""
    try:
        document = json.loads(handle.read().decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Refused(f"{name} is not read: it is not valid glTF JSON") from None
    if not isinstance(document, dict):
        raise Refused(f"{name} is not read: it is not a glTF document")
    return document


# glTF's primitive modes that make a surface: triangles (a list), a strip and a fan.
_TRIANGLES, _STRIP, _FAN = 4, 5, 6


def node_triangles(document: dict) -> int | None:
    """The triangles every node with a mesh would give, each node's copy counted (a mesh 150 nodes place is read
    150 times), from the accessors' counts alone; None for a document whose counts are not glTF's numbers (its
    reader then says what is wrong)."""
    try:
        meshes, accessors = document.get("meshes") or [], document.get("accessors") or []
        per_mesh: dict[int, int] = {}
        total = 0
        for node in document.get("nodes") or []:
            index = node.get("mesh") if isinstance(node, dict) else None
            if not isinstance(index, int) or isinstance(index, bool):
                continue
            if index not in per_mesh:
                per_mesh[index] = 0
                for primitive in meshes[index].get("primitives") or []:
                    mode = primitive.get("mode", _TRIANGLES)
                    if mode not in (_TRIANGLES, _STRIP, _FAN):
                        continue
                    corners = primitive["indices"] if "indices" in primitive else primitive["attributes"]["POSITION"]
                    count = int(accessors[corners]["count"])
                    per_mesh[index] += count // 3 if mode == _TRIANGLES else max(count - 2, 0)
            total += per_mesh[index]
        return total
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return None

