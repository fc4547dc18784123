"""Each written file read back and proved printable: what ``print.json`` tells the artist they can trust.

For every object, in the 3MF (read by lib3mf) and in its STL (read by trimesh), as the file holds it:

- watertight: every edge has exactly two faces, wound the same way (trimesh), and manifold3d builds a solid
  of it (its constructor refuses anything else: ``status`` NoError);
- a positive volume, which with consistent winding means the faces point outward;
- no self-intersection (``intersections``);
- its height within ``TOLERANCE_MM`` of what the print asked for it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .intersections import crossing_pairs
from .repair import to_manifold

TOLERANCE_MM = 0.1


@dataclass
class FileCheck:
    file: str
    watertight: bool
    volume_mm3: float
    outward: bool
    self_intersections: int       # crossing triangle pairs found (counted up to 1000)
    size_mm: list[float]          # x, y, z extents as read
    height_error_mm: float        # the read height less the height asked for

    @property
    def passed(self) -> bool:
        return (self.watertight and self.outward and self.volume_mm3 > 0 and self.self_intersections == 0
                and abs(self.height_error_mm) <= TOLERANCE_MM)

    def failures(self) -> list[str]:
        """What failed, in words (none when it passed)."""
        said = []
        if not self.watertight:
            said.append("it is not watertight")
        if not (self.outward and self.volume_mm3 > 0):
            said.append("its volume is not positive (faces inward)")
        if self.self_intersections:
            said.append(f"{self.self_intersections} pairs of its triangles cross")
        if abs(self.height_error_mm) > TOLERANCE_MM:
            said.append(f"its height is {self.height_error_mm:+.2f} mm off")
        return said

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def check_mesh(file: str, vertices: np.ndarray, faces: np.ndarray, height_mm: float) -> FileCheck:
    """The proofs for one object's mesh as a file holds it."""
    import manifold3d
    import trimesh

    mesh = trimesh.Trimesh(vertices, faces, process=False)
    closed = bool(len(faces) and mesh.is_watertight and mesh.is_winding_consistent)
    solid = to_manifold(vertices, faces) if len(faces) else None
    watertight = closed and solid is not None and solid.status() == manifold3d.Error.NoError
    volume = float(mesh.volume) if closed else 0.0
    size = (vertices.max(axis=0) - vertices.min(axis=0)) if len(vertices) else np.zeros(3)
    crossings = len(crossing_pairs(vertices, faces)) if watertight else 0
    return FileCheck(file, watertight, round(volume, 3), volume > 0, crossings,
                     [round(float(v), 3) for v in size], round(float(size[2]) - height_mm, 4))
