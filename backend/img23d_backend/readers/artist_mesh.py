"""The artist's mesh, read and checked once for every job that takes one (Re-texture, Retopo, parts, the rig).

The mesh arrives as the add-on's mesh file (``img23d_protocol.mesh_file``, its one reader and writer:
``readers.mesh_file``): ``positions`` (V,3) in object space, Blender's axes, ``triangles`` (T,3) vertex
indices of Blender's loop triangles, ``triangle_loops`` (T,3) the loop (face corner) of each triangle
corner, and optionally ``loop_uvs`` (L,2), the active UV map; a GLB, OBJ or PLY comes as one through
``readers.meshes.artist_mesh_file``. What the values mean is checked here, each defect a ``bad_request``
naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from img23d_protocol import ErrorCode, ProtocolError
from img23d_protocol.limits import MAX_TRIANGLES

from .mesh_bounds import check_mesh_bounds
from .mesh_file import read_arrays


@dataclass
class ArtistMesh:
    positions: np.ndarray        # (V, 3) float
    triangles: np.ndarray        # (T, 3) vertex indices
    triangle_loops: np.ndarray   # (T, 3) loop indices
    loop_uvs: np.ndarray | None  # (L, 2) or None when the mesh has no UV map
    loop_count: int
    # What a retopology bakes (the mesh file's images, rows from the top, and its colours): uint8.
    base_color: np.ndarray | None = None           # (H, W, 3 or 4)
    metallic_roughness: np.ndarray | None = None   # (H, W, 3 or 4)
    vertex_colors: np.ndarray | None = None        # (V, 3 or 4)

    @property
    def face_count(self) -> int:
        return int(len(self.triangles))


def check_surface(positions: np.ndarray, triangles: np.ndarray, stored: np.dtype, name: str = "the mesh") -> None:
    """Refuse, in one ``bad_request`` sentence naming ``name``, positions that are not finite, no faces, more
    than ``MAX_TRIANGLES`` triangles, a triangle naming a vertex the mesh lacks, and (``mesh_bounds``, in the
    ``stored`` type) a mesh out of reach, without a surface or too coarse to keep its shape: what every
    job that takes an artist's mesh (its positions in Blender's axes, the rig's gathered from a glTF) checks."""
    finite = np.isfinite(positions).all(axis=1)
    if not finite.all():
        bad = int((~finite).sum())
        which = "vertex whose position is not a finite number" if bad == 1 else \
            "vertices whose positions are not finite numbers"
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{name} has {bad:,} {which} (NaN or infinite)")
    if len(triangles) == 0:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{name} has no faces (no surface)")
    if len(triangles) > MAX_TRIANGLES:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{name} has {len(triangles):,} triangles; at most {MAX_TRIANGLES:,}")
    if triangles.min() < 0 or triangles.max() >= len(positions):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"a triangle of {name} refers to a vertex that does not exist")
    check_mesh_bounds(positions, triangles, stored)


def load_artist_mesh(path: Path, limits: dict[str, int] | None = None, name: str = "the mesh") -> ArtistMesh:
    """Read and check the add-on's mesh file (``img23d_protocol.mesh_file``: its arrays' types and shapes;
    here, what their values mean: ``check_surface``, then its loops and UVs); every defect is a
    ``bad_request`` naming it (the mesh as ``name``). ``limits``: larger sizes for arrays other than the
    mesh's own (a retopology's images)."""
    arrays = read_arrays(path, limits)
    positions = arrays["positions"].astype(np.float64)
    triangles = arrays["triangles"].astype(np.int64)
    loops = arrays["triangle_loops"].astype(np.int64)
    uvs = arrays.get("loop_uvs")
    check_surface(positions, triangles, arrays["positions"].dtype, name)  # in the type the file stores
    loop_count = int(loops.max()) + 1 if loops.size else 0
    if loops.min() < 0:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "a triangle refers to a negative loop")
    # Every loop (face corner) of a mesh is a corner of at least one of its triangles.
    if uvs is None and loop_count > loops.size:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"a triangle refers to loop {loop_count - 1}, but the mesh has "
                                                   f"only {loops.size} triangle corners (a damaged mesh file)")
    if uvs is not None:
        uvs = uvs.astype(np.float64)
        if len(uvs) < loop_count or not np.isfinite(uvs).all():
            raise ProtocolError(ErrorCode.BAD_REQUEST, "loop UVs must be finite (L, 2) numbers, one per loop")
        loop_count = len(uvs)
    return ArtistMesh(positions, triangles, loops, uvs, loop_count, base_color=arrays.get("base_color"),
                      metallic_roughness=arrays.get("metallic_roughness"), vertex_colors=arrays.get("vertex_colors"))
