"""Depth Anything V2's code as the depth driver calls it: transformers' ``AutoModelForDepthEstimation`` and its
image processor (real model or tiny replica), one pass over the picture, its relative disparity at the picture's
own size."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...env.job_control import CancelToken
from ...models.placement import LoadedModel
from ...models.specs import ModelReplica, ModelSpec
from ...models.weight_keys import from_pretrained as checked_pretrained
from ..estimator import DepthEstimator, DepthMap
from . import replica


@dataclass
class DepthModel:
    model: Any
    processor: Any


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


def _loader(spec: ModelSpec) -> Any:  # -> models.manager.Loader
    return load_depth


def _build(folder: Path, size: str) -> tuple[dict[str, Any], int]:
    return replica.build(folder), replica.SEED


ESTIMATORS: dict[str, DepthEstimator] = {
    "da2-small": DepthEstimator("da2-small", _loader, estimate_depth,
                                ModelReplica(build=_build, construct=lambda: {}, published_params={"total": 2.48e7})),
}
