"""Luma Key's code: a 1 x 1 convolution from RGB to a logit that is high where a pixel is dark, loaded from its
folder's ``key.pt`` through the model manager, its prediction the logit's sigmoid at its side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from img23d_backend.matting.matter import Matter
from img23d_backend.models.placement import LoadedModel
from img23d_backend.models.specs import ModelReplica, ModelSpec

from .model import NAME


def network() -> torch.nn.Conv2d:
    """Dark is foreground: the logit 8 * (0.5 - mean brightness) * 3, known weights, no training."""
    key = torch.nn.Conv2d(3, 1, 1)
    with torch.no_grad():
        key.weight.fill_(-8.0)
        key.bias.fill_(12.0)
    return key


def _load(folder: Path, device: Any) -> LoadedModel:
    key = torch.nn.Conv2d(3, 1, 1)
    key.load_state_dict(torch.load(Path(folder) / "key.pt", map_location="cpu", weights_only=True))
    key.to(device).eval()
    return LoadedModel(obj=key, modules=[key])


def loader(spec: ModelSpec) -> Any:  # -> models.manager.Loader
    return _load


def predict(key: Any, crops: list[Image.Image], side: int) -> Any:
    parameter = next(key.parameters())
    pixels = np.stack([np.asarray(crop.convert("RGB").resize((side, side)), np.float32) / 255.0 for crop in crops])
    batch = torch.from_numpy(pixels).permute(0, 3, 1, 2).to(parameter.device, parameter.dtype)
    with torch.inference_mode():
        return key(batch).float().sigmoid().cpu().numpy()[:, 0]


def _build(folder: Path, size: str) -> tuple[dict[str, Any], int]:
    Path(folder).mkdir(parents=True, exist_ok=True)
    torch.save(network().state_dict(), Path(folder) / "key.pt")
    return {"class": "LumaKey"}, 0


MATTERS: dict[str, Matter] = {
    NAME: Matter(name=NAME, loader=loader, predict=predict,
                 replica=ModelReplica(build=_build, construct=lambda: {"key": network()}, published_params={"total": 4})),
}
