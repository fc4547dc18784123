"""An object's topology for an artist: as generated, triangles at a face budget, or quads at a face target.

Whatever is remade, it is remade from the mesh in one canonical order and in a unit box
(``canonical``): the same surface gives the same result however its vertices are numbered, and
a mesh far from the origin as near it; the result goes back to the input's frame. A mesh none of
whose faces has any area raises ``NothingToRemesh`` (its message is the sentence for the user).

Quads come from Instant Meshes (``instant_meshes``) after light Taubin smoothing (the clean-up's
own ``taubin_smooth``: marching-cubes stair steps otherwise bend its orientation field); its
folded quads are dropped, small holes capped, doublets joined and every vertex moved onto the input's own
(unsmoothed) surface (``quad_repair``; on the benchmark's meshes that halves the mean distance
between the meshes, the Chamfer figure), then onto its corners and creases (``feature_snap``:
the example house's worst distance at 5,000 quads goes from 2.1 % of the diagonal to 0.9 %), and
last out to the tips and rims narrower than a quad that the quads still cut across
(``surface_reach``: the worst distance from the input to the quads on the benchmark's meshes drops
by a fifth to a half). Instant Meshes' ``vertex_count`` is not a face count:
it sizes the field's coarse mesh (about one quad per vertex asked), and its pure-quad extraction
then splits every coarse face into quads, so about four times as many quads come out as vertices
were asked for. The ratio is measured, not assumed
(``bench/retopo_calibration.py`` writes ``bench/results/retopo-calibration-cpu.json``), and the
request is the target divided by it. A result is checked (``quad_mesh.check_quads``: counts;
no doublet or pinch, so the file is manifold however the bake splits its quads;
``coverage``: it still covers the input and faces its way, so a result that lost a part or runs
across a thin one is not a success); the one
that fails gets one more call, its request scaled by what this mesh made of the first (or
nudged, when only holes failed it: they move with the field's scale); a second failure, an
error or a dead worker falls back to quadric decimation (the clean-up's ``decimate``) to the
same number of triangles, said once in ``RetopoResult.fallback``. Where the quads were refused and
much of the mesh is thinner than a quad (a can's wall and rim: ``thin_parts``), the sentence says
that, and about how many quads would keep those parts, instead of the check's own words; where Instant
Meshes made none and most of the mesh is that thin (a needle), it says so after Instant Meshes' words.
Decimated triangles are held to the same coverage; ones that fail it leave the mesh's own triangles,
said the same way.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..env.job_control import CancelToken
from ..mesh.cleanup import decimate
from ..mesh.smoothing import taubin_smooth
from . import instant_meshes
from .canonical import Canonical, canonical
from .coverage import coverage
from .feature_snap import snap_to_features
from .quad_mesh import DEGENERATE_AREA, cap_small_holes, check_quads, is_closed, median_edge, triangulate_quads
from .quad_repair import dissolve_doublets, project_onto, separate_coincident, unfold_quads
from .surface_reach import reach_uncovered
from .thin_parts import thin_parts

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
# How far a vertex may move out to a part the quads cut across (a tip, a rim), as a share of the
# median quad edge: a whole edge reaches a tip between two vertices.
REACH_SHARE = 1.0
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
    fallback: str | None        # the one sentence said when quads were asked but not made, or the
                                # count made is far off what was asked (a mesh too small for it)
    faces_in: int
    faces_out: int
    seconds: float


class NothingToRemesh(ValueError):
    """The mesh has no face with area (every face collapsed to a line or a point): one sentence."""


def retopologize(vertices: np.ndarray, faces: np.ndarray, settings: RetopoSettings,
                 cancel: CancelToken | None = None) -> RetopoResult:
    """The mesh in the topology ``settings`` ask for (see the module's docstring for how). The same
    surface gives the same result whatever the order of its vertices and faces (``canonical``).
    Raises ``NothingToRemesh`` when no face has any area."""
    started = time.perf_counter()
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    if cancel is not None:
        cancel.check()
    if settings.topology == "as-generated" or len(faces) == 0:
        return RetopoResult(vertices, faces, None, "as-generated", None, len(faces), len(faces),
                            time.perf_counter() - started)
    frame = canonical(vertices, faces)
    if not has_area(frame):
        raise NothingToRemesh(f"none of the mesh's {len(faces):,} faces has any area (each is a line or a "
                              "point): there is no surface to remesh")
    if settings.topology == "triangles":
        result = _triangles(vertices, faces, frame, settings.faces, settings.tolerance)
    else:
        result, reason = _quads(frame, len(faces), settings, cancel)
        if result is None:
            result = _triangles(vertices, faces, frame, settings.faces, settings.tolerance)
            result.fallback = quads_failed(reason, result)
    result.seconds = time.perf_counter() - started
    return result


def has_area(frame: Canonical) -> bool:
    """Whether any face of the (unit-frame) mesh has an area to speak of."""
    corners = frame.vertices[frame.faces]
    doubled = np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1)
    return bool(np.any(doubled > 2.0 * DEGENERATE_AREA))


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


def _triangles(vertices: np.ndarray, faces: np.ndarray, frame: Canonical, budget: int,
               tolerance: float) -> RetopoResult:
    """At most ``budget`` triangles by quadric decimation of the canonical mesh, checked against the
    input (a mesh already within the budget is left as it is). Where no collapse is left that keeps
    the surface (a closed five-face pyramid asked for three), more come back: said in one sentence
    when that is more than ``tolerance`` over."""
    if len(faces) <= budget:
        return RetopoResult(vertices, faces, None, "as-generated", None, len(faces), len(faces), 0.0)
    out_v, out_f = decimate(frame.vertices, frame.faces, budget)
    # A collapse does not join a part's two sides: only the coverage is asked of it.
    reason = coverage(frame.vertices, frame.faces, out_v, out_f, facing=False).reason
    if reason is not None:
        return RetopoResult(vertices, faces, None, "as-generated", f"decimation failed: {reason}; kept its "
                            f"{len(faces):,} triangles instead", len(faces), len(faces), 0.0)
    over = (len(out_f) - budget) / budget
    said = None
    if over > tolerance:
        said = (f"decimation stopped at {len(out_f):,} triangles, {100.0 * over:.0f} % over the {budget:,} asked: "
                "no further collapse keeps the surface")
    return RetopoResult(frame.to_input(out_v).astype(np.float32), out_f, None, "quadric", said, len(faces),
                        len(out_f), 0.0)


def quads_failed(reason: str, result: RetopoResult) -> str:
    """The one sentence said when quads failed for ``reason`` and ``result`` (triangles) came instead."""
    if result.fallback:  # the decimation failed too, or fell short: its own sentence says what was kept
        return f"quads failed: {reason}; {result.fallback}"
    if result.method == "quadric":
        return f"quads failed: {reason}; decimated to {result.faces_out:,} triangles instead"
    return f"quads failed: {reason}; kept its {result.faces_out:,} triangles instead"


def _quads(frame: Canonical, faces_in: int, settings: RetopoSettings,
           cancel: CancelToken | None) -> tuple[RetopoResult | None, str]:
    """Quads of the canonical mesh that passed both checks, or None and why the last try failed."""
    vertices, faces = frame.vertices, frame.faces
    closed = is_closed(faces)
    smoothed = taubin_smooth(vertices, faces, settings.smoothing)
    request, reason, checked = request_for(settings.faces), "", False
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
        quad_v, quads, _ = dissolve_doublets(quad_v, quads)
        max_move = PROJECT_SHARE * median_edge(quad_v, quads)
        quad_v = snap_to_features(project_onto(quad_v, vertices, faces, max_move), quads, vertices, faces, max_move)
        quad_v = reach_uncovered(quad_v, quads, vertices, faces, REACH_SHARE * median_edge(quad_v, quads))
        quad_v = separate_coincident(quad_v, quads)
        check = check_quads(quad_v, quads, closed, settings.faces, settings.tolerance)
        failed = check.reason
        if failed is None:
            triangles = triangulate_quads(quad_v, quads)
            failed = coverage(vertices, faces, quad_v, triangles, quad_side=median_edge(quad_v, quads)).reason
        log.debug("Instant Meshes call %d: %d vertices asked, %d quads (%d folded dropped, %d holes capped): %s",
                  attempt, request, check.quads, unfolded, capped, failed or "passed")
        if failed is None:
            out = frame.to_input(quad_v).astype(np.float32)
            return RetopoResult(out, triangles, quads, "instant-meshes", None, faces_in, len(quads), 0.0), ""
        reason, checked = failed, True
        request = next_request(request, check.quads, settings.faces)
    if cancel is not None:
        cancel.check()
    # Where thin parts are why, that is what the artist is told: in place of the checks' words where the
    # quads were made and refused, after Instant Meshes' own where it made none.
    thin = thin_parts(vertices, faces, quad_side(frame, settings.faces), settings.faces)
    if not checked:
        return None, thin.after_failure(reason)
    if thin.sentence is not None:
        log.debug("Instant Meshes' quads failed (%s): thin parts", reason)
        reason = thin.sentence
    return None, reason


def quad_side(frame: Canonical, quads: int) -> float:
    """The side of a square quad when ``quads`` of them cover the (unit-frame) mesh."""
    corners = frame.vertices[frame.faces]
    area = 0.5 * float(np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]),
                                      axis=1).sum())
    return float(np.sqrt(area / max(quads, 1)))
