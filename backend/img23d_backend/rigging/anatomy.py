"""Where a humanoid's limb joints lie along a limb: the shoulder, elbow and wrist along an arm, the hip,
knee and ankle along a leg.

A limb is a polyline from the body's middle (the top of the spine for an arm, the pelvis for a leg) to
its free end: the medial axis's points (``humanoid_axis``, which puts bones there) or a skeleton's joints
(``names``, which names bones by the joint each ends at). The same rules read both, so a skeleton made
from the axis is named as it was made. Positions are arc lengths along the polyline from its start.

A joint is where the limb bends clearly (more than ``BEND`` degrees: an arm that hangs turns down at the
shoulder, a bent elbow or knee, a foot turning forward at the ankle), else where a human's proportions
put it. The proportions are Drillis and Contini's segment lengths as fractions of the height H (Winter,
"Biomechanics and Motor Control of Human Movement", 4th ed., figure 4.1): upper arm 0.186 H, forearm
0.146 H, hand 0.108 H, thigh 0.245 H, shank 0.246 H, shoulders 0.259 H wide. A shoulder joint lies inside
its acromion, about 0.12 H from the middle: an arm from the spine's top to the fingertips is then about
0.56 H, its shoulder at 0.21 of it. Nothing else about anatomy is known: a figure with long forearms or
tiny hands gets its wrist where a human's would be.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BEND = 30.0                           # degrees: a turn at least this sharp is a joint
ANKLE_BEND = 35.0                     # the foot's turn forward (a leg is often a little bent above it)
SHOULDER_FALL = np.sin(np.radians(20))  # an arm turning at the shoulder goes down at least this steeply after
SHOULDER_AT = 0.12 / (0.12 + 0.44)    # the shoulder along an arm from the spine's top: 0.21
ELBOW_AT = 0.186 / 0.44               # the elbow along the arm from the shoulder to the fingertips: 0.42
WRIST_AT = 0.146 / (0.146 + 0.108)    # the wrist along the forearm and hand: 0.57
KNEE_AT = 0.245 / (0.245 + 0.246)     # the knee between the hip and the ankle: 0.50
HIP_REACH = 0.8                       # the hip: where a leg has come this share of the way out to its side
BALL_AT = 0.6                         # the ball of the foot along the foot from the ankle
MIN_FOOT = 0.03                       # a foot shorter than this part of the height gets no toe bone


@dataclass(frozen=True)
class Arm:
    shoulder: float
    elbow: float
    wrist: float
    end: float


@dataclass(frozen=True)
class Leg:
    hip: float
    knee: float
    ankle: float
    ball: float | None    # None: no foot long enough for a toe bone
    end: float


def arc(points: np.ndarray) -> np.ndarray:
    """The arc length at each point of a polyline."""
    return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])


def at(points: np.ndarray, s: float) -> np.ndarray:
    """The point at arc length ``s`` along the polyline (clamped to its ends)."""
    steps = arc(points)
    return np.array([np.interp(s, steps, points[:, k]) for k in range(3)])


def turns(points: np.ndarray, window: float | None) -> tuple[np.ndarray, np.ndarray]:
    """The turn in degrees at each point, between the way in and the way out, each over ``window`` of arc
    (the axis's voxel steps zigzag; a window smooths them) or over the neighbouring segments when
    ``window`` is None (a skeleton's joints), and how steeply the way out falls (the sine of its angle
    below level). The ends turn 0."""
    steps = arc(points)
    angles, falls = np.zeros(len(points)), np.zeros(len(points))
    for i in range(1, len(points) - 1):
        back = at(points, steps[i] - window) if window else points[i - 1]
        ahead = at(points, steps[i] + window) if window else points[i + 1]
        into, out = points[i] - back, ahead - points[i]
        norms = float(np.linalg.norm(into) * np.linalg.norm(out))
        if norms > 0:
            angles[i] = np.degrees(np.arccos(np.clip(float(into @ out) / norms, -1.0, 1.0)))
            falls[i] = -out[2] / float(np.linalg.norm(out))
    return angles, falls


def _sharpest(steps: np.ndarray, angles: np.ndarray, low: float, high: float, least: float) -> float | None:
    """The arc position of the sharpest turn between ``low`` and ``high`` if it turns ``least`` or more."""
    inside = np.flatnonzero((steps > low) & (steps < high) & (angles >= least))
    return float(steps[inside[np.argmax(angles[inside])]]) if len(inside) else None


def arm(points: np.ndarray, window: float | None = None) -> Arm:
    """An arm's joints along ``points``, from the spine's top to the arm's end (see the module). A turn
    near the start is the shoulder only if the arm goes down after it (an A-pose, an arm hanging): the
    axis rising from a chest junction below the shoulders to an arm held level is no shoulder."""
    steps = arc(points)
    angles, falls = turns(points, window)
    end = float(steps[-1])
    shoulder = _sharpest(steps, np.where(falls > SHOULDER_FALL, angles, 0.0), 0.08 * end, 0.4 * end, BEND)
    shoulder = SHOULDER_AT * end if shoulder is None else shoulder
    elbow = _sharpest(steps, angles, shoulder + 0.25 * (end - shoulder), shoulder + 0.75 * (end - shoulder), BEND)
    elbow = shoulder + ELBOW_AT * (end - shoulder) if elbow is None else elbow
    return Arm(shoulder, elbow, elbow + WRIST_AT * (end - elbow), end)


def leg(points: np.ndarray, height: float, window: float | None = None) -> Leg:
    """A leg's joints along ``points``, from the pelvis (on the body's middle) to the foot's end; ``height``:
    the figure's. The hip is where the leg has come ``HIP_REACH`` of the way out to its side (measured a
    quarter of the way down: a thigh's top, not a foot turned out); the ankle the foot's turn forward, else
    the leg's end (a leg with no foot); the knee a bend between, else halfway."""
    steps, (angles, _) = arc(points), turns(points, window)
    end = float(steps[-1])
    out = np.abs(points[:, 0] - points[0, 0])
    drop = points[0, 2] - 0.25 * (points[0, 2] - points[:, 2].min())
    reach = HIP_REACH * out[np.argmax(points[:, 2] <= drop)]
    past = int(np.argmax(out >= reach))
    hip = 0.0
    if reach > 0.01 * height and past > 0:
        share = (reach - out[past - 1]) / (out[past] - out[past - 1])
        hip = float(steps[past - 1] + share * (steps[past] - steps[past - 1]))
    ankle = _sharpest(steps, angles, hip + 0.6 * (end - hip), end, ANKLE_BEND)
    ankle = end if ankle is None else ankle
    knee = _sharpest(steps, angles, hip + 0.25 * (ankle - hip), hip + 0.75 * (ankle - hip), BEND)
    knee = hip + KNEE_AT * (ankle - hip) if knee is None else knee
    ball = ankle + BALL_AT * (end - ankle) if end - ankle >= MIN_FOOT * height else None
    return Leg(hip, knee, ankle, ball, end)
