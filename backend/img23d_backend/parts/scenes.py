"""The pieces as glTF scenes: one per part, and all parts together, each a node and a mesh named after
its part, in the input file's own frame and size (glTF's axes: the turn the reader made, undone).

Each part has a flat colour of its own (the grounding overlay's palette), the same in its own file and
in the combined one, so the parts are told apart at a glance after import.
"""

from __future__ import annotations

import numpy as np
import trimesh

from ..gltf.frame import to_gltf
from ..grounding.driver import PALETTE
from .split.pieces import Piece


def part_mesh(name: str, vertices: np.ndarray, faces: np.ndarray, index: int) -> trimesh.Trimesh:
    """The part ``name`` (``vertices`` in Blender's axes) as a mesh in glTF's, coloured as the ``index``-th part."""
    colour = (*PALETTE[index % len(PALETTE)], 255)
    material = trimesh.visual.material.PBRMaterial(name=name, baseColorFactor=colour, metallicFactor=0.0,
                                                   roughnessFactor=0.8)
    mesh = trimesh.Trimesh(to_gltf(vertices), faces, process=False)
    mesh.visual = trimesh.visual.TextureVisuals(material=material)
    return mesh


def scene_of(pieces: list[tuple[int, Piece]]) -> trimesh.Scene:
    """A scene of ``(index, piece)`` pairs, each a node and a mesh named after its part."""
    scene = trimesh.Scene()
    for index, piece in pieces:
        scene.add_geometry(part_mesh(piece.name, piece.vertices, piece.faces, index), node_name=piece.name,
                           geom_name=piece.name)
    return scene
