"""Meshes from files for Re-texture outside Blender: a GLB, OBJ or PLY as the add-on's ``.npz``.

The add-on sends its mesh as arrays in Blender's object space (Z up; ``stages/retexture.py``
says which). A glTF file is Y up, and Blender's importer turns (x, y, z) into (x, -z, y): the
same turn here makes a mesh painted from the command line look as it would in Blender. Its
triangles stay as they are; its UVs, where it has them, become per-corner UVs.
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from img23d_protocol import ErrorCode, ProtocolError

MESH_SUFFIXES = (".glb", ".gltf", ".obj", ".ply", ".npz")


def check_mesh_path(path: Path) -> None:
    """Raise ``ProtocolError(bad_request)`` unless ``path`` is a file of a kind read here (by its name)."""
    if not path.is_file():
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"no mesh file at {path}")
    if path.suffix.lower() not in MESH_SUFFIXES:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{path.name} is not a mesh file img23d reads "
                                                   f"({', '.join(MESH_SUFFIXES)})")


@contextmanager
def artist_mesh_file(path: Path) -> Iterator[Path]:
    """``path`` as the add-on's mesh file: itself for a ``.npz``, else a converted copy for as long
    as the block runs. Raises ``ProtocolError(bad_request)`` with one sentence for a bad file."""
    check_mesh_path(path)
    if path.suffix.lower() == ".npz":
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="img23d-mesh-") as folder:
        target = Path(folder) / f"{path.stem[:60] or 'mesh'}.npz"
        _convert(path, target)
        yield target


def _convert(source: Path, target: Path) -> None:
    import numpy as np
    import trimesh

    try:
        loaded = trimesh.load(source, force="mesh", process=False)
    except Exception as exc:  # trimesh raises many kinds for a damaged file: all mean "cannot read it"
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"the mesh file {source.name} cannot be read",
                            f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"the mesh file {source.name} has no faces to paint")
    vertices = np.asarray(loaded.vertices, dtype=np.float32)
    positions = np.stack([vertices[:, 0], -vertices[:, 2], vertices[:, 1]], axis=1)  # glTF Y up -> Blender Z up
    triangles = np.asarray(loaded.faces, dtype=np.int64)
    loops = np.arange(triangles.size, dtype=np.int64).reshape(-1, 3)  # one loop per triangle corner
    arrays = {"positions": positions, "triangles": triangles, "triangle_loops": loops}
    uv = getattr(loaded.visual, "uv", None)
    if uv is not None and len(uv) == len(vertices):
        arrays["loop_uvs"] = np.asarray(uv, dtype=np.float32)[triangles].reshape(-1, 2)
    np.savez(target, **arrays)
