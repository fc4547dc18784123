"""Depth: one pass of a monocular depth model over the picture, and each target's statistic.

The model (Depth Anything V2 Small, or its tiny replica) goes through transformers'
``AutoModelForDepthEstimation`` and its image processor. It predicts relative disparity
(inverse depth up to a scale and a shift); ``layout`` turns the statistics into distances.
A target's statistic is the median disparity over the pixels its matte covers: the median
shrugs off the matte's soft edge and a bit of background caught in it.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..env.job_control import CancelToken
from ..models.placement import LoadedModel
from ..models.weight_keys import from_pretrained as checked_pretrained

log = logging.getLogger(__name__)

# Pixels whose matte is at least half opaque belong to the target.
MATTE_THRESHOLD = 128
# Fewer covered pixels than this and the statistic says nothing: no statistic.
MIN_PIXELS = 16
# The map kept in the run folder is at most this many pixels a side (the statistics use the full one).
SAVED_SIDE = 1024


@dataclass
class DepthModel:
    model: Any
    processor: Any


@dataclass
class DepthMap:
    """The model's output over the whole working image, one value per pixel."""

    values: np.ndarray              # float32 [height, width]
    kind: str = "disparity"         # relative inverse depth: larger is nearer
    fov_degrees: float | None = None  # the model's estimate of the field of view, if it makes one


@dataclass(frozen=True)
class DepthStat:
    """One target's depth statistic as the manifest keeps it."""

    disparity: float    # median of the map inside the matte
    pixels: int         # how many pixels it was taken over

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _dtype(device: Any) -> Any:
    import torch

    # fp16 only on CUDA: the DPT head's bicubic and bilinear upsampling is fine there, and MPS
    # and CPU gain nothing from it for a 25 M parameter model.
    return torch.float16 if getattr(device, "type", str(device)) == "cuda" else torch.float32


def load_depth(folder: Path, device: Any) -> LoadedModel:
    """Load Depth Anything V2 (real or tiny replica) from ``folder`` straight onto ``device``."""
    from transformers import AutoImageProcessor, AutoModelForDepthEstimation

    # The slow processor is the one the model was saved with (and it needs no torchvision).
    processor = AutoImageProcessor.from_pretrained(str(folder), use_fast=False)
    model = checked_pretrained(
        AutoModelForDepthEstimation, folder, dtype=_dtype(device), device_map={"": str(device)},
        use_safetensors=True)  # never unpickle a checkpoint
    model.eval()
    return LoadedModel(obj=DepthModel(model, processor), modules=[model])


def depth_loader(spec: Any) -> Any:
    """The manager's loader for the depth role (the same for every depth spec)."""
    return load_depth


def estimate_depth(depth: DepthModel, image: Any, cancel: CancelToken) -> DepthMap:
    """The picture's disparity map at the picture's own size."""
    import torch

    cancel.check()
    rgb = image.convert("RGB")
    inputs = depth.processor(images=rgb, return_tensors="pt")
    parameter = next(depth.model.parameters())
    pixels = inputs["pixel_values"].to(device=parameter.device, dtype=parameter.dtype)
    with torch.inference_mode():
        outputs = depth.model(pixel_values=pixels)
    outputs.predicted_depth = outputs.predicted_depth.float()
    [result] = depth.processor.post_process_depth_estimation(outputs, target_sizes=[(rgb.height, rgb.width)])
    values = result["predicted_depth"].detach().cpu().numpy().astype(np.float32)
    cancel.check()
    # Depth Anything V2's relative models predict no field of view.
    return DepthMap(values=values.reshape(rgb.height, rgb.width))


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
