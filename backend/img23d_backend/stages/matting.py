"""Matting with BiRefNet: each crop becomes an RGBA cut-out of the object in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..models.placement import LoadedModel
from ..models.registry import ModelSpec
from ._common import CancelToken, ProgressFn, working_dtype

INPUT_SIZE = 1024
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MIN_FOREGROUND = 0.002  # a cut-out with less than 0.2% opaque pixels has nothing in it


def matting_loader(spec: ModelSpec):  # -> Loader
    """A loader bound to ``spec``: remote code is trusted only at the pinned revision."""

    def load(folder: Path, device: Any) -> LoadedModel:
        from transformers import AutoModelForImageSegmentation

        if spec.trust_remote_code and not spec.revision:
            raise ValueError(f"{spec.repo_id}: remote code without a pinned revision is refused")
        model = AutoModelForImageSegmentation.from_pretrained(
            str(folder), trust_remote_code=spec.trust_remote_code, revision=spec.revision,
            use_safetensors=True)  # never unpickle a checkpoint
        model.to(device=device, dtype=working_dtype(device))
        model.eval()
        return LoadedModel(obj=model, modules=[model])

    return load


def _to_tensor(crops: list[Image.Image], device: Any, dtype: Any) -> Any:
    import torch

    mean = np.array(IMAGENET_MEAN, dtype=np.float32)
    std = np.array(IMAGENET_STD, dtype=np.float32)
    arrays = []
    for crop in crops:
        resized = crop.convert("RGB").resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR)
        arrays.append((np.asarray(resized, dtype=np.float32) / 255.0 - mean) / std)
    batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
    return batch.to(device=device, dtype=dtype)


def matte(model: Any, crops: list[Image.Image], *, batch_size: int, cancel: CancelToken,
          progress: ProgressFn) -> list[Image.Image]:
    """RGBA cut-outs of ``crops``, same sizes, in batches of ``batch_size``."""
    import torch

    parameter = next(model.parameters())
    results: list[Image.Image] = []
    crops = [_flatten(crop) for crop in crops]
    for start in range(0, len(crops), max(1, batch_size)):
        cancel.check()
        chunk = crops[start:start + max(1, batch_size)]
        with torch.inference_mode():
            logits = model(_to_tensor(chunk, parameter.device, parameter.dtype))[-1]
            masks = logits.float().sigmoid().cpu().numpy()[:, 0]
        for crop, mask in zip(chunk, masks):
            alpha = Image.fromarray((mask * 255.0 + 0.5).clip(0, 255).astype(np.uint8), "L")
            alpha = alpha.resize(crop.size, Image.Resampling.BILINEAR)
            cutout = crop.copy()
            cutout.putalpha(alpha)
            results.append(cutout)
        progress("matting", len(results), len(crops), f"cut out {len(results)}/{len(crops)}")
    return results


def foreground_fraction(rgba: Image.Image) -> float:
    alpha = np.asarray(rgba.getchannel("A"))
    return float(np.count_nonzero(alpha >= 128)) / alpha.size


def _flatten(crop: Image.Image) -> Image.Image:
    """RGB for the model: transparent parts of an RGBA crop become white, as on a studio backdrop."""
    if crop.mode != "RGBA":
        return crop.convert("RGB")
    backdrop = Image.new("RGB", crop.size, (255, 255, 255))
    backdrop.paste(crop, mask=crop.getchannel("A"))
    return backdrop


def limit_alpha(cutout: Image.Image, source: Image.Image) -> Image.Image:
    """The cut-out's alpha, never more opaque than the source's own alpha (when it has one)."""
    if source.mode != "RGBA":
        return cutout
    alpha = np.minimum(np.asarray(cutout.getchannel("A")), np.asarray(source.getchannel("A")))
    limited = cutout.copy()
    limited.putalpha(Image.fromarray(alpha, "L"))
    return limited
