"""MoGe-2's code as the depth driver calls it: its ``model.pt`` (real or tiny replica) read into img23d's network,
one pass over the picture, the recovered camera and the metric point map at the picture's own size.

The pass is upstream's ``MoGeModel.infer`` with its defaults: the picture as it is, in [0, 1]; as many encoder
tokens as the model's ``num_tokens_range`` allows at ``RESOLUTION_LEVEL`` 9 (its top: 3,600 for MoGe-2);
on CUDA in fp16 autocast over fp32 weights (upstream's ``use_fp16``), elsewhere fp32 (upstream would
autocast a CPU to fp16 too: slow there, and the precision is then fp16's for nothing); the focal, shift and
metric scale recovered as ``geometry`` says.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...env.job_control import CancelToken
from ...models.placement import LoadedModel
from ...models.specs import ModelReplica, ModelSpec
from ..estimator import DepthEstimator, DepthMap
from . import replica
from .checkpoint import build_network, read_checkpoint
from .geometry import MetricGeometry, metric_geometry
from .model import CHECKPOINT
from .network import MoGeModel

RESOLUTION_LEVEL = 9   # upstream's default: the most tokens its range allows


def load_moge(folder: Path, device: Any) -> LoadedModel:
    """Load MoGe-2 (real or tiny replica) from ``folder``'s ``model.pt`` straight onto ``device``, in fp32."""
    path = Path(folder) / CHECKPOINT
    config, state = read_checkpoint(path)
    network = build_network(config, state, path, device, torch.float32)
    return LoadedModel(obj=network, modules=[network])


def num_tokens(network: MoGeModel, level: int = RESOLUTION_LEVEL) -> int:
    """The encoder's token count at resolution ``level`` (0 to 9) of the model's range (upstream's formula)."""
    low, high = network.num_tokens_range
    return int(low + level / 9 * (high - low))


def run_network(network: MoGeModel, image: Any) -> MetricGeometry:
    """``image`` (a PIL picture) through ``network`` on the device its weights are on: its metric geometry."""
    parameter = next(network.parameters())
    pixels = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255)
    pixels = pixels.permute(2, 0, 1)[None].to(device=parameter.device, dtype=parameter.dtype)
    fp16 = parameter.device.type == "cuda" and parameter.dtype != torch.float16
    with torch.inference_mode():
        with torch.autocast("cuda", dtype=torch.float16) if fp16 else nullcontext():
            output = network(pixels, num_tokens(network))
        return metric_geometry({name: value.float() for name, value in output.items()})


def estimate_depth(network: MoGeModel, image: Any, cancel: CancelToken) -> DepthMap:
    """The picture's metric point map, mask, normals and camera at the picture's own size."""
    cancel.check()
    geometry = run_network(network, image)
    cancel.check()
    mask = geometry.mask.cpu().numpy()
    depth = geometry.depth.cpu().numpy()
    points = geometry.points.cpu().numpy().astype(np.float32)
    points[~mask] = np.nan
    # Disparity 1/z where there is a surface; 0 (infinitely far) where the mask says there is none (sky).
    values = np.zeros(depth.shape, np.float32)
    values[mask] = 1 / depth[mask]
    normals = None
    if geometry.normal is not None:
        normals = geometry.normal.cpu().numpy().astype(np.float32)
        normals[~mask] = 0
    return DepthMap(values=values, kind="metric", fov_degrees=geometry.fov_degrees, focal_px=geometry.focal_px,
                    points=points, mask=mask, normals=normals)


def _loader(spec: ModelSpec) -> Any:  # -> models.manager.Loader
    return load_moge


def _build(folder: Path, size: str) -> tuple[dict[str, Any], int]:
    return replica.build(folder), replica.SEED


ESTIMATORS: dict[str, DepthEstimator] = {
    "moge2-vits-normal": DepthEstimator(
        "moge2-vits-normal", _loader, estimate_depth,
        ModelReplica(build=_build, construct=lambda: {}, published_params={"total": 3.51e7})),
}
