"""Run by the backend's Python (tests/blender/test_addon_quad_tangents.py): a bumpy sphere finished as
quads by the calls a job's finish makes (``jobs.steps.finishing.finish_object``: the quads, the bake, the
GLB; without the session's model registry, whose imports would take most of the test's time), then
the frame the backend baked its normal map in, per corner in Blender's axes: the bake's own
tangents, read through the same corners as the GLB's. Writes ``finished.glb`` and ``frame.npz``."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import trimesh

from img23d_backend.finish.bake import BakeSettings, bake
from img23d_backend.finish.glb import write_finished_glb
from img23d_backend.gltf.made_by import MadeBy
from img23d_backend.finish.retopo import RetopoSettings, retopologize


def _bumpy_sphere() -> trimesh.Trimesh:
    sphere = trimesh.creation.icosphere(subdivisions=4)
    x, y, z = sphere.vertices.T
    radius = 1.0 + 0.08 * np.sin(5 * x) * np.cos(4 * y) + 0.05 * np.sin(7 * z)
    return trimesh.Trimesh(sphere.vertices * radius[:, None], sphere.faces, process=False)


def _blender_axes(points: np.ndarray) -> np.ndarray:
    return np.stack([points[..., 0], -points[..., 2], points[..., 1]], axis=-1)


def main(folder: Path) -> None:
    high = _bumpy_sphere()
    low = retopologize(high.vertices, high.faces, RetopoSettings("quads", 300))
    assert low.quads is not None, low.fallback
    quads = len(low.quads)
    baked = bake(high, low.vertices, low.triangles, BakeSettings(size=256, padding=4), quads=quads)
    write_finished_glb(folder / "finished.glb", baked, quads, MadeBy())
    corners = baked.faces
    np.savez(folder / "frame.npz", positions=_blender_axes(baked.vertices[corners]), uvs=baked.uvs[corners],
             normals=_blender_axes(baked.normals[corners]), tangents=_blender_axes(baked.tangents[corners][..., :3]),
             signs=baked.tangents[corners][..., 3],
             quads=quads)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
