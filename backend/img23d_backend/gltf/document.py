"""A glTF's bounds and its JSON document, read with the standard library alone (the command line imports
``readers.meshes``, which uses both, before NumPy is loaded).

  MAX_FILE_BYTES   the largest mesh file img23d reads, and so the most a glTF's gathered bytes may total
  read_gltf_json   a text glTF's JSON document, or ``Refused`` with one sentence
"""

from __future__ import annotations

import json
from typing import Any

from img23d_protocol.glb_images import Refused

# The largest mesh img23d paints or remakes has 5,000,000 triangles (``img23d_protocol.mesh_file.MAX_FACES``):
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
