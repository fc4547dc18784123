"""What the paint step's benchmarks share (``paint_bake.py``, ``paint_fill.py``): their command line (the mesh,
the texture's side, repeats, the JSON) and the mesh unwrapped and set up for the six views, as the paint step
has it at the add-on's default texture."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trimesh

from img23d_backend.families.hunyuan3d.paint import PaintSettings, _mesh_renderer  # the caller put backend/ on the path
from img23d_backend.uv.uvs import with_uvs
from timing import EXAMPLE_MESH


@dataclass
class PaintScene:
    args: argparse.Namespace
    settings: PaintSettings
    mesh: Any        # trimesh.Trimesh, unwrapped
    render: Any      # hy3dgen's MeshRender with the mesh set


def paint_scene(doc: str) -> PaintScene:
    """The benchmark's arguments (described by ``doc``'s first line) and its mesh, ready to render and bake."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--mesh", type=Path, default=EXAMPLE_MESH)
    parser.add_argument("--texture-size", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    settings = PaintSettings(texture_size=args.texture_size, render_size=args.texture_size)
    mesh = with_uvs(trimesh.load(str(args.mesh), force="mesh", process=False), None)
    return PaintScene(args, settings, mesh, _mesh_renderer(mesh, settings, "cpu"))
