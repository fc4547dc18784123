"""The one axis turn between Blender's frame and glTF's, as the backend's rooms reach it: the protocol's
(``img23d_protocol.frame``), which the add-on reads too, so both sides turn a mesh the same way."""

from __future__ import annotations

from img23d_protocol.frame import BLENDER_TO_GLTF, from_gltf, to_gltf

__all__ = ["BLENDER_TO_GLTF", "from_gltf", "to_gltf"]
