"""A placed scene scored against its truth, as the field scores scenes (issue 98; the protocols as DESIGN.md's
"How the field scores a scene" reads them from the releases' code).

Per object (both meshes in the truth's camera frame, x right, y down, z forward, metres):

- ``bbox_camera``: the placed object's axis-aligned box; ``iou_b``: its IoU with the true one (MIDI's IoU-B, boxes
  in the camera frame, before any alignment);
- ``centre_error_m`` and ``centre_error_pct``: between the two boxes' centres, and as a share of the true centre's
  distance from the camera;
- ``size_ratio``: the placed surface's RMS radius about its centroid over the true one's (a similarity keeps the
  ratio of every length: 1 is the true size);
- ``yaw_error_deg``: the turn about the world's up axis that best takes the true surface onto the placed one
  (Procrustes over matched points, the meshes being the same triangles); None where they are not;
- ``support_gap_m``: its lowest point above what it stands on (the floor at Z = 0, or the top of its support's
  placed surface under its footprint), in the truth's world; negative: it sinks in;
- ``penetration_pct``: the share of its volume (points on a grid inside it) under the floor or inside another
  placed object;
- ``mask_iou``: its visible pixels seen through the layout's own camera against the true mask.

Per scene (surface samples of all objects): Chamfer distance (unsquared, averaged both ways) and F1 at 0.1 and
0.05 m in the metric camera frame with no alignment, the prediction cut to the camera's frustum (Gen3DSR's
protocol); the same after the single scale about the camera that fits best; and MIDI's figures: both scenes
normalised per axis by the truth's bounds to [-0.95, 0.95], a rigid ICP of 50 iterations, squared Chamfer summed
both ways and F at 0.1 on unsquared distances (our reading of MIDI's protocol; never compare the two families).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from quality import icp as quality_icp  # bench/quality.py (the benchmark folder is on the path)

SAMPLES = 20_480          # surface points per object, as MIDI samples
GRID = 14                 # grid points a side for an object's volume
FIT_SAMPLES = 6_000       # points the scale search and ICP fit on (the scores are read on all of them)


@dataclass
class Placed:
    """One object as the layout placed it: its mesh's triangles in the truth's camera frame."""

    name: str
    vertices: np.ndarray
    faces: np.ndarray
    matched: bool                 # the same triangles as the true mesh, vertex for vertex


def surface(vertices: np.ndarray, faces: np.ndarray, count: int = SAMPLES, seed: int = 0) -> np.ndarray:
    """``count`` points on the surface, by area; the same seed on the same triangles gives matched points."""
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    points, _ = trimesh.sample.sample_surface(mesh, count, seed=seed)
    return np.asarray(points)


def box_of(points: np.ndarray) -> np.ndarray:
    return np.stack([points.min(axis=0), points.max(axis=0)])


def iou_b(a: np.ndarray, b: np.ndarray) -> float:
    low, high = np.maximum(a[0], b[0]), np.minimum(a[1], b[1])
    inter = float(np.prod(np.clip(high - low, 0, None)))
    union = float(np.prod(a[1] - a[0]) + np.prod(b[1] - b[0])) - inter
    return inter / union if union > 0 else 0.0


def rms_radius(points: np.ndarray) -> float:
    return float(np.sqrt(((points - points.mean(axis=0)) ** 2).sum(axis=1).mean()))


def yaw_between(true_world: np.ndarray, placed_world: np.ndarray) -> float:
    """Degrees about Z taking the matched true points onto the placed ones (2-D Procrustes over x, y)."""
    a = true_world[:, :2] - true_world[:, :2].mean(axis=0)
    b = placed_world[:, :2] - placed_world[:, :2].mean(axis=0)
    cross = float((a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]).sum())
    dot = float((a * b).sum())
    return math.degrees(math.atan2(cross, dot))


def chamfer_f(pred: np.ndarray, truth: np.ndarray, thresholds: tuple[float, ...]) -> dict[str, float]:
    """Unsquared Chamfer averaged both ways and F1 at each threshold."""
    if len(pred) == 0:
        return {"chamfer_m": math.inf, **{f"f1_{t:g}": 0.0 for t in thresholds}}
    to_truth, _ = cKDTree(truth).query(pred)
    to_pred, _ = cKDTree(pred).query(truth)
    scores = {"chamfer_m": float(0.5 * (to_truth.mean() + to_pred.mean()))}
    for t in thresholds:
        precision, recall = float((to_truth < t).mean()), float((to_pred < t).mean())
        scores[f"f1_{t:g}"] = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return scores


def best_scale(pred: np.ndarray, truth: np.ndarray) -> float:
    """The one scale about the camera (the origin) that brings ``pred`` nearest ``truth`` (golden section over its
    logarithm, between a fifth and five times)."""
    pred, truth = subsample(pred), subsample(truth)
    tree = cKDTree(truth)

    def cost(log_scale: float) -> float:
        return float(tree.query(pred * math.exp(log_scale))[0].mean())

    low, high = math.log(0.2), math.log(5.0)
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(60):
        a, b = high - ratio * (high - low), low + ratio * (high - low)
        if cost(a) < cost(b):
            high = b
        else:
            low = a
    return math.exp((low + high) / 2)


def in_frustum(points: np.ndarray, focal: float, size: tuple[int, int]) -> np.ndarray:
    width, height = size
    z = points[:, 2]
    ahead = z > 1e-6
    u = np.where(ahead, width / 2 + focal * points[:, 0] / np.where(ahead, z, 1), -1)
    v = np.where(ahead, height / 2 + focal * points[:, 1] / np.where(ahead, z, 1), -1)
    return ahead & (u >= 0) & (u <= width) & (v >= 0) & (v <= height)


def subsample(points: np.ndarray, count: int = FIT_SAMPLES) -> np.ndarray:
    """At most ``count`` of ``points``, the same ones every run."""
    if len(points) <= count:
        return points
    return points[np.random.default_rng(0).choice(len(points), count, replace=False)]


def icp(source: np.ndarray, target: np.ndarray, iterations: int = 50) -> np.ndarray:
    """``source`` moved rigidly onto ``target``: ``quality.icp`` (point-to-point, Besl and McKay) fitted on a
    subsample of each, applied to all of ``source``."""
    rotation, shift = quality_icp(subsample(source), subsample(target), iterations)
    return source @ rotation.T + shift


def midi_scores(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    low, high = truth.min(axis=0), truth.max(axis=0)
    centre, half = (low + high) / 2, np.maximum((high - low) / 2, 1e-9)

    def norm(points: np.ndarray) -> np.ndarray:
        return (points - centre) / half * 0.95

    aligned, target = icp(norm(pred), norm(truth)), norm(truth)
    to_truth, _ = cKDTree(target).query(aligned)
    to_pred, _ = cKDTree(aligned).query(target)
    precision, recall = float((to_truth < 0.1).mean()), float((to_pred < 0.1).mean())
    return {"chamfer_squared_sum": float((to_truth ** 2).mean() + (to_pred ** 2).mean()),
            "f_0.1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0}


def inside(mesh: trimesh.Trimesh, points: np.ndarray) -> np.ndarray:
    """Which points are inside ``mesh``, a union of closed pieces (each piece tested alone: overlapping pieces
    would cancel out in one parity test)."""
    found = np.zeros(len(points), dtype=bool)
    for piece in mesh.split(only_watertight=False):
        low, high = piece.bounds
        near = np.all((points >= low) & (points <= high), axis=1) & ~found
        if near.any():
            found[near] |= piece.contains(points[near])
    return found


def volume_points(mesh: trimesh.Trimesh) -> np.ndarray:
    low, high = mesh.bounds
    axes = [np.linspace(lo, hi, GRID + 2)[1:-1] for lo, hi in zip(low, high)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    return grid[inside(mesh, grid)]
