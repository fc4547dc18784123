"""AutoPartGen's image condition: DINOv2-L/14 with 4 registers at 448 px, its hidden states before the
final layernorm (1 + 4 + 32 x 32 = 1029 tokens of 1024), through transformers' ``Dinov2WithRegistersModel``.

The release (facebookresearch/AutoPartGen, ``models/conditioner.py`` and ``autopartgen.py``, read only)
loads ``dinov2_vitl14_reg`` through torch.hub and takes ``forward_features(x)["x_prenorm"]`` with
``norm_out: none``; img23d takes the same network's weights as transformers publishes them
(``facebook/dinov2-with-registers-large``) and the last entry of ``hidden_states``, which is the
encoder's output before ``layernorm``. Preparation as the release's ``_prep_image``: an RGBA picture
composited on white and cropped to its foreground's box (alpha over 0.8) grown 1.2 x about its centre
and squared; resized to 448 x 448 bicubic; [0, 1]; ImageNet normalisation. The "dropped" image (the
unconditional branch) is the features of a black picture (zeros before normalisation).

Not verified here (no real weights): that transformers' interpolation of the position table to 32 x 32
patches equals torch.hub's (its ``interpolate_offset``) to the last bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from .config import ConditionerConfig

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FOREGROUND_ALPHA = 0.8 * 255   # the release's foreground: alpha above this
BOX_GROWTH = 1.2               # its crop: the foreground box's longer side, grown


def foreground_box(alpha: np.ndarray) -> tuple[int, int, int, int] | None:
    """The release's crop box (x0, y0, x1, y1) for an alpha channel: a square about the foreground's
    centre, its side the box's longer side times 1.2; None when nothing is foreground."""
    ys, xs = np.nonzero(alpha > FOREGROUND_ALPHA)
    if len(xs) == 0:
        return None
    cx, cy = (xs.min() + xs.max()) / 2.0, (ys.min() + ys.max()) / 2.0
    half = int(max(xs.max() - xs.min(), ys.max() - ys.min()) * BOX_GROWTH) // 2
    return int(cx - half), int(cy - half), int(cx + half), int(cy + half)


def prepare(image: Image.Image, size: int, box: tuple[int, int, int, int] | None = None) -> torch.Tensor:
    """One picture -> [3, size, size] in [0, 1]: on white, cropped to ``box`` (its own foreground's
    when None and it has alpha), resized bicubic."""
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float32)
    has_alpha = image.mode in ("RGBA", "LA")
    alpha = rgba[..., 3:4] / 255.0 if has_alpha else np.ones_like(rgba[..., 3:4])
    rgb = (rgba[..., :3] * alpha + 255.0 * (1 - alpha)).astype(np.uint8)
    if box is None and has_alpha:
        box = foreground_box(rgba[..., 3])
    if box is not None:
        height, width = rgb.shape[:2]
        x0, y0, x1, y1 = np.clip(box, 0, [width, height, width, height])
        if x1 > x0 and y1 > y0:
            rgb = rgb[y0:y1, x0:x1]
    resized = Image.fromarray(rgb).resize((size, size), Image.Resampling.BICUBIC)
    return torch.from_numpy(np.asarray(resized, dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()


class ImageConditioner(nn.Module):
    """DINOv2 with registers; ``features`` gives the pre-norm hidden states of prepared pictures."""

    def __init__(self, config: ConditionerConfig) -> None:
        super().__init__()
        from transformers import Dinov2WithRegistersConfig, Dinov2WithRegistersModel

        self.config = config
        self.dino = Dinov2WithRegistersModel(Dinov2WithRegistersConfig(**config.dino))

    @classmethod
    def from_model(cls, config: ConditionerConfig, dino: Any) -> "ImageConditioner":
        module = cls.__new__(cls)
        nn.Module.__init__(module)
        module.config, module.dino = config, dino
        return module

    def features(self, pictures: torch.Tensor) -> torch.Tensor:
        """[B, 3, S, S] in [0, 1] -> [B, 1029, 1024]: the last hidden states before the final layernorm."""
        weight = next(self.dino.parameters())
        mean = torch.tensor(IMAGENET_MEAN, device=weight.device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=weight.device).view(1, 3, 1, 1)
        pixels = ((pictures.to(weight.device).float() - mean) / std).to(weight.dtype)
        return self.dino(pixel_values=pixels, output_hidden_states=True).hidden_states[-1]

    def dropped(self) -> torch.Tensor:
        """The unconditional image: the features of a black picture, [1, tokens, width]."""
        size = self.config.image_size
        return self.features(torch.zeros(1, 3, size, size))
