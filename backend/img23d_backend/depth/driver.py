"""Depth, whichever model estimates it: one pass over the picture (``estimate_depth``, the call a job makes), and
each target's statistic.

The manager's loader for the depth role (``depth_loader``) is the spec's model's (``table.estimator_of``), what
it loads held with its code. The model predicts relative disparity (inverse depth up to a scale and a shift);
``layout`` turns the statistics into distances.
A target's statistic is the median disparity over the pixels its matte covers: the median
shrugs off the matte's soft edge and a bit of background caught in it.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..env.job_control import CancelToken
from ..env.room_table import Held, held_loader
from ..models.specs import ModelSpec
from .estimator import DepthEstimator, DepthMap
from .table import estimator_of

__all__ = ["DepthMap", "DepthStat", "depth_loader", "estimate_depth", "matte_statistic", "measured_values", "saved_map",
           "preview"]

log = logging.getLogger(__name__)

# Pixels whose matte is at least half opaque belong to the target.
MATTE_THRESHOLD = 128
# Fewer covered pixels than this and the statistic says nothing: no statistic.
MIN_PIXELS = 16
# The map kept in the run folder is at most this many pixels a side (the statistics use the full one).
SAVED_SIDE = 1024


@dataclass(frozen=True)
class DepthStat:
    """One target's depth statistic as the manifest keeps it."""

    disparity: float    # median of the map inside the matte
    pixels: int         # how many pixels it was taken over

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def depth_loader(spec: ModelSpec) -> Any:  # -> models.manager.Loader
    """The manager's loader for the depth role: the spec's model's, what it loads held with its code."""
    return held_loader(estimator_of(spec), spec)


def estimate_depth(depth: Held[DepthEstimator], image: Any, cancel: CancelToken) -> DepthMap:
    """The picture's disparity map at the picture's own size."""
    return depth.code.estimate(depth.model, image, cancel)


def measured_values(depth: DepthMap) -> np.ndarray:
    """The map's values where the model measured a surface, NaN elsewhere: a metric model's ``mask`` leaves out the
    pixels it saw nothing at (their 1 / z is 0), which a matte over them would otherwise count as infinitely far."""
    if depth.mask is None:
        return depth.values
    return np.where(depth.mask, depth.values, np.float32(np.nan)).astype(np.float32)


def matte_statistic(depth: np.ndarray, alpha: np.ndarray, rect: tuple[int, int, int, int]) -> DepthStat | None:
    """The median of ``depth`` where ``alpha`` (the matte over crop ``rect`` of the picture) is opaque.

    None when the matte covers fewer than ``MIN_PIXELS`` pixels with a finite value.
    """
    x0, y0, x1, y1 = rect
    region = depth[y0:y1, x0:x1]
    if region.shape != alpha.shape:
        raise ValueError(f"the matte is {alpha.shape[::-1]} pixels but its crop {rect} is {region.shape[::-1]}")
    values = region[alpha >= MATTE_THRESHOLD]
    values = values[np.isfinite(values)]
    if values.size < MIN_PIXELS:
        return None
    return DepthStat(disparity=float(np.median(values)), pixels=int(values.size))


def saved_map(values: np.ndarray) -> np.ndarray:
    """The map as the run folder keeps it: at most ``SAVED_SIDE`` pixels a side, float32."""
    from PIL import Image

    height, width = values.shape
    scale = SAVED_SIDE / max(width, height)
    if scale >= 1:
        return values.astype(np.float32)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(values.astype(np.float32), "F").resize(size, Image.Resampling.BILINEAR))


def preview(values: np.ndarray) -> Any:
    """An 8-bit picture of the map for people: near is bright."""
    from PIL import Image

    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    scaled = (np.nan_to_num(values, nan=lo) - lo) / max(hi - lo, 1e-12)
    return Image.fromarray((scaled.clip(0, 1) * 255 + 0.5).astype(np.uint8), "L")
