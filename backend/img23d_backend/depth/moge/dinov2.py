"""MoGe-2's image encoder: the DINOv2 vision transformer, as MoGe's own copy of it builds and runs it.

Written from the design of ``microsoft/MoGe``'s ``moge/model/dinov2`` (Meta's DINOv2 code, Apache-2.0,
which MoGe (MIT) vendors), not copied; its modules and parameters carry the same names
(``patch_embed.proj``, ``cls_token``, ``pos_embed``, ``blocks.<i>.{norm1, attn.qkv, attn.proj, ls1.gamma,
norm2, mlp.fc1, mlp.fc2, ls2.gamma}``, ``norm``, ``mask_token``) so a MoGe checkpoint's ``encoder.backbone.*``
tensors load into it strictly. Only inference is here: no drop path, no nested tensors, no xFormers (upstream
falls back to PyTorch's scaled-dot-product attention without it, which is what this computes).

A checkpoint names its backbone by upstream's hub function (``dinov2_vits14`` ...): ``BACKBONES`` holds what
each builds (``hub/backbones.py``: image side 518, patch 14, layer scale 1.0, an MLP feed-forward, the ``_reg``
kinds with four register tokens and an antialiased, offset-free position interpolation). ``TINY_BACKBONE`` is
img23d's own small one for the random-weight replica (``replica``); upstream does not know it, so the parity
script (``bench/moge_parity.py``) lends upstream the same one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

PATCH = 14
TINY_BACKBONE = "img23d_tiny_vit14"


@dataclass(frozen=True)
class ViTShape:
    """One backbone's sizes, as upstream's hub function for it sets them."""

    embed_dim: int
    depth: int
    heads: int
    image_side: int = 518          # the position table's grid is image_side / 14 a side
    mlp_ratio: float = 4.0
    registers: int = 0
    interpolate_antialias: bool = False
    interpolate_offset: float = 0.1


_REG = {"registers": 4, "interpolate_antialias": True, "interpolate_offset": 0.0}
BACKBONES: dict[str, ViTShape] = {
    "dinov2_vits14": ViTShape(384, 12, 6),
    "dinov2_vitb14": ViTShape(768, 12, 12),
    "dinov2_vitl14": ViTShape(1024, 24, 16),
    "dinov2_vits14_reg": ViTShape(384, 12, 6, **_REG),
    "dinov2_vitb14_reg": ViTShape(768, 12, 12, **_REG),
    "dinov2_vitl14_reg": ViTShape(1024, 24, 16, **_REG),
    TINY_BACKBONE: ViTShape(32, 4, 2, image_side=112),
}


def backbone_shape(name: str) -> ViTShape:
    """The sizes of the backbone a checkpoint's config names; ValueError for one img23d does not build."""
    if name not in BACKBONES:
        raise ValueError(f"the checkpoint's encoder backbone {name!r} is not one img23d builds "
                         f"({', '.join(sorted(BACKBONES))})")
    return BACKBONES[name]


class PatchEmbed(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=PATCH, stride=PATCH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.num_heads = heads
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, dim // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        x = F.scaled_dot_product_attention(q, k, v)
        return self.proj(x.permute(0, 2, 1, 3).reshape(batch, tokens, dim))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class LayerScale(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.ls2 = LayerScale(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class DinoVisionTransformer(nn.Module):
    """DINOv2 as MoGe's encoder runs it: tokens of the patches, the blocks, the normed outputs of some."""

    def __init__(self, shape: ViTShape) -> None:
        super().__init__()
        dim = shape.embed_dim
        self.shape = shape
        self.patch_embed = PatchEmbed(dim)
        grid = shape.image_side // PATCH
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid + 1, dim))
        self.register_tokens = nn.Parameter(torch.zeros(1, shape.registers, dim)) if shape.registers else None
        self.blocks = nn.ModuleList(Block(dim, shape.heads, shape.mlp_ratio) for _ in range(shape.depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        # Only masked pre-training reads it; the checkpoint holds it, so it is here for the strict load.
        self.mask_token = nn.Parameter(torch.zeros(1, dim))

    def _position(self, tokens: int, rows: int, cols: int) -> torch.Tensor:
        """The position table at ``rows`` x ``cols`` patches, bicubic from its square grid as upstream's
        ``interpolate_pos_encoding`` (with its 0.1 offset in the scale factor, a historical kludge kept so
        the trained weights see what they were trained with)."""
        table = self.pos_embed
        known = table.shape[1] - 1
        if tokens - 1 == known and rows == cols:
            return table
        side = int(math.sqrt(known))
        table = table.float()
        grid = table[:, 1:].reshape(1, side, side, -1).permute(0, 3, 1, 2)
        offset = self.shape.interpolate_offset
        if offset > 0:
            size = {"scale_factor": ((rows + offset) / side, (cols + offset) / side)}
        else:
            size = {"size": (rows, cols)}
        grid = F.interpolate(grid, mode="bicubic", antialias=self.shape.interpolate_antialias, **size)
        grid = grid.permute(0, 2, 3, 1).flatten(1, 2)
        return torch.cat((table[:, :1].expand(grid.shape[0], -1, -1), grid), dim=1)

    def intermediate_layers(self, image: torch.Tensor, layers: int | list[int]
                            ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(patch tokens, class token) after each of ``layers`` (block indices, or the last n), normed."""
        _, _, height, width = image.shape
        x = self.patch_embed(image)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        x = x + self._position(x.shape[1], height // PATCH, width // PATCH).to(x.dtype)
        if self.register_tokens is not None:
            x = torch.cat((x[:, :1], self.register_tokens.expand(x.shape[0], -1, -1), x[:, 1:]), dim=1)
        count = len(self.blocks)
        wanted = set(range(count - layers, count) if isinstance(layers, int) else layers)
        taken = []
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in wanted:
                taken.append(x)
        if len(taken) != len(wanted):
            raise ValueError(f"the encoder has {count} blocks but the config takes layers {sorted(wanted)}")
        skip = 1 + self.shape.registers
        return [(out[:, skip:], out[:, 0]) for out in map(self.norm, taken)]
