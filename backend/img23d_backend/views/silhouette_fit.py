"""Placing a photo on a camera's picture plane: its cut-out fitted to the mesh's silhouette.

The photo's cut-out (alpha over one half) and the mesh's silhouette from the same side are matched
first by their moments (area gives the scale, centroids the offset), then by a small search over
scale and offset that maximises their overlap (intersection over union). A photo is never taken
exactly from its side: the camera may be turned about +Z by up to ``MAX_YAW`` either way and raised
or lowered by up to ``MAX_PITCH`` (``fit_pose``: a search over the two angles), and a turned camera is
kept only when its outline fits clearly better than the side's own (``CLEARLY_BETTER``): an object
whose outline is the same from nearby (a barrel) keeps its named side. Where the photo may have
been taken close up, the same fit is made against the silhouettes of perspective cameras at a few
distances, and a perspective camera is kept only when it fits clearly better than the orthographic
one (``CLEARLY_BETTER``; so they are not tried when the orthographic fit leaves less than that): a
photo from far away is orthographic enough. The residual is what the
fitted outlines do not share (1 - IoU); a view whose residual is above ``MAX_RESIDUAL`` is not the
mesh seen from that side (or not cut out well) and is left out. A photo whose outline fits another
side's camera, or the mirror of one, far better than its own (``looks_like``) is named as that side.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from img23d_protocol import FRONT, SIDES

from .cameras import ViewCamera, ViewRaster, Window, camera_for, rasterize_view, window_for

FIT_SIZE = 384               # pixels of the window the outlines are compared in (and the depth test's)
MAX_RESIDUAL = 0.2           # 1 - IoU above which a view is left out
CLEARLY_BETTER = 0.015       # the residual a perspective camera must save over the orthographic one
DISTANCES = (6.0, 3.0, 2.0)  # perspective cameras tried, in bounding radii from the centre
MAX_YAW = 35.0               # degrees either way of the named side the camera may be turned
MAX_PITCH = 20.0             # degrees above or below the side's level it may be raised or lowered
POSE_STEP = 10.0             # the angles' first step, degrees
POSE_FINEST = 2.5            # ... and their last
GRID_KEPT = 4                # the grid's cameras fitted in full (the rest judged by their moments alone)
GRID_SIZE = 128              # pixels of the window the grid's cameras are judged in
FAR_BETTER = 3.0             # another side's residual this many times smaller names the photo as that side
_MAX_ROUNDS = 40
_FINEST = 0.25                     # window pixels: the search stops below this step


@dataclass(frozen=True)
class Placement:
    """Where a photo lies on a camera's picture plane: photo pixel (x, y) is at plane
    (origin_x + scale * x, origin_y - scale * y) (photo rows run down)."""

    scale: float
    origin_x: float
    origin_y: float

    def to_photo(self, plane: np.ndarray) -> np.ndarray:
        """Picture-plane points (N, 2) as photo (x, y) pixel coordinates."""
        return np.stack([(plane[:, 0] - self.origin_x) / self.scale, (self.origin_y - plane[:, 1]) / self.scale],
                        axis=1)


@dataclass(frozen=True)
class SilhouetteFit:
    """A photo fitted to the mesh from one side: its camera, its placement, and how well it fits."""

    camera: ViewCamera
    placement: Placement
    residual: float          # 1 - IoU of the fitted outlines
    raster: ViewRaster       # what the camera sees of the mesh: the outline, and the depths for the depth test

    @property
    def perspective(self) -> bool:
        return self.camera.distance is not None


def photo_mask(alpha: np.ndarray) -> np.ndarray:
    """The cut-out's pixels: alpha (0..1) over one half."""
    return np.asarray(alpha, dtype=np.float32) > 0.5


def fit_photo(side: str, vertices: np.ndarray, faces: np.ndarray, alpha: np.ndarray,
              centre: np.ndarray, radius: float) -> SilhouetteFit | None:
    """The best placement of a cut-out (its alpha, 0..1) on the mesh's silhouette from ``side`` (or from a
    little off it: ``fit_pose``), or None when the cut-out is empty. Perspective cameras, and turned ones,
    are kept only when clearly better."""
    mask = photo_mask(alpha)
    if not mask.any():
        return None
    level = _fit_camera(camera_for(side, centre), vertices, faces, mask)
    if level.residual < CLEARLY_BETTER:  # nothing another camera could clearly improve
        return level
    # The side's own camera from closer, then a turned or raised one (and it from closer): each kept only
    # when clearly better than what came before, so a close-up is not taken for a turn, nor a turn for a tilt.
    best = _closer(level, side, vertices, faces, mask, centre, radius)
    posed = fit_pose(side, vertices, faces, mask, centre, level)
    if posed is not level:
        for candidate in (posed, _closer(posed, side, vertices, faces, mask, centre, radius)):
            if candidate.residual < best.residual - CLEARLY_BETTER:
                best = candidate
    return best


def _closer(start: SilhouetteFit, side: str, vertices: np.ndarray, faces: np.ndarray, mask: np.ndarray,
            centre: np.ndarray, radius: float) -> SilhouetteFit:
    """``start``'s camera from each of ``DISTANCES``, the best kept when clearly better than ``start``."""
    best = start
    for distance in DISTANCES:
        camera = camera_for(side, centre, distance * radius, start.camera.yaw, start.camera.pitch)
        candidate = _fit_camera(camera, vertices, faces, mask)
        if candidate.residual < best.residual - CLEARLY_BETTER:
            best = candidate
    return best


def fit_pose(side: str, vertices: np.ndarray, faces: np.ndarray, mask: np.ndarray, centre: np.ndarray,
             level: SilhouetteFit | None = None) -> SilhouetteFit:
    """The orthographic camera near ``side`` whose outline fits the cut-out ``mask`` best: the side's own
    (``level``, when already fitted) unless one turned by up to ``MAX_YAW`` and raised or lowered by up to
    ``MAX_PITCH`` fits clearly better.

    First a grid of turns and pitches every ``POSE_STEP`` degrees (35 cameras, each judged by the moments'
    placement, the best ``GRID_KEPT`` fitted in full), so that the search never stops in a near minimum on
    the wrong side (a turn and a tilt can look alike); then a pattern search over the two angles from
    there, each stepped both ways while that helps, the steps halved from half the grid's down to
    ``POSE_FINEST`` degrees when none does."""
    level = level or _fit_camera(camera_for(side, centre), vertices, faces, mask)
    if level.residual < CLEARLY_BETTER:
        return level
    tried = {(0.0, 0.0): level}

    def fitted(yaw: float, pitch: float) -> SilhouetteFit:
        if (yaw, pitch) not in tried:
            tried[(yaw, pitch)] = _fit_camera(camera_for(side, centre, None, yaw, pitch), vertices, faces, mask)
        return tried[(yaw, pitch)]

    turns = np.arange(-np.floor(MAX_YAW / POSE_STEP), np.floor(MAX_YAW / POSE_STEP) + 1) * POSE_STEP
    rises = np.arange(-np.floor(MAX_PITCH / POSE_STEP), np.floor(MAX_PITCH / POSE_STEP) + 1) * POSE_STEP
    # The grid's cameras are judged by their moments' placement alone (one rasterization each); the few
    # that fit best get the full search over scale and offset.
    grid = sorted(((float(yaw), float(pitch)) for yaw in turns for pitch in rises),
                  key=lambda angles: _moments_residual(camera_for(side, centre, None, *angles), vertices, faces, mask))
    best = min((fitted(*angles) for angles in grid[:GRID_KEPT]), key=lambda fit: fit.residual)
    steps, limits = np.array([POSE_STEP, POSE_STEP]) / 2, np.array([MAX_YAW, MAX_PITCH])
    while steps[0] >= POSE_FINEST:
        moved = False
        for axis in range(2):
            for sign in (1.0, -1.0):
                angles = np.array([best.camera.yaw, best.camera.pitch])
                angles[axis] += sign * steps[axis]
                if abs(angles[axis]) > limits[axis]:
                    continue
                candidate = fitted(float(angles[0]), float(angles[1]))
                if candidate.residual < best.residual:
                    best, moved = candidate, True
                    break
        if not moved:
            steps = steps / 2
    return best if best.residual < level.residual - CLEARLY_BETTER else level


def posed(fit: SilhouetteFit, yaw: float, pitch: float, distance: float | None, vertices: np.ndarray,
          faces: np.ndarray, mask: np.ndarray, quick: bool = False) -> SilhouetteFit:
    """``fit``'s camera turned to ``yaw``, raised to ``pitch`` and at ``distance`` (None: orthographic),
    fitted to the cut-out ``mask``; ``quick``: placed by the moments alone in a window of ``GRID_SIZE``
    pixels (a first judge)."""
    camera = camera_for(fit.camera.side, fit.camera.centre, distance, yaw, pitch)
    return _quick_fit(camera, vertices, faces, mask) if quick else _fit_camera(camera, vertices, faces, mask)


def _fit_camera(camera: ViewCamera, vertices: np.ndarray, faces: np.ndarray, mask: np.ndarray) -> SilhouetteFit:
    window = window_for(camera, vertices, FIT_SIZE, margin=1.25)
    raster = rasterize_view(camera, vertices, faces, window)
    silhouette = raster.mask
    start = _moments_placement(silhouette, window, mask)
    # A pattern search from the moments' placement: scale (about the cut-out's centroid) and the two
    # offsets, each stepped both ways while that helps, the steps halved when none does.
    rows, columns = np.nonzero(mask)
    cx, cy = float(columns.mean()), float(rows.mean())
    state = np.array([start.scale, start.origin_x + start.scale * cx, start.origin_y - start.scale * cy])

    def placed(values: np.ndarray) -> Placement:
        return Placement(float(values[0]), float(values[1] - values[0] * cx), float(values[2] + values[0] * cy))

    best_iou = _iou(silhouette, window, mask, placed(state))
    steps = np.array([0.04 * start.scale, 2 * window.pixel, 2 * window.pixel])
    for _ in range(_MAX_ROUNDS):
        moved = False
        for axis in range(3):
            for sign in (1.0, -1.0):
                trial = state.copy()
                trial[axis] += sign * steps[axis]
                iou = _iou(silhouette, window, mask, placed(trial))
                if iou > best_iou:
                    state, best_iou, moved = trial, iou, True
                    break
        if not moved:
            steps /= 2
            if steps[1] < _FINEST * window.pixel:
                break
    return SilhouetteFit(camera, placed(state), 1.0 - best_iou, raster)


def _quick_fit(camera: ViewCamera, vertices: np.ndarray, faces: np.ndarray, mask: np.ndarray) -> SilhouetteFit:
    """The cut-out placed on ``camera``'s outline by the moments alone, in a window of ``GRID_SIZE`` pixels:
    a quick first judge."""
    window = window_for(camera, vertices, GRID_SIZE, margin=1.25)
    raster = rasterize_view(camera, vertices, faces, window)
    placement = _moments_placement(raster.mask, window, mask)
    return SilhouetteFit(camera, placement, 1.0 - _iou(raster.mask, window, mask, placement), raster)


def _moments_residual(camera: ViewCamera, vertices: np.ndarray, faces: np.ndarray, mask: np.ndarray) -> float:
    """1 - IoU of the cut-out placed on ``camera``'s outline by the moments alone (``_quick_fit``)."""
    return _quick_fit(camera, vertices, faces, mask).residual


def _moments_placement(silhouette: np.ndarray, window: Window, mask: np.ndarray) -> Placement:
    """Scale from the two areas, offset from the two centroids."""
    plane_x, plane_y = window.grid()
    area = silhouette.sum() * window.pixel ** 2
    rows, columns = np.nonzero(mask)
    scale = float(np.sqrt(max(area, 1e-12) / len(rows)))
    mesh_x, mesh_y = (float(plane_x[silhouette].mean()), float(plane_y[silhouette].mean())) if silhouette.any() \
        else (0.0, 0.0)
    return Placement(scale, mesh_x - scale * float(columns.mean()), mesh_y + scale * float(rows.mean()))


def warp_to_window(values: np.ndarray, window: Window, placement: Placement, linear: bool = False) -> np.ndarray:
    """A photo-sized array resampled onto ``window``'s pixels under ``placement`` (0 outside)."""
    # window pixel (c, r) -> plane (-half + c*p, half - r*p) -> photo ((plane_x - ox)/s, (oy - plane_y)/s)
    step = window.pixel / placement.scale
    matrix = np.array([[step, 0.0, (-window.half - placement.origin_x) / placement.scale],
                       [0.0, step, (placement.origin_y - window.half) / placement.scale]], dtype=np.float64)
    flags = (cv2.INTER_LINEAR if linear else cv2.INTER_NEAREST) | cv2.WARP_INVERSE_MAP
    return cv2.warpAffine(np.asarray(values, dtype=np.float32), matrix, (window.size, window.size), flags=flags,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _iou(silhouette: np.ndarray, window: Window, mask: np.ndarray, placement: Placement) -> float:
    warped = warp_to_window(mask.astype(np.float32), window, placement) > 0.5
    union = np.logical_or(warped, silhouette).sum()
    return float(np.logical_and(warped, silhouette).sum() / union) if union else 0.0


@dataclass(frozen=True)
class LooksLike:
    """The side (or its mirror) whose camera fits a photo's outline far better than the side it was given as."""

    side: str
    mirrored: bool
    residual: float

    def words(self) -> str:
        return f"the mirror image of the mesh from the {self.side}" if self.mirrored else f"the mesh from the {self.side}"


def looks_like(side: str, vertices: np.ndarray, faces: np.ndarray, alpha: np.ndarray, centre: np.ndarray,
               residual: float) -> LooksLike | None:
    """Another side, or a side's mirror (the photo flipped left to right, its own side's too; a side as it
    is comes first, see below), whose
    camera fits the cut-out's outline within ``MAX_RESIDUAL`` and ``FAR_BETTER`` times better than
    ``residual`` (the photo's fit from ``side``); None when none does. The side cameras only: a turned
    photo of its own side is the pose fit's."""
    mask = photo_mask(alpha)
    found = None
    # The sides as they are first: opposite sides' outlines are mirror images of each other, so a mirror is
    # named only when it fits clearly better than every side as it is.
    for mirrored in (False, True):
        for other in (FRONT, *SIDES):
            if other == side and not mirrored:
                continue
            fit = _fit_camera(camera_for(other, centre), vertices, faces, mask[:, ::-1] if mirrored else mask)
            margin = CLEARLY_BETTER if mirrored and found is not None and not found.mirrored else 0.0
            if fit.residual <= MAX_RESIDUAL and fit.residual * FAR_BETTER < residual and (
                    found is None or fit.residual < found.residual - margin):
                found = LooksLike(other, mirrored, fit.residual)
    return found
