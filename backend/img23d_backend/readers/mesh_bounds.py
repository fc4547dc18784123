"""Whether a mesh's positions can be worked with at all: said in one sentence before any stage sees them.

Every mesh an artist hands in (every job's: ``artist_mesh.load_artist_mesh``) is
checked here, once, in the type its file stores its positions in:

- a mesh further from the origin, or larger, than ``MAX_EXTENT`` units (a sphere scaled by 10^30 hung
  the UV unwrap for good, issue 58): Blender holds positions as 32-bit floats, and the unwrap, the
  remeshing and the bake all square distances, which overflow or lose every digit there;
- a mesh with no surface: every triangle of zero area (50 triangles on one point ended in a
  ZeroDivisionError, issue 58), whether it was made so or collapsed by 32-bit positions far out;
- 32-bit positions too coarse where the mesh lies to keep its shape: 10^6 units from the origin they
  are 0.06 apart, more than a small object's detail (issue 54: such a mesh collapsed to 1,446 of its
  40,000 triangles and was remeshed as if nothing were wrong). 64-bit positions (an OBJ or PLY keeps
  them) are never refused for this.
"""

from __future__ import annotations

import numpy as np
from img23d_protocol import ErrorCode, ProtocolError

MAX_EXTENT = 1e9        # units from the origin, or across: a million kilometres in metres
PRECISION_SHARE = 1e-4  # stored positions further apart than this share of the mesh's size are too coarse
COARSE_STEP = 1e-6      # 32-bit positions at least this far apart can have collapsed a small mesh


def check_mesh_bounds(positions: np.ndarray, triangles: np.ndarray, stored: np.dtype) -> None:
    """Refuse, with one ``bad_request`` sentence, a mesh whose used positions are out of reach, have no
    surface, or (stored as 32-bit floats) are too coarse where it lies to keep its shape."""
    used = positions[np.unique(triangles)] if len(triangles) else positions
    if len(used) == 0:
        return
    reach = float(np.abs(used).max())
    size = float(np.linalg.norm(np.ptp(used, axis=0)))
    if reach > MAX_EXTENT or size > MAX_EXTENT:
        raise ProtocolError(ErrorCode.BAD_REQUEST,
                            f"the mesh reaches {reach:.3g} units from the origin and is {size:.3g} across; img23d "
                            f"works with meshes within {MAX_EXTENT:.0e} units of the origin: scale it down or move "
                            "it toward the origin first")
    step = float(np.spacing(np.float32(reach))) if np.dtype(stored) == np.float32 else 0.0
    corners = positions[triangles]
    area = float(np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1).sum())
    if size == 0.0 or area <= (size * size) * 1e-12:
        far = (f", {reach:,.0f} units from the origin, where its 32-bit positions are {step:.3g} apart: a small mesh "
               "collapses there, so move it to the origin first if it had a shape") if step >= COARSE_STEP else ""
        raise ProtocolError(ErrorCode.BAD_REQUEST,
                            f"the mesh has no surface: its {len(triangles):,} triangles all have zero area (its "
                            f"vertices lie on one point or one line{far})")
    if step > PRECISION_SHARE * size:
        raise ProtocolError(ErrorCode.BAD_REQUEST,
                            f"the mesh lies {reach:,.0f} units from the origin and is only {size:.3g} across: its "
                            f"32-bit positions are {step:.3g} apart there ({100 * step / size:.2g} % of its size), "
                            "too coarse to keep its shape; move it to the origin first")
