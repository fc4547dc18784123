"""Mesh clean-up after surface extraction: floaters, degenerate faces, holes, smoothing, the face budget.

What the artist controls (``Finish``, from the job's options) has defaults that keep what every
job did before it was a choice: pieces under 0.5 % of the largest removed, no hole filling, no
smoothing, 40,000 faces.

Cleaning is numpy and scipy (``mesh_repair``, ``mesh_holes``, ``mesh_smoothing``): pymeshlab, which
did it before, loads libGL and weighs about 100 MB, and the backend must run on a headless server
with no OpenGL libraries. Decimation is fast-simplification's, in a worker process for a large mesh
(``decimator``), so that the job's thread runs on while the tail thread decimates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import decimator, holes, repair, smoothing

log = logging.getLogger(__name__)

# A component with fewer faces than this fraction of the *largest* component's is extraction
# noise (relative to the largest, as pymeshlab's nbfaceratio was). 0.5% is hy3dgen's own
# FloaterRemover (postprocessors.remove_floater); more would also cut off thin real parts.
FLOATER_FACE_RATIO = 0.005

# fast-simplification's aggressiveness on a unit-sized mesh (see ``decimate``).
DECIMATION_AGGRESSIVENESS = 3.0


@dataclass(frozen=True)
class Finish:
    """What the finished mesh should be; the job's options say it (``from_options``)."""

    face_budget: int = 40_000           # at most this many faces; 0 = keep every face
    smoothing: int = 0                  # Taubin passes; 0 = none
    fill_holes: int = 0                 # close holes of up to this many boundary edges; 0 = none
    min_piece: float = FLOATER_FACE_RATIO  # pieces under this fraction of the largest are removed; 0 = none

    @classmethod
    def from_options(cls, options: Any) -> "Finish":
        return cls(face_budget=options.face_budget, smoothing=options.smoothing, fill_holes=options.fill_holes,
                   min_piece=options.min_piece)


@dataclass
class CleanStats:
    faces_in: int
    faces_out: int
    vertices_out: int
    floaters_removed: int
    holes_filled: int = 0     # faces added to close holes
    holes_left_open: bool = False  # filling was asked for but a boundary was not manifold


def clean_mesh(vertices: np.ndarray, faces: np.ndarray,
               finish: Finish = Finish()) -> tuple[np.ndarray, np.ndarray, CleanStats]:
    """Return cleaned (vertices, faces) and what changed. Empty input gives empty output."""
    faces_in = int(len(faces))
    if faces_in == 0 or len(vertices) == 0:
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64), CleanStats(faces_in, 0, 0, 0)
    out_v, out_f = repair.merge_duplicate_vertices(np.asarray(vertices, dtype=np.float64),
                                                        np.asarray(faces, dtype=np.int64))
    out_f = repair.drop_bad_faces(out_v, out_f)
    before = len(out_f)
    out_f = repair.drop_small_pieces(out_f, len(out_v), finish.min_piece)
    out_v, out_f = repair.drop_unreferenced(out_v, out_f)
    stats = CleanStats(faces_in, 0, 0, before - len(out_f))
    if finish.fill_holes > 0:
        filled = holes.fill_holes(out_v, out_f, finish.fill_holes)
        out_f = np.vstack([out_f, filled.faces])
        stats.holes_filled, stats.holes_left_open = len(filled.faces), filled.left_open
        if filled.left_open:
            log.warning("holes left open: a boundary where holes meet at a vertex cannot be followed round")
    if finish.smoothing > 0:
        # Taubin's alternating shrink and inflate steps smooth without the shrinking that plain
        # Laplacian smoothing causes, so an object keeps its size in the layout.
        out_v = smoothing.taubin_smooth(out_v, out_f, finish.smoothing)
    out_v, out_f = out_v.astype(np.float32), out_f.astype(np.int64)
    if finish.face_budget and len(out_f) > finish.face_budget:
        # A large mesh decimates in a worker process: fast-simplification holds the GIL throughout.
        out_v, out_f = decimator.decimate_apart(decimate, out_v, out_f, finish.face_budget)
    stats.faces_out, stats.vertices_out = int(len(out_f)), int(len(out_v))
    return out_v, out_f, stats


def decimate(vertices: np.ndarray, faces: np.ndarray, face_budget: int) -> tuple[np.ndarray, np.ndarray]:
    """Quadric edge collapse down to at most ``face_budget`` faces.

    fast-simplification (Fast-Quadric-Mesh-Simplification) rather than pymeshlab's filter: the
    same kind of collapse, about ten times faster on a few hundred thousand faces, which made
    decimation the slow step of the CPU tail. Its error threshold per pass is absolute
    (``1e-9 * (pass + 3) ** agg`` in its Simplify.h), so the mesh is scaled to a unit bounding-box
    diagonal first, making the result the same at any size, and ``agg`` is 3, not its default 7:
    measured in bench/game_ready.py, the default cut a spike off the example house at 2,000 faces
    (7.8 % of the diagonal, Blender's Decimate 0.19 %), 3 keeps it within 0.3 % at the same speed.
    """
    import fast_simplification

    points = np.asarray(vertices, dtype=np.float64)
    origin = points.min(axis=0) if len(points) else np.zeros(3)
    scale = float(np.linalg.norm(np.ptp(points, axis=0))) if len(points) else 1.0
    scale = scale if scale > 0 else 1.0
    out_v, out_f = (points - origin) / scale, faces
    for attempt in range(5):  # it aims at the target; collapses it cannot make can leave a few over
        if len(out_f) <= face_budget:
            break
        reduction = 1.0 - face_budget * (1.0 - 0.02 * attempt) / len(out_f)
        out_v, out_f = fast_simplification.simplify(np.asarray(out_v, dtype=np.float32),
                                                    np.asarray(out_f, dtype=np.int32), target_reduction=reduction,
                                                    agg=DECIMATION_AGGRESSIVENESS)
    if out_f is not faces:
        out_v = np.asarray(out_v, dtype=np.float64) * scale + origin
    else:
        out_v = vertices
    return np.asarray(out_v, dtype=np.float32), np.asarray(out_f, dtype=np.int64)
