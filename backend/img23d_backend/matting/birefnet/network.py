"""BiRefNet's loader and prediction: its remote code read at the pinned revision in the dtype it runs in, each
crop resized to its input side and normalised as ImageNet's, the last of its logit maps made probabilities."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ...models.placement import LoadedModel
from ...models.specs import ModelSpec
from ...models.weight_keys import from_pretrained as checked_pretrained

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def matting_dtype(device: Any) -> Any:
    """BiRefNet's dtype: fp16 on CUDA (as its authors run it), fp32 elsewhere.

    On MPS BiRefNet in fp16 produces NaN mattes, which would become empty cut-outs.
    """
    import torch

    return torch.float16 if getattr(device, "type", str(device)) == "cuda" else torch.float32


def birefnet_loader(spec: ModelSpec):  # -> Loader
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


def _to_tensor(crops: list[Image.Image], device: Any, dtype: Any, input_size: int) -> Any:
    import torch

    mean = np.array(IMAGENET_MEAN, dtype=np.float32)
    std = np.array(IMAGENET_STD, dtype=np.float32)
    arrays = []
    for crop in crops:
        resized = crop.convert("RGB").resize((input_size, input_size), Image.Resampling.BILINEAR)
        arrays.append((np.asarray(resized, dtype=np.float32) / 255.0 - mean) / std)
    batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
    return batch.to(device=device, dtype=dtype)


def predict(model: Any, crops: list[Image.Image], input_size: int) -> Any:
    """Foreground probabilities [N, H, W] (float32, on the CPU) at the model's input size."""
    import torch

    parameter = next(model.parameters())
    with torch.inference_mode():
        logits = model(_to_tensor(crops, parameter.device, parameter.dtype, input_size))[-1]
        return logits.float().sigmoid().cpu().numpy()[:, 0]
