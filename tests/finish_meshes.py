"""Meshes the finish once shredded as quads (issue 54), made with numpy and trimesh: an open-topped
can whose wall and rim are thinner than a quad, and a mug whose body and handle are two materials
(a GLB of two primitives). Shared by the backend's tests and Blender's (which run the backend's
command on them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh


def _lathe(profile: list[tuple[float, float]], sections: int) -> trimesh.Trimesh:
    """The closed surface swept by a closed (radius, height) outline about the Y axis (glTF's up)."""
    outline = np.asarray(profile, dtype=np.float64)
    n = len(outline)
    angles = np.linspace(0.0, 2.0 * np.pi, sections, endpoint=False)
    points = np.array([[r * np.cos(a), y, -r * np.sin(a)] for a in angles for r, y in outline])
    faces = []
    for i in range(sections):
        j = (i + 1) % sections
        for k in range(n):
            m = (k + 1) % n
            faces += [[i * n + k, i * n + m, j * n + m], [i * n + k, j * n + m, j * n + k]]
    mesh = trimesh.Trimesh(points, faces, process=True)  # merges the axis's copies
    mesh.update_faces(mesh.nondegenerate_faces())
    mesh.remove_unreferenced_vertices()
    trimesh.repair.fix_normals(mesh)
    return mesh


def can(height: float = 1.0, radius: float = 0.33, wall: float = 0.015, sections: int = 48) -> trimesh.Trimesh:
    """An open-topped can: a bottom and a wall ``wall`` thick, the rim a ring of that width (closed, one part)."""
    corners = [(0.0, 0.0), (radius, 0.0), (radius, height), (radius - wall, height), (radius - wall, wall), (0.0, wall)]
    outline = []
    for (r0, y0), (r1, y1) in zip(corners, corners[1:] + corners[:1]):
        steps = max(1, int(np.hypot(r1 - r0, y1 - y0) / 0.04))
        outline += [(r0 + (r1 - r0) * s / steps, y0 + (y1 - y0) * s / steps) for s in range(steps)]
    return _lathe(outline, sections)


def _material(name: str, rgba: list[int]) -> trimesh.visual.material.PBRMaterial:
    return trimesh.visual.material.PBRMaterial(name=name, baseColorFactor=rgba, metallicFactor=0.0,
                                               roughnessFactor=1.0)


def mug_glb(path: Path) -> None:
    """A mug as two primitives: a thick-walled body (red, material "body") and a ring handle
    (blue, "handle") sunk into its side, each closed."""
    body = can(height=1.0, radius=0.4, wall=0.06, sections=40)
    handle = trimesh.creation.torus(0.2, 0.06, major_sections=32, minor_sections=12)  # a ring upright in XY
    handle.apply_translation([0.62, 0.5, 0.0])
    body.visual = trimesh.visual.TextureVisuals(material=_material("body", [200, 40, 40, 255]))
    handle.visual = trimesh.visual.TextureVisuals(material=_material("handle", [40, 40, 200, 255]))
    trimesh.Scene({"body": body, "handle": handle}).export(path)
