"""The image condition: a cut-out prepared as the model was trained, through DINOv2 with registers.

Preparation follows upstream's ``preprocess_image`` for a picture that already has alpha (which
img23d's BiRefNet cut-outs have, so upstream's rembg "bria" step, non-commercial, never applies):
composite on white, crop to the alpha's box, scale it to 0.95 of the frame, centre it, pad to a
square. Then DINOv2's processor as upstream calls it: the shortest side to ``image_size`` (518)
with bicubic resampling, a centre crop, ImageNet normalisation. The encoder's last hidden state
(after its final norm) without the register tokens, ``[CLS] + patches`` (1 + 37 x 37 tokens at
518 px), conditions the denoiser; the unconditional embedding is zeros.

The Label model's encoder (upstream's ``Dinov2CLIPEncoder``) adds CLIP ViT-L/14 beside DINOv2, both
at 224 px (upstream's fixed CLIP size; here the size CLIP's position table was made for, which is
224 for ViT-L/14; ``clip_tower`` reads CLIP's sizes from the weights): CLIP's processor (shortest side to 224, bicubic, centre crop, CLIP's normalisation), its
vision tower's last hidden state (before the post-norm: ``[CLS] + 16 x 16`` patches), projected by
``linear_proj`` only when its width is not DINOv2's (ViT-L and DINOv2-large are both 1024 wide, so
the real file has none), and appended after DINOv2's tokens (registers dropped as above).
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
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
# Keys of the CLIP half that upstream's file holds (a whole CLIPModel) but the image path never
# runs: the text tower and the two projections, skipped by the loader like the VAE's encoder.
CLIP_UNUSED_PREFIXES = ("clip_model.text_model.", "clip_model.text_projection", "clip_model.visual_projection",
                        "clip_model.logit_scale")


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


def pixel_values(images: list[Image.Image], image_size: int, mean: tuple[float, float, float] = IMAGENET_MEAN,
                 std: tuple[float, float, float] = IMAGENET_STD) -> torch.Tensor:
    """DINOv2's (and CLIP's) processor: shortest side to ``image_size`` (bicubic), centre crop,
    [0, 1], normalisation by ``mean`` and ``std`` -> [B, 3, image_size, image_size] float32."""
    batch = []
    for image in images:
        rgb = image.convert("RGB")
        scale = image_size / min(rgb.size)
        resized = rgb.resize((max(image_size, round(rgb.width * scale)), max(image_size, round(rgb.height * scale))),
                             Image.Resampling.BICUBIC)
        left, top = (resized.width - image_size) // 2, (resized.height - image_size) // 2
        crop = np.asarray(resized.crop((left, top, left + image_size, top + image_size)), dtype=np.float32) / 255.0
        batch.append((crop - np.asarray(mean, np.float32)) / np.asarray(std, np.float32))
    return torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2).contiguous()


class VisualEncoder(nn.Module):
    """Upstream's ``Dinov2Encoder`` at inference: ``dino_model`` is transformers'
    ``Dinov2WithRegistersModel`` (its 4.x parameter names, as the file's ``dino_model.*`` keys)."""

    def __init__(self, config: VisualEncoderConfig, dino: dict[str, Any], clip: dict[str, Any] | None = None) -> None:
        super().__init__()
        from transformers import CLIPVisionConfig, CLIPVisionModel, Dinov2WithRegistersConfig, Dinov2WithRegistersModel

        config.check(has_clip=clip is not None)
        self.config = config
        self.dino_model = Dinov2WithRegistersModel(Dinov2WithRegistersConfig(**dino))
        if clip is not None:
            # A CLIPVisionModel under ``clip_model``: its keys are the file's ``clip_model.vision_model.*``.
            self.clip_model = CLIPVisionModel(CLIPVisionConfig(**clip))
            if int(clip["hidden_size"]) != int(dino["hidden_size"]):
                self.linear_proj = nn.Linear(int(clip["hidden_size"]), int(dino["hidden_size"]), bias=False)

    @property
    def tokens(self) -> int:
        """Condition tokens per image: [CLS] and one per patch (DINOv2's, then CLIP's)."""
        tokens = 1 + (self.config.image_size // self.dino_model.config.patch_size) ** 2
        if hasattr(self, "clip_model"):
            tokens += 1 + (self.clip_image_size // self.clip_model.config.patch_size) ** 2
        return tokens

    @property
    def clip_image_size(self) -> int:
        """CLIP's input size: its position table's (224 for ViT-L/14, upstream's fixed size)."""
        return int(self.clip_model.config.image_size)

    @property
    def width(self) -> int:
        return int(self.dino_model.config.hidden_size)

    def encode(self, images: list[Image.Image]) -> torch.Tensor:
        """Prepared squares -> [B, tokens, width] in the encoder's dtype."""
        parameter = next(self.dino_model.parameters())
        pixels = pixel_values(images, self.config.image_size).to(parameter.device, parameter.dtype)
        hidden = self.dino_model(pixel_values=pixels).last_hidden_state
        registers = int(self.dino_model.config.num_register_tokens)
        dino = torch.cat([hidden[:, :1], hidden[:, 1 + registers:]], dim=1)
        if not hasattr(self, "clip_model"):
            return dino
        clip_pixels = pixel_values(images, self.clip_image_size, CLIP_MEAN, CLIP_STD).to(parameter.device, parameter.dtype)
        clip = self.clip_model(pixel_values=clip_pixels).last_hidden_state
        if hasattr(self, "linear_proj"):
            clip = self.linear_proj(clip)
        return torch.cat([dino, clip], dim=1)

    def unconditional(self, batch: int, like: torch.Tensor) -> torch.Tensor:
        return torch.zeros((batch, self.tokens, self.width), dtype=like.dtype, device=like.device)
