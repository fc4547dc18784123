"""The DiT's own embedding blocks, in plain torch: the timestep's sinusoids and their MLP.

Written from the architecture of the release (``facebookresearch/AutoPartGen``, read and not copied);
parameter names are diffusers' ``TimestepEmbedding`` names, because the checkpoint's keys are. The
attention, feed-forward and norm blocks the DiT and the VAE are made of (TripoSG's head split, diffusers'
key names) are the shared ones of ``neural.triposg``, which SkinTokens' skin VAE is built from too.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class TimestepEmbedding(nn.Module):
    """diffusers' ``TimestepEmbedding`` with GELU: ``linear_1``, GELU, ``linear_2``."""

    def __init__(self, dim: int, hidden: int, out_dim: int) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(dim, hidden)
        self.linear_2 = nn.Linear(hidden, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.gelu(self.linear_1(x)))


def timestep_sinusoids(timesteps: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """diffusers' ``Timesteps(dim, flip_sin_to_cos=False, downscale_freq_shift=0)``: [sin, cos] of
    t * exp(-ln(max_period) * i / (dim / 2)), float32."""
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=timesteps.device) / half
    angles = timesteps.float()[:, None] * torch.exp(exponent)[None]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)
