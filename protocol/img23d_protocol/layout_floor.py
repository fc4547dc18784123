"""The floor under what stands on it, from the objects' contacts (``layout.solve``'s ground): a plane through the
bottoms of the boxes at their distances, in the camera frame (standard library only, as ``layout``).

A floor is a plane cos(pitch) * y + sin(pitch) * z = elevation in the camera frame (x right, y down, z forward; no
roll): the camera's pitch down and its height above the floor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from typing import Any

Vec3 = tuple[float, float, float]

MAX_PITCH = math.radians(45.0)     # steeper than this, a picture seldom shows things standing on a floor
FLOOR_TOLERANCE = 0.25        # of an object's own height: how far its bottom may be off the floor
RAISED_M, RAISED_SHARE = 0.05, 0.05   # a seen bottom this far above the floor (plus a share of its top) is raised
RESTS_KEY = "rests_m"   # a record's depth entry: where it rests on the placed mesh under it (``Heights.rests``)


def finite_number(value: object) -> bool:
    """Whether a manifest's value is a finite int or float, not a bool (``plain.finite_number``'s rule; the layout
    imports no protocol module but this one: the add-on loads the two into Blender's Python alone)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Heights:
    """An object's own points against a floor measured in a metric point map, in metres above it: its visible top
    and bottom, and whether each edge of its matte is its own. ``top_seen``: no nearer target covers its top and
    the picture does not cut it. ``bottom_seen``: what lies just under its matte is no higher than its own lowest
    points (the floor, or a support it rests on), so its visible bottom is its real one; a nearer object in front
    (a barrel before a chair) or the picture's edge hides it."""

    top: float
    bottom: float
    top_seen: bool
    bottom_seen: bool
    rests: float | None = None   # metres: the top of the placed mesh its raised foot rests on (the backend's support)

    @property
    def base(self) -> float:
        """Where it stands: on the mesh under it where the backend found it resting (``rests``), else its visible
        bottom where that is its own and raised (a box on a table, a chimney on a roof), else the floor (a hidden
        bottom stands where the floor is)."""
        if self.rests is not None:
            return self.rests
        raised = self.bottom_seen and self.bottom > RAISED_M + RAISED_SHARE * max(self.top, 0.0)
        return self.bottom if raised else 0.0

    @property
    def height(self) -> float | None:
        """Its height from where it stands to its top, when its top is seen; None otherwise."""
        height = self.top - self.base
        return height if self.top_seen and height > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {"top_m": self.top, "bottom_m": self.bottom, "top_seen": self.top_seen, "bottom_seen": self.bottom_seen}

    @classmethod
    def of(cls, data: object) -> "Heights | None":
        """A record's heights (its ``depth`` entry's), or None where it has none or they are not numbers and
        flags (a manifest may hold anything there)."""
        if not isinstance(data, dict):
            return None
        top, bottom, top_seen, bottom_seen = (data.get(k) for k in ("top_m", "bottom_m", "top_seen", "bottom_seen"))
        numbers = all(finite_number(v) and abs(v) < 1e4 for v in (top, bottom))
        if not numbers or not isinstance(top_seen, bool) or not isinstance(bottom_seen, bool):
            return None
        rests = data.get(RESTS_KEY)
        return cls(float(top), float(bottom), top_seen, bottom_seen,  # type: ignore[arg-type]
                   float(rests) if finite_number(rests) and 0 < rests < 1e4 else None)


def fit_floor(contacts: dict[str, Vec3], heights: dict[str, float]) -> tuple[float, float, set[str]] | None:
    """(pitch, elevation, keys standing on it) of the best floor under the contacts, or None.

    A floor is a plane cos(pitch) * y + sin(pitch) * z = elevation in the camera frame (no roll).
    Candidates come from every pair of contacts and from a level plane under each single one;
    one that has a contact clearly below it is refused (nothing stands under the floor), and the
    one carrying the most contacts wins, then the one they fit best.
    """
    points = {key: (c[2], c[1]) for key, c in contacts.items()}   # (z, y) in the camera frame
    candidates: list[tuple[float, float]] = []
    for a, b in combinations(points, 2):
        plane = _plane_through([points[a], points[b]])
        if plane is not None:
            candidates.append(plane)
    candidates += [(0.0, y) for _, y in points.values() if y > 0]
    best: tuple[tuple[int, float], float, float, set[str]] | None = None
    for pitch, elevation in candidates:
        judged = _inliers(points, heights, pitch, elevation)
        if judged is None:
            continue
        inliers, misfit = judged
        score = (len(inliers), -misfit)
        if best is None or score > best[0]:
            best = (score, pitch, elevation, inliers)
    if best is None:
        return None
    _, pitch, elevation, inliers = best
    refit = _plane_through([points[key] for key in inliers]) if len(inliers) > 1 else None
    if refit is not None and _inliers(points, heights, *refit) is not None:
        pitch, elevation = refit
    return pitch, elevation, inliers


def _plane_through(points: list[tuple[float, float]]) -> tuple[float, float] | None:
    """The plausible floor (pitch, elevation) best fitting (z, y) points, by total least squares."""
    n = len(points)
    mz, my = sum(p[0] for p in points) / n, sum(p[1] for p in points) / n
    szz = sum((p[0] - mz) ** 2 for p in points)
    syy = sum((p[1] - my) ** 2 for p in points)
    szy = sum((p[0] - mz) * (p[1] - my) for p in points)
    if szz + syy < 1e-18:
        return None
    # The line's direction is the principal axis; the floor's normal is perpendicular to it.
    angle = 0.5 * math.atan2(2 * szy, szz - syy)
    nz, ny = -math.sin(angle), math.cos(angle)
    if ny < 0:
        nz, ny = -nz, -ny
    pitch = math.atan2(nz, ny)
    elevation = nz * mz + ny * my
    if elevation <= 0 or abs(pitch) > MAX_PITCH:
        return None
    return pitch, elevation


def _inliers(points: dict[str, tuple[float, float]], heights: dict[str, float], pitch: float,
             elevation: float) -> tuple[set[str], float] | None:
    """The keys on the floor and how badly they fit it; None when something is below it."""
    s, c = math.sin(pitch), math.cos(pitch)
    inliers, misfit = set(), 0.0
    for key, (z, y) in points.items():
        below = c * y + s * z - elevation      # > 0: under the floor
        tolerance = FLOOR_TOLERANCE * heights[key]
        if below > tolerance:
            return None
        if abs(below) <= tolerance:
            inliers.add(key)
            misfit += abs(below) / tolerance
    return (inliers, misfit) if inliers else None


def measured(floor: object) -> tuple[float, float] | None:
    """A floor measured in a metric point map (``LayoutSettings.floor``: pitch in radians, elevation in metres), or
    None where it is none a layout can stand on (a manifest may hold anything there)."""
    if not isinstance(floor, (list, tuple)) or len(floor) != 2:
        return None
    pitch, elevation = floor
    if not all(finite_number(v) for v in floor):
        return None
    return (float(pitch), float(elevation)) if abs(pitch) <= MAX_PITCH and 0 < elevation < 1e4 else None


def standing_on(contacts: dict[str, Vec3], heights: dict[str, float], pitch: float, elevation: float) -> set[str]:
    """The keys whose contact lies on a measured floor (within their tolerance) or below it, where its box's bottom
    reached past the floor: each then stands on it."""
    s, c = math.sin(pitch), math.cos(pitch)
    return {key for key, (_, y, z) in contacts.items()
            if c * y + s * z - elevation >= -FLOOR_TOLERANCE * heights[key]}
