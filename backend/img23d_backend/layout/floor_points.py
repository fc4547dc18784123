"""The floor measured in a metric point map: the plane the picture's background lies on, which gives the camera's
pitch and height (``layout.LayoutSettings.floor``) without reading them off the boxes' bottoms.

A relative depth map cannot give it (a plane's inverse depth stays affine in the pixels whatever the model's shift,
so every shift leaves a plane), but a metric model's points can: it predicts the points themselves. The floor is
the plane most background points (pixels no target's matte covers, with a surface) lie on, found by RANSAC over a
fixed sample (the same every run) and refitted by least squares over its inliers. It must face up (its normal
within ``MAX_PITCH`` of the camera's down axis, with no more roll than ``MAX_ROLL``), lie below the camera, and
carry a good share of the background (``MIN_SHARE``): a wall filling the picture is no floor, and a picture with
no floor in view (a close-up, a sky) keeps the boxes' fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from img23d_protocol.layout_floor import MAX_PITCH

from ..depth.estimator import DepthMap

SAMPLE = 4000             # background points the search draws from
TRIES = 300               # planes tried
MIN_POINTS = 200          # the fewest background points worth a search
MIN_SHARE = 0.3           # the share of the sampled background a floor must carry
MAX_ROLL = math.radians(10.0)
TOLERANCE_M, TOLERANCE_SHARE = 0.01, 0.01   # a point is on the plane within 1 cm plus 1 % of its distance


@dataclass(frozen=True)
class MeasuredFloor:
    pitch: float          # radians, positive: the camera looks down
    elevation: float      # metres: the camera's height above the floor
    points: int           # sampled background points on it


def floor_of(depth: DepthMap, covered: np.ndarray) -> MeasuredFloor | None:
    """The floor under a metric map's background (``covered``: the pixels the targets' mattes cover), or None:
    a relative map, too little background, or no plane that can be a floor."""
    if depth.points is None:
        return None
    points = depth.points
    usable = ~covered & np.isfinite(points).all(axis=-1) & (points[..., 2] > 0)
    if depth.mask is not None:
        usable &= depth.mask
    return measured_floor(points[usable].astype(np.float64))   # only the background's points in double


def measured_floor(points: np.ndarray) -> MeasuredFloor | None:
    """The floor among ``points`` (N x 3, camera frame: x right, y down, z forward, metres), or None."""
    if len(points) < MIN_POINTS:
        return None
    rng = np.random.default_rng(0)
    if len(points) > SAMPLE:
        points = points[rng.choice(len(points), SAMPLE, replace=False)]
    tolerance = TOLERANCE_M + TOLERANCE_SHARE * np.linalg.norm(points, axis=1)
    best: np.ndarray | None = None
    for trio in rng.integers(0, len(points), size=(TRIES, 3)):
        plane = _plane(points[trio])
        if plane is None:
            continue
        inliers = np.abs(points @ plane[:3] - plane[3]) < tolerance
        if best is None or inliers.sum() > best.sum():
            best = inliers
    if best is None or best.sum() < max(MIN_POINTS, MIN_SHARE * len(points)):
        return None
    plane = _fitted(points[best])
    if plane is None:
        return None
    normal, offset = plane[:3], plane[3]
    across = math.hypot(normal[1], normal[2])  # the roll left out: the layout's floor has none
    return MeasuredFloor(math.atan2(normal[2], normal[1]), float(offset / across), int(best.sum()))


def _plane(trio: np.ndarray) -> np.ndarray | None:
    normal = np.cross(trio[1] - trio[0], trio[2] - trio[0])
    length = np.linalg.norm(normal)
    if length < 1e-12:
        return None
    return _floor_like(normal / length, trio.mean(axis=0))


def _fitted(points: np.ndarray) -> np.ndarray | None:
    """The least-squares plane through ``points`` (their smallest principal axis), if it can be a floor."""
    centre = points.mean(axis=0)
    _, _, axes = np.linalg.svd(points - centre, full_matrices=False)
    return _floor_like(axes[2], centre)


def _floor_like(normal: np.ndarray, through: np.ndarray) -> np.ndarray | None:
    """(normal, offset) of the plane through ``through``, its normal pointing down the camera's y, when it faces
    up within the layout's pitch and roll and lies below the camera; None otherwise."""
    if normal[1] < 0:
        normal = -normal
    offset = float(normal @ through)
    pitch, roll = math.atan2(normal[2], normal[1]), math.asin(min(1.0, abs(float(normal[0]))))
    if offset <= 0 or abs(pitch) > MAX_PITCH or roll > MAX_ROLL:
        return None
    return np.append(normal, offset)
