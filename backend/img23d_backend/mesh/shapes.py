"""What every family's shape stage shares: a job's shape settings, and a mesh as arrays.

A job decides its shape settings once (``jobs.kinds.generate``) and hands them to its shape model's family
(``families``), which reads what it uses: Hunyuan3D-2 its volume decoder and octree, Step1X-3D its
hierarchical grid and the Label model's symmetry and sharpness.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from img23d_protocol import OPTION_RANGES, VOLUME_DECODERS

# The fewest volume-decoder queries per call: hy3dgen's default, and the floor of every family's
# chunking (a retry after running out of memory drops to it).
MIN_CHUNK = 8_000


@dataclass
class ShapeSettings:
    steps: int
    octree_resolution: int
    guidance_scale: float
    batch_size: int  # 0 = everything in one batch
    decoder: str = VOLUME_DECODERS[0]  # Hunyuan3D-2's volume decoding: flashvdm or dense
    num_chunks: int = 0  # decoder queries per call; 0 = sized from free memory
    symmetry: str = "auto"   # the Label model's choices (Step1X-3D-Label); "auto" for any other
    sharpness: str = "auto"

    def lowered(self) -> "ShapeSettings":
        """Settings for a retry after running out of memory: one image, half the octree (never under the
        least the options allow, and never more than it was: a floor of 32 doubled an octree of 16), smaller
        decoder calls."""
        least = OPTION_RANGES["octree_resolution"].low
        return replace(self, octree_resolution=max(least, self.octree_resolution // 2), batch_size=1,
                       num_chunks=MIN_CHUNK)


def mesh_arrays(mesh: Any) -> tuple[np.ndarray, np.ndarray]:
    """A shape model's trimesh as (vertices float64, faces int64), as the clean-up takes them."""
    return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)
