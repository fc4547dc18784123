"""Matting with BiRefNet: each crop becomes an RGBA cut-out of the object in it.

A matte with NaN or infinite values (half precision overflowing) is never turned into a
cut-out: it would read as fully transparent, an empty cut-out and an empty mesh. Such crops are
run again in fp32, and a crop whose matte is still not finite comes back as ``UnusableMatte``.

A cut-out's colours are the object's own, not the crop's: in its soft edge the crop mixes the
background in, so the colours there are estimated (``foreground``); the alpha is the matte.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..env.job_control import CancelToken, ProgressFn
from ..models.dtypes import matting_dtype
from ..models.placement import LoadedModel
from ..models.registry import ModelSpec
from ..models.weight_keys import from_pretrained as checked_pretrained
from .foreground import flattened, refine_cutout

log = logging.getLogger(__name__)

INPUT_SIZE = 1024  # BiRefNet's; BiRefNet_HR reads crops at 2048 (its spec's input_size: matting/birefnet/model.py)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MIN_FOREGROUND = 0.002  # a cut-out with less than 0.2% opaque pixels has nothing in it


def matting_loader(spec: ModelSpec):  # -> Loader
    """A loader bound to ``spec``: remote code is trusted only at the pinned revision."""

    def load(folder: Path, device: Any) -> LoadedModel:
        from transformers import AutoModelForImageSegmentation

        if spec.trust_remote_code and not spec.revision:
            raise ValueError(f"{spec.repo_id}: remote code without a pinned revision is refused")
        # Read in its dtype straight onto the device: no fp32 copy on the CPU first.
        model = checked_pretrained(
            AutoModelForImageSegmentation, folder, trust_remote_code=spec.trust_remote_code, revision=spec.revision,
            dtype=matting_dtype(device), device_map={"": str(device)},
            use_safetensors=True)  # never unpickle a checkpoint
        model.eval()
        return LoadedModel(obj=model, modules=[model])

    return load


def _to_tensor(crops: list[Image.Image], device: Any, dtype: Any, input_size: int = INPUT_SIZE) -> Any:
    import torch

    mean = np.array(IMAGENET_MEAN, dtype=np.float32)
    std = np.array(IMAGENET_STD, dtype=np.float32)
    arrays = []
    for crop in crops:
        resized = crop.convert("RGB").resize((input_size, input_size), Image.Resampling.BILINEAR)
        arrays.append((np.asarray(resized, dtype=np.float32) / 255.0 - mean) / std)
    batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
    return batch.to(device=device, dtype=dtype)


@dataclass(frozen=True)
class UnusableMatte:
    """Stands in the results for a crop whose matte is not a number, even in fp32."""

    reason: str


def matte(model: Any, crops: list[Image.Image], *, batch_size: int, cancel: CancelToken,
          progress: ProgressFn, input_size: int = INPUT_SIZE) -> list[Image.Image | UnusableMatte]:
    """RGBA cut-outs of ``crops``, same sizes, in batches of ``batch_size``, each read by the model at
    ``input_size`` x ``input_size`` (the side it was trained at)."""
    import torch

    dtype = next(model.parameters()).dtype
    results: list[Image.Image | UnusableMatte] = []
    crops = [flattened(crop) for crop in crops]
    for start in range(0, len(crops), max(1, batch_size)):
        cancel.check()
        chunk = crops[start:start + max(1, batch_size)]
        masks = list(_predict(model, chunk, input_size))
        broken = [i for i, mask in enumerate(masks) if not np.isfinite(mask).all()]
        if broken and dtype != torch.float32:
            log.warning("BiRefNet gave a matte with NaN/inf in %s; running %d crop(s) again in fp32",
                        dtype, len(broken))
            for index, mask in zip(broken, _predict_in_fp32(model, [chunk[i] for i in broken], input_size)):
                masks[index] = mask
        for crop, mask in zip(chunk, masks):
            if not np.isfinite(mask).all():
                results.append(UnusableMatte("the matting model's output is not a number (NaN or inf) "
                                             "even in full precision"))
                continue
            alpha = Image.fromarray((mask * 255.0 + 0.5).clip(0, 255).astype(np.uint8), "L")
            alpha = alpha.resize(crop.size, Image.Resampling.BILINEAR)
            cutout = crop.copy()
            cutout.putalpha(alpha)
            # Every cut-out goes to shape and paint from here: the edge's colours are cleaned once.
            results.append(refine_cutout(cutout))
        progress("matting", len(results), len(crops), f"cut out {len(results)}/{len(crops)}")
    return results


def _predict(model: Any, crops: list[Image.Image], input_size: int = INPUT_SIZE) -> Any:
    """Foreground probabilities [N, H, W] (float32, on the CPU) at the model's input size."""
    import torch

    parameter = next(model.parameters())
    with torch.inference_mode():
        logits = model(_to_tensor(crops, parameter.device, parameter.dtype, input_size))[-1]
        return logits.float().sigmoid().cpu().numpy()[:, 0]


def _predict_in_fp32(model: Any, crops: list[Image.Image], input_size: int = INPUT_SIZE) -> Any:
    """``_predict`` with the model briefly in fp32 (twice its memory), then back as it was.

    fp16 -> fp32 -> fp16 is exact, so the model the manager keeps is unchanged afterwards.
    """
    import torch

    dtype = next(model.parameters()).dtype
    model.to(dtype=torch.float32)
    try:
        return _predict(model, crops, input_size)
    finally:
        model.to(dtype=dtype)


def foreground_fraction(rgba: Image.Image) -> float:
    alpha = np.asarray(rgba.getchannel("A"))
    return float(np.count_nonzero(alpha >= 128)) / alpha.size
