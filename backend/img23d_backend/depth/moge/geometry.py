"""From MoGe's affine-invariant point map to a camera and a metric point map, as upstream's ``infer`` makes them.

The network's points are right up to a scale and a shift along z. Upstream's ``recover_focal_shift``
(``moge/utils/geometry_torch.py``, ``geometry_numpy.py``: MIT, Microsoft) finds the pinhole camera that sees
them: on a 64 x 64 nearest-neighbour sample of the valid pixels it solves ``min |f * xy / (z + s) - uv|``
over the shift ``s`` (Levenberg-Marquardt, scipy's ``least_squares``, ``ftol=1e-3``), the focal ``f`` in closed
form for each ``s``; ``uv`` is each pixel's place on the view plane, the picture's half diagonal being 1. Then
(``infer`` with its defaults: ``force_projection``, ``apply_mask``) the depth is ``z + s``, the points are that
depth seen through the recovered camera (principal point at the centre, square pixels), and the metric scale
the network predicts turns both into metres. The mask is the mask head's ``> 0.5`` where the depth is
positive. The same steps here, in the same order, so that img23d's figures are upstream's on the same network
output (``bench/moge_parity.py`` checks it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .network import view_plane_uv

SAMPLE_SIDE = 64   # the focal and shift are solved on a 64 x 64 nearest-neighbour sample (upstream's)


@dataclass(frozen=True)
class MetricGeometry:
    """One picture's camera and metric maps (torch tensors on the model's device, float32)."""

    points: torch.Tensor        # [H, W, 3] metres, camera frame: x right, y down, z forward
    depth: torch.Tensor         # [H, W] metres along z
    mask: torch.Tensor          # [H, W] bool: a surface the model trusts, in front of the camera
    normal: torch.Tensor | None  # [H, W, 3] unit normals, camera frame (None: the model has no normal head)
    focal: float                # relative to the picture's half diagonal (upstream's)
    shift: float                # the z shift that made the points a camera's
    scale: float                # metres per unit of the shifted points (1.0: the model has no scale head)

    @property
    def focal_px(self) -> float:
        """The focal length in pixels of the picture (the same across and down: square pixels)."""
        height, width = self.depth.shape
        return self.focal * math.hypot(width, height) / 2

    @property
    def fov_degrees(self) -> float:
        """The field of view across the picture's longer side (``img23d_protocol.layout.Camera``'s)."""
        height, width = self.depth.shape
        return math.degrees(2 * math.atan(max(width, height) / 2 / self.focal_px))


def solve_focal_shift(uv: np.ndarray, xyz: np.ndarray) -> tuple[float, float]:
    """(focal, shift) minimising ``|focal * xy / (z + shift) - uv|`` over the points ``xyz`` [N, 3] seen at
    view-plane places ``uv`` [N, 2] (upstream's ``solve_optimal_focal_shift``, the same solver settings)."""
    from scipy.optimize import least_squares

    uv, xy, z = uv.reshape(-1, 2), xyz[..., :2].reshape(-1, 2), xyz[..., 2].reshape(-1)

    def residuals(shift: np.ndarray) -> np.ndarray:
        projected = xy / (z + shift)[:, None]
        focal = (projected * uv).sum() / np.square(projected).sum()
        return (focal * projected - uv).ravel()

    solution = least_squares(residuals, x0=0, ftol=1e-3, method="lm")
    shift = solution["x"].squeeze().astype(np.float32)
    projected = xy / (z + shift)[:, None]
    return float((projected * uv).sum() / np.square(projected).sum()), float(shift)


def recover_focal_shift(points: torch.Tensor, mask: torch.Tensor | None) -> tuple[float, float]:
    """(focal, shift) of one affine-invariant point map [H, W, 3] over its ``mask`` [H, W] (None: every pixel);
    (1, 0), upstream's answer, when fewer than two valid pixels are left in the sample."""
    height, width = points.shape[:2]
    uv = view_plane_uv(width, height, width / height, points.dtype, points.device)
    size = (SAMPLE_SIDE, SAMPLE_SIDE)
    sample = F.interpolate(points.permute(2, 0, 1)[None], size, mode="nearest")[0].permute(1, 2, 0)
    uv_sample = F.interpolate(uv.permute(2, 0, 1)[None], size, mode="nearest")[0].permute(1, 2, 0)
    xyz, uv_np = sample.detach().cpu().numpy(), uv_sample.cpu().numpy()
    if mask is not None:
        kept = F.interpolate(mask.to(torch.float32)[None, None], size, mode="nearest")[0, 0].cpu().numpy() > 0
        xyz, uv_np = xyz[kept], uv_np[kept]
    if uv_np.reshape(-1, 2).shape[0] < 2:
        return 1.0, 0.0
    return solve_focal_shift(uv_np, xyz)


def metric_geometry(output: dict[str, torch.Tensor]) -> MetricGeometry:
    """One picture's camera and metric maps from the network's output for it (batch of one, as float32)."""
    points = output["points"][0].float()
    height, width = points.shape[:2]
    mask = output["mask"][0].float() > 0.5 if "mask" in output else None
    focal, shift = recover_focal_shift(points, mask)
    depth = points[..., 2] + shift
    valid = depth > 0 if mask is None else mask & (depth > 0)
    # The points as the recovered camera sees the depth (upstream's force_projection): each pixel's centre,
    # principal point at the picture's centre, the focal in pixels across and down.
    focal_px = focal * math.hypot(width, height) / 2
    u = (torch.arange(width, dtype=depth.dtype, device=depth.device) + 0.5 - width / 2) / focal_px
    v = (torch.arange(height, dtype=depth.dtype, device=depth.device) + 0.5 - height / 2) / focal_px
    scale = float(output["metric_scale"][0]) if "metric_scale" in output else 1.0
    depth = depth * scale
    camera_points = torch.stack([u[None, :] * depth, v[:, None] * depth, depth], dim=-1)
    normal = output["normal"][0].float() if "normal" in output else None
    return MetricGeometry(points=camera_points, depth=depth, mask=valid, normal=normal, focal=focal, shift=shift,
                          scale=scale)
