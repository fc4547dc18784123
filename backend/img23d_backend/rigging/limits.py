"""What a rig may be given, checked before the work starts: each bound a sentence, never hours or gigabytes.

- The mesh: the checks every artist's mesh passes (``readers.artist_mesh.check_surface``: finite positions,
  faces, vertices that exist, within reach of the origin, not all on one point or line: ``rig_files``).
  Its triangles are bounded as they are read (``gltf.scene.gather_mesh``: ``MAX_TRIANGLES``, five million, the
  bound of every mesh img23d paints or remakes; a 10-million-face GLB once took 9 GB in 35 s).
- The geometric binding's surface samples: ``voxels.surface_points`` samples every triangle no further
  than half a voxel apart, so a triangle as long as the grid takes tens of thousands of points; 20,000
  such triangles (a 720 KB soup) once took 9 GB in 106 s. Counted here as it samples, before it does:
  on this repository's 2-core CPU a sample costs about 70 bytes at the peak and 0.3 microseconds
  (``SAMPLE_BYTES``, ``SAMPLE_SECONDS``: 4 million samples, 1.1 s, 200 MB), so ``MAX_SURFACE_SAMPLES``
  (20 million: about 1.4 GB and 6 s) passes any ordinary mesh of up to ``MAX_TRIANGLES`` triangles, whose
  small triangles are sampled at their corners alone.
- The skeleton's joints: at most ``img23d_protocol.MAX_BONES`` (512), the bones a rig's result may carry
  and the add-on reads: one limit, the protocol's, read here for the bones sent, by ``gltf.bounds`` for a
  skeleton file's skin (before the file is built) and by the add-on. A game character has 50 to 200
  bones, a film or MetaHuman-style face rig several hundred; every joint costs the binding one more
  distance field over the volume and one more column of every vertex's weights. The backend bound 1,000,
  so a 520-joint skeleton was bound for 203 s and its result then refused by the add-on.
- The binding's distance fields: one run of Dijkstra's algorithm per bone over every node voxel
  (``geodesic.bone_distances``), about 1.1 microseconds a voxel and bone on the 2-core CPU under load
  (512 bones over the 5,000 voxels of a thin post: 2.8 s; 32 over the 512,000 of a filled cube at 80
  cells: 21 s, so 1,000 bones there ran past 300 s). Their product is held to ``MAX_DISTANCE_PAIRS``
  (about 4.5 s) by a coarser grid (``binding_cells``): a figure's skeleton of a hundred bones keeps the
  80 cells, a 512-bone one on a filled box binds at 17.
"""

from __future__ import annotations

import numpy as np
from img23d_protocol import MAX_BONES, ErrorCode, ProtocolError

from .skeleton import BadSkeleton
from .voxels import CELLS_ALONG_LONGEST, pitch_for

MAX_SURFACE_SAMPLES = 20_000_000
SAMPLE_BYTES = 70
SAMPLE_SECONDS = 0.3e-6


def surface_samples(positions: np.ndarray, triangles: np.ndarray, cells: int = CELLS_ALONG_LONGEST) -> int:
    """The points ``voxels.surface_points`` samples on the mesh for a grid of ``cells`` along its longest side
    (its corners, and each triangle of longest edge e subdivided n = ceil(e / half a voxel) times: (n + 1)
    (n + 2) / 2 points where n is 2 or more), counted without sampling."""
    spacing = pitch_for(positions, cells) / 2
    corners = positions[triangles]
    longest = np.linalg.norm(corners - np.roll(corners, 1, axis=1), axis=2).max(axis=1)
    steps = np.maximum(np.ceil(longest / spacing), 1).astype(np.int64)
    steps = steps[steps >= 2]
    return int(len(positions) + ((steps + 1) * (steps + 2) // 2).sum())


def check_binding(positions: np.ndarray, triangles: np.ndarray) -> int:
    """The geometric binding's surface samples; ``bad_request`` in one sentence, with the estimate, when
    they pass ``MAX_SURFACE_SAMPLES``."""
    samples = surface_samples(positions, triangles)
    if samples > MAX_SURFACE_SAMPLES:
        raise ProtocolError(ErrorCode.BAD_REQUEST,
                            f"the mesh's {len(triangles):,} triangles are so large against the binding's grid that "
                            f"it would sample {samples:,} points on them (about {samples * SAMPLE_BYTES / 1e9:,.1f} "
                            f"GB and {samples * SAMPLE_SECONDS / 60:,.0f} min to sample), more than the "
                            f"{MAX_SURFACE_SAMPLES:,} img23d binds: remesh it, or remove its stray large triangles")
    return samples


# A skeleton found from the shape alone of more bones than this is not a figure's (a character has 20 to 100;
# a 2,000-triangle random soup gave 514, whose binding took 103 s here, and more bones cost more): refused.
MAX_SHAPE_BONES = 200


def check_shape_bones(count: int) -> None:
    """Refuse (``BadSkeleton``, one sentence) a skeleton from the shape alone of more than ``MAX_SHAPE_BONES``."""
    if count > MAX_SHAPE_BONES:
        raise BadSkeleton(f"the shape alone gives a skeleton of {count:,} bones, more than any figure has "
                          f"({MAX_SHAPE_BONES:,} at most): it is not a shape img23d rigs without a skeleton; give "
                          "one with --skeleton (Skin to Selected Armature in Blender), or remesh it if it is in pieces")


def check_joints(count: int, where: str) -> None:
    """Refuse (``BadSkeleton``, one sentence) a skeleton of more than ``MAX_BONES`` joints, before it is read."""
    if count > MAX_BONES:
        raise BadSkeleton(f"{where} has {count:,} joints, more than the {MAX_BONES:,} bones img23d binds")


# Node voxels times bones: the distance fields the binding computes (see the module's docstring).
MAX_DISTANCE_PAIRS = 4_000_000
MIN_BINDING_CELLS = 16   # 16^3 voxels times MAX_BONES is within MAX_DISTANCE_PAIRS


def binding_cells(filled: int, bones: int, cells: int) -> int:
    """The cells along the mesh's longest side at which the binding's ``bones`` distance fields fit
    ``MAX_DISTANCE_PAIRS``, from its ``filled`` voxels at ``cells``: ``cells`` where they fit; else fewer, by
    the cube root of the excess (a solid's voxels go as the cube of the cells: a thinner shape's go slower,
    so the caller voxelises again and asks once more), never below ``MIN_BINDING_CELLS``."""
    if filled * bones <= MAX_DISTANCE_PAIRS or cells <= MIN_BINDING_CELLS:
        return cells
    fewer = int(cells * (MAX_DISTANCE_PAIRS / (filled * bones)) ** (1 / 3))
    return max(MIN_BINDING_CELLS, min(cells - 1, fewer))
