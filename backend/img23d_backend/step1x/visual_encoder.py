"""The image condition: a cut-out prepared as the model was trained, through DINOv2 with registers.

Preparation follows upstream's ``preprocess_image`` for a picture that already has alpha (which
img23d's BiRefNet cut-outs have, so upstream's rembg "bria" step, non-commercial, never applies):
composite on white, crop to the alpha's box, scale it to 0.95 of the frame, centre it, pad to a
square. Then DINOv2's processor as upstream calls it: the shortest side to ``image_size`` (518)
with bicubic resampling, a centre crop, ImageNet normalisation. The encoder's last hidden state
(after its final norm) without the register tokens, ``[CLS] + patches`` (1 + 37 x 37 tokens at
518 px), conditions the denoiser; the unconditional embedding is zeros.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from .configs import VisualEncoderConfig

FOREGROUND_RATIO = 0.95
BACKGROUND = (255, 255, 255)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def prepare_cutout(image: Image.Image, foreground_ratio: float = FOREGROUND_RATIO) -> Image.Image:
    """An RGB square: the cut-out's alpha box scaled to ``foreground_ratio`` of the frame, on white."""
    rgba = image.convert("RGBA")
    box = rgba.getchannel("A").getbbox()
    if box is None:
        raise ValueError("the cut-out is empty: its alpha channel is zero everywhere")
    width, height = rgba.size
    left, top, right, bottom = box
    scale = min(height * foreground_ratio / (bottom - top), width * foreground_ratio / (right - left))
    size = (max(1, int((right - left) * scale)), max(1, int((bottom - top) * scale)))
    composed = Image.alpha_composite(Image.new("RGBA", rgba.size, (*BACKGROUND, 255)), rgba)
    part = composed.crop(box).convert("RGB").resize(size, Image.Resampling.BICUBIC)
    side = max(width, height)
    square = Image.new("RGB", (side, side), BACKGROUND)
    # Centred in the original frame, then that frame centred in the square, as upstream pads.
    square.paste(part, ((width - size[0]) // 2 + (side - width) // 2, (height - size[1]) // 2 + (side - height) // 2))
    return square


def pixel_values(images: list[Image.Image], image_size: int) -> torch.Tensor:
    """DINOv2's processor: shortest side to ``image_size`` (bicubic), centre crop, [0, 1], ImageNet
    normalisation -> [B, 3, image_size, image_size] float32."""
    batch = []
    for image in images:
        rgb = image.convert("RGB")
        scale = image_size / min(rgb.size)
        resized = rgb.resize((max(image_size, round(rgb.width * scale)), max(image_size, round(rgb.height * scale))),
                             Image.Resampling.BICUBIC)
        left, top = (resized.width - image_size) // 2, (resized.height - image_size) // 2
        crop = np.asarray(resized.crop((left, top, left + image_size, top + image_size)), dtype=np.float32) / 255.0
        batch.append((crop - np.asarray(IMAGENET_MEAN, np.float32)) / np.asarray(IMAGENET_STD, np.float32))
    return torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2).contiguous()


class VisualEncoder(nn.Module):
    """Upstream's ``Dinov2Encoder`` at inference: ``dino_model`` is transformers'
    ``Dinov2WithRegistersModel`` (its 4.x parameter names, as the file's ``dino_model.*`` keys)."""

    def __init__(self, config: VisualEncoderConfig, dino: dict[str, Any]) -> None:
        super().__init__()
        from transformers import Dinov2WithRegistersConfig, Dinov2WithRegistersModel

        config.check()
        self.config = config
        self.dino_model = Dinov2WithRegistersModel(Dinov2WithRegistersConfig(**dino))

    @property
    def tokens(self) -> int:
        """Condition tokens per image: [CLS] and one per patch."""
        return 1 + (self.config.image_size // self.dino_model.config.patch_size) ** 2

    @property
    def width(self) -> int:
        return int(self.dino_model.config.hidden_size)

    def encode(self, images: list[Image.Image]) -> torch.Tensor:
        """Prepared squares -> [B, tokens, width] in the encoder's dtype."""
        parameter = next(self.dino_model.parameters())
        pixels = pixel_values(images, self.config.image_size).to(parameter.device, parameter.dtype)
        hidden = self.dino_model(pixel_values=pixels).last_hidden_state
        registers = int(self.dino_model.config.num_register_tokens)
        return torch.cat([hidden[:, :1], hidden[:, 1 + registers:]], dim=1)

    def unconditional(self, batch: int, like: torch.Tensor) -> torch.Tensor:
        return torch.zeros((batch, self.tokens, self.width), dtype=like.dtype, device=like.device)
