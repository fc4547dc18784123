"""The artist's mesh file (``img23d_protocol.mesh_file``: its one reader and writer) as NumPy arrays.

The protocol reads the file and checks each array's type and shape from its header, without NumPy;
this turns what it read into arrays (no copy: views of the bytes read), for the jobs that check
what the values mean (``readers.artist_mesh.load_artist_mesh``) and use them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from img23d_protocol import MeshFile, StoredArray, read_mesh_file, write_mesh_file


def as_array(stored: StoredArray) -> np.ndarray:
    """``stored`` as a read-only NumPy array of its type and shape."""
    array = np.frombuffer(stored.data, dtype=np.dtype(stored.descr))
    if stored.fortran:
        return array.reshape(stored.shape[::-1]).T
    return array.reshape(stored.shape)


def read_arrays(path: Path, limits: dict[str, int] | None = None) -> dict[str, np.ndarray]:
    """The mesh file's arrays by name (those it has), checked by ``read_mesh_file``."""
    return {name: as_array(stored) for name, stored in read_mesh_file(path, limits).arrays().items()}


def write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` (named as ``MeshFile``'s fields) as a mesh file."""
    return write_mesh_file(path, MeshFile(**arrays))
