"""The pieces as glTF scenes: one per part, and all parts together, each a node and a mesh named after
its part, in the input file's own frame and size (glTF's axes: the turn the reader made, undone).

Each part has a flat colour of its own (the grounding overlay's palette), the same in its own file and
in the combined one, so the parts are told apart at a glance after import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import trimesh

from ..gltf.frame import to_gltf
from ..gltf.writer import export_glb as write_glb
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


def export_glb(scene: trimesh.Scene, path: Path, asset_extras: dict[str, Any] | None = None,
               include_normals: bool = False) -> None:
    """``scene`` as a GLB at ``path``; ``asset_extras`` in its ``asset.extras`` (where a file says what made it
    and under which licence: every glTF reader keeps the asset object); ``include_normals`` for a baked mesh,
    whose normal map was made in the frame of its own normals."""
    def stamp(tree: dict[str, Any]) -> None:
        if asset_extras:
            tree.setdefault("asset", {})["extras"] = dict(asset_extras)

    write_glb(scene, path, tree_postprocessor=stamp, include_normals=include_normals)
