"""Binary STL: written here with NumPy (the format is an 80-byte header, a count and 50 bytes a triangle), read
back through trimesh, a reader that shares no code with the writer.

STL has no unit: every slicer reads its numbers as millimetres, which is what they are here. Each object's file
holds it where it stands on the plate, its base at Z = 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

_RECORD = np.dtype([("normal", "<f4", 3), ("corners", "<f4", (3, 3)), ("attribute", "<u2")])


def write_stl(path: Path, vertices: np.ndarray, faces: np.ndarray, name: str) -> None:
    corners = np.asarray(vertices, dtype=np.float64)[faces]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    lengths = np.linalg.norm(normals, axis=1, keepdims=True)
    records = np.zeros(len(faces), dtype=_RECORD)
    records["normal"] = np.divide(normals, lengths, out=np.zeros_like(normals), where=lengths > 0)
    records["corners"] = corners
    # "solid" must not start a binary STL's header: some readers would take the file for ASCII.
    header = f"img23d print: {name} (millimetres)".encode("utf-8")[:80].ljust(80, b" ")
    with open(path, "wb") as handle:
        handle.write(header)
        handle.write(np.uint32(len(faces)).tobytes())
        handle.write(records.tobytes())


def read_stl(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The STL's vertices (shared where they coincide) and triangles, as trimesh reads the file."""
    import trimesh

    mesh = trimesh.load(path, file_type="stl", force="mesh", process=False)
    mesh.merge_vertices()  # an STL keeps three corners a triangle: shared again, exactly where they coincide
    return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)
