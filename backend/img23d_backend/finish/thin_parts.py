"""Parts of a mesh thinner than the quads asked of it: why its quads failed, said so an artist can act.

Instant Meshes lays quads of one size over the whole surface. Where a part is thinner than a quad
(a can's wall and rim, a sheet, a blade), both sides of it fall within one quad's reach and the
extraction joins them: the quads there fold onto each other, share two edges, or multiply where the
field breaks down (a can with a wall 1 % of its height asked for 5,000 quads gave 21,794). The
checks catch each of those (``quad_mesh.check_quads``, ``coverage``) and the finish falls back to
triangles; what they name (diagonals, crowded edges, a count over the target) does not tell the
artist the cause, nor what would keep the quads. This module does, once the quads have failed:

The input is sampled (``SAMPLE_SHARE`` of a quad's side apart) with each sample's facing. A sample
is on a thin part when a ball of a quad's diameter, inside the surface and touching it at the
sample, holds a sample facing the other way (the part's other side); the part's thickness there
is the distance to it. When more than
``THIN_AREA_SHARE`` of the surface is so thin, the fallback says so, with the typical thickness and
about how many quads would leave no more than that share thinner than a quad's side (the count grows
with the inverse square of the side; the thinnest parts set it): the artist can ask for that many, or
keep the triangles. Where Instant Meshes made no quads at all (its worker ran out of memory or
died: a 10-unit needle of radius 0.001 did both, after 90 s), the failure's own words are kept and
the thin parts added when most of the surface is thinner than a quad (``FAILURE_AREA_SHARE``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from img23d_protocol import OPTION_RANGES
from scipy.spatial import cKDTree

from .coverage import grid_points

SAMPLE_SHARE = 0.25     # samples this share of a quad's side apart: a wall's far side is several samples deep
THIN_AREA_SHARE = 0.01  # more than this share of the surface thinner than a quad: the quads' trouble is there
FAILURE_AREA_SHARE = 0.5  # where Instant Meshes made no quads at all, more than this share is said as the cause
OPPOSED = -0.5          # a sample facing against another's normal by more than 120 degrees is its other side
MAX_SAMPLES = 400_000   # beyond this the spacing grows: the diagnosis is said in round figures anyway
NEIGHBOURS = 8          # samples looked at inside each sample's ball
MOST_QUADS = OPTION_RANGES["face_target"].high   # the most quads a finish is asked for


@dataclass(frozen=True)
class ThinParts:
    """How much of a mesh is thinner than its quads, in the unit frame (distances as shares of the diagonal)."""

    area_share: float   # share of the surface with its other side nearer than a quad's side
    thickness: float    # the median thickness there (0 when none is)
    quad_side: float    # the quads' side it was judged against
    quads: int          # the quad count asked
    quads_needed: int   # about how many quads would have a side as short as that thickness

    @property
    def sentence(self) -> str | None:
        """Why the quads made were refused on this mesh, in a few words; None when thin parts are not the cause."""
        if self.area_share <= THIN_AREA_SHARE:
            return None
        return f"{self._facts()}, so the quads join its two sides there; {self._keeping()}"

    def after_failure(self, reason: str) -> str:
        """``reason`` (Instant Meshes failed to make any quads), with the thin parts where most of the mesh is
        thinner than a quad: there they are the likely cause (a needle ran its worker out of memory), and the
        remedy is theirs; else ``reason`` alone, as a crash on a mesh with a thin rim says nothing of the rim."""
        if self.area_share <= FAILURE_AREA_SHARE:
            return reason
        return f"{reason}: {self._facts()}; {self._keeping()}"

    def _facts(self) -> str:
        return (f"{100 * self.area_share:.0f} % of the mesh is thinner than a quad (walls or rims about "
                f"{percent(self.thickness)} % of its size across, quads {percent(self.quad_side)} % on a side)")

    def _keeping(self) -> str:
        # A sheet (a card, a leaf) asks trillions: past the most the finish makes, no count is worth naming.
        if self.quads_needed <= MOST_QUADS:
            return f"about {round_count(self.quads_needed)} quads would keep them"
        return f"no quad count up to the {MOST_QUADS:,} the finish makes would keep them"


def percent(share: float) -> str:
    """``share`` as a percentage to one decimal, or to two significant figures below 0.1 % (a needle's
    width is 0.02 % of its length, not "0.0 %")."""
    value = 100.0 * share
    return f"{value:.1f}" if value >= 0.1 or value == 0.0 else f"{value:.2g}"


def round_count(count: int) -> str:
    """``count`` to two significant figures, with thousands separators: an estimate, said as one."""
    if count < 100:
        return f"{count:,}"
    digits = len(str(count)) - 2
    return f"{round(count, -digits):,}"


def thin_parts(vertices: np.ndarray, faces: np.ndarray, quad_side: float, quads: int) -> ThinParts:
    """How much of the unit-frame mesh (``vertices``, ``faces``) is thinner than ``quad_side`` (see
    the module's docstring); ``quads``: the count asked, for the estimate of how many would do."""
    triangles = np.asarray(vertices, dtype=np.float64)[np.asarray(faces, dtype=np.int64)]
    if len(triangles) == 0 or quad_side <= 0.0:
        return ThinParts(0.0, 0.0, quad_side, quads, quads)
    cross = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    area = 0.5 * float(np.linalg.norm(cross, axis=1).sum())
    spacing = max(SAMPLE_SHARE * quad_side, np.sqrt(2.0 * area / MAX_SAMPLES))
    points, owners, weights = grid_points(triangles, spacing)
    normals = cross[owners] / np.maximum(np.linalg.norm(cross[owners], axis=1, keepdims=True), 1e-300)
    # A ball of a quad's diameter inside the surface, touching it at the sample: where the part is
    # thicker, the ball holds none of it; where thinner, the part's other side (facing the other
    # way) passes through the ball. Same-side samples stay out of it unless the surface curves in
    # more tightly than a quad, and those face the sample's way.
    radius = 0.5 * quad_side
    k = min(NEIGHBOURS, len(points))
    gaps, found = cKDTree(points).query(points - radius * normals, k=k, distance_upper_bound=radius * (1.0 - 1e-6))
    gaps, found = gaps.reshape(len(points), k), found.reshape(len(points), k)
    inside = np.isfinite(gaps)
    other = np.where(inside, found, 0)
    opposed = inside & (np.einsum("nd,nkd->nk", normals, normals[other]) < OPPOSED)
    across = np.linalg.norm(points[other] - points[:, None, :], axis=2)
    thickness = np.where(opposed, across, np.inf).min(axis=1)
    on_thin = np.isfinite(thickness)
    total = max(weights.sum(), 1e-300)
    share = float(weights[on_thin].sum() / total)
    if not on_thin.any():
        return ThinParts(0.0, 0.0, quad_side, quads, quads)
    typical = float(np.median(thickness[on_thin]))
    # The side at which no more than THIN_AREA_SHARE of the surface is thinner than a quad: the
    # thinnest parts set it, not the typical ones (a mug's rim is thinner than its wall, and a count
    # made for the wall met the rim: 8,800 quads asked as said, then 28,000 said).
    order = np.argsort(thickness[on_thin])
    thinnest_first, share_below = thickness[on_thin][order], np.cumsum(weights[on_thin][order]) / total
    keeping = float(thinnest_first[min(int(np.searchsorted(share_below, THIN_AREA_SHARE)), order.size - 1)])
    needed = int(np.ceil(quads * (quad_side / max(keeping, 1e-12)) ** 2))
    return ThinParts(share, typical, quad_side, quads, needed)
