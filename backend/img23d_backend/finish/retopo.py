"""An object's topology for an artist: as generated, triangles at a face budget, or quads at a face target.

Quads come from Instant Meshes (``instant_meshes``) after light Taubin smoothing (the clean-up's
own ``taubin_smooth``: marching-cubes stair steps otherwise bend its orientation field); its
folded quads are dropped, small holes capped and every vertex moved onto the input's own
(unsmoothed) surface (``quad_repair``; on the benchmark's meshes that halves the mean distance
between the meshes, the Chamfer figure), then onto its corners and creases (``feature_snap``:
the example house's worst distance at 5,000 quads goes from 2.1 % of the diagonal to 0.9 %). Instant Meshes' ``vertex_count`` is not a face count:
it sizes the field's coarse mesh (about one quad per vertex asked), and its pure-quad extraction
then splits every coarse face into quads, so about four times as many quads come out as vertices
were asked for. The ratio is measured, not assumed
(``bench/retopo_calibration.py`` writes ``bench/results/retopo-calibration-cpu.json``), and the
request is the target divided by it. A result is checked (``quad_mesh.check_quads``); the one
that fails gets one more call, its request scaled by what this mesh made of the first (or
nudged, when only holes failed it: they move with the field's scale); a second failure, an
error or a dead worker falls back to quadric decimation (the clean-up's ``decimate``) to the
same number of triangles, said once in ``RetopoResult.fallback``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..env.job_control import CancelToken
from ..stages.mesh.cleanup import decimate
from ..stages.mesh.smoothing import taubin_smooth
from . import instant_meshes
from .feature_snap import snap_to_features
from .quad_mesh import cap_small_holes, check_quads, is_closed, median_edge, triangulate_quads
from .quad_repair import project_onto, unfold_quads

log = logging.getLogger(__name__)

Topology = Literal["as-generated", "triangles", "quads"]
TOPOLOGIES: tuple[str, ...] = ("as-generated", "triangles", "quads")
Method = Literal["as-generated", "quadric", "instant-meshes"]

# Quads out per vertex asked of Instant Meshes: the median over the calibration set (the bundled
# example mesh, a real Hunyuan3D-2 mesh, marching-cubes spheres, tori and noisy fields with thin
# parts, at 2k, 5k and 10k) in bench/results/retopo-calibration-cpu.json.
QUADS_PER_VERTEX_ASKED = 4.04
# How far a quad vertex may move onto the input's surface, as a share of the median quad edge:
# enough for any vertex the smoothed field left floating, too little to cross a thin part.
PROJECT_SHARE = 0.5
# A second call whose scaled request would move less than this is nudged by it instead.
NUDGE = 0.03


@dataclass(frozen=True)
class RetopoSettings:
    """What the artist asked for. ``faces`` is the triangle budget (triangles) or the quad target (quads)."""

    topology: Topology = "as-generated"
    faces: int = 5000
    smoothing: int = 2          # Taubin passes before Instant Meshes; 0 = none
    tolerance: float = 0.15     # how far the quad count may be from ``faces``, as a share of it

    def __post_init__(self) -> None:
        if self.topology not in TOPOLOGIES:
            raise ValueError(f"topology must be one of {', '.join(TOPOLOGIES)}, not {self.topology!r}")
        if self.faces < 1:
            raise ValueError(f"the face target must be at least 1, not {self.faces}")
        if self.smoothing < 0:
            raise ValueError(f"smoothing passes cannot be negative ({self.smoothing})")
        if not 0.0 < self.tolerance < 1.0:
            raise ValueError(f"the tolerance is a share between 0 and 1, not {self.tolerance}")


@dataclass
class RetopoResult:
    """The finished topology. ``triangles`` is always a valid triangulation (for glTF); with quads,
    quad k is triangles 2k and 2k + 1. ``faces_out`` counts a quad as one face."""

    vertices: np.ndarray
    triangles: np.ndarray       # (T, 3)
    quads: np.ndarray | None    # (Q, 4), or None when the mesh is triangles
    method: Method
    fallback: str | None        # the one sentence said to the user when quads were asked but not made
    faces_in: int
    faces_out: int
    seconds: float


def retopologize(vertices: np.ndarray, faces: np.ndarray, settings: RetopoSettings,
                 cancel: CancelToken | None = None) -> RetopoResult:
    """The mesh in the topology ``settings`` ask for (see the module's docstring for how)."""
    started = time.perf_counter()
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    if cancel is not None:
        cancel.check()
    if settings.topology == "as-generated" or len(faces) == 0:
        return RetopoResult(vertices, faces, None, "as-generated", None, len(faces), len(faces),
                            time.perf_counter() - started)
    if settings.topology == "triangles":
        result = _triangles(vertices, faces, settings.faces)
    else:
        result = _quads(np.asarray(vertices, dtype=np.float64), faces, settings, cancel)
    result.seconds = time.perf_counter() - started
    return result


def request_for(target: int) -> int:
    """The ``vertex_count`` to ask Instant Meshes for ``target`` quads (at least one)."""
    return max(1, round(target / QUADS_PER_VERTEX_ASKED))


def next_request(request: int, quads_out: int, target: int) -> int:
    """The second call's request: scaled by what this mesh made of the first, or nudged towards
    the target when the count was already close (then holes failed it, and they move with scale)."""
    scaled = request * target / max(quads_out, 1)
    if abs(scaled - request) < NUDGE * request:
        scaled = request * (1.0 - NUDGE if quads_out >= target else 1.0 + NUDGE)
    return max(1, round(scaled))


def _triangles(vertices: np.ndarray, faces: np.ndarray, budget: int) -> RetopoResult:
    if len(faces) <= budget:
        return RetopoResult(vertices, faces, None, "as-generated", None, len(faces), len(faces), 0.0)
    out_v, out_f = decimate(vertices, faces, budget)
    return RetopoResult(out_v, out_f, None, "quadric", None, len(faces), len(out_f), 0.0)


def _quads(vertices: np.ndarray, faces: np.ndarray, settings: RetopoSettings,
           cancel: CancelToken | None) -> RetopoResult:
    closed = is_closed(faces)
    smoothed = taubin_smooth(vertices, faces, settings.smoothing)
    request, reason = request_for(settings.faces), ""
    for attempt in (1, 2):
        try:
            quad_v, quads = instant_meshes.remesh_in_worker(smoothed, faces, request, cancel)
        except instant_meshes.InstantMeshesFailed as exc:
            reason = str(exc)  # a raise or a crash would come back the same: no second call
            break
        quad_v, quads, unfolded = unfold_quads(quad_v, quads)
        capped = 0
        if closed:
            quad_v, quads, capped = cap_small_holes(quad_v, quads)
        max_move = PROJECT_SHARE * median_edge(quad_v, quads)
        quad_v = snap_to_features(project_onto(quad_v, vertices, faces, max_move), quads, vertices, faces, max_move)
        check = check_quads(quad_v, quads, closed, settings.faces, settings.tolerance)
        log.debug("Instant Meshes call %d: %d vertices asked, %d quads (%d folded dropped, %d holes capped): %s",
                  attempt, request, check.quads, unfolded, capped, check.reason or "passed")
        if check.passed:
            quad_v = quad_v.astype(np.float32)
            return RetopoResult(quad_v, triangulate_quads(quad_v, quads), quads, "instant-meshes", None,
                                len(faces), len(quads), 0.0)
        reason = check.reason or ""
        request = next_request(request, check.quads, settings.faces)
    if cancel is not None:
        cancel.check()
    result = _triangles(vertices.astype(np.float32), faces, settings.faces)
    if result.method == "quadric":
        result.fallback = f"quads failed: {reason}; decimated to {result.faces_out:,} triangles instead"
    else:
        result.fallback = f"quads failed: {reason}; kept its {result.faces_out:,} triangles instead"
    return result
