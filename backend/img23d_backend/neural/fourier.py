"""A point's Fourier features, as Michelangelo's and TripoSG's ``FourierEmbedder`` make them.

xyz -> (xyz, sin(xyz f), cos(xyz f)) with f = 2^k (times pi when ``include_pi``), k < ``num_freqs``,
each coordinate's frequencies together: 3 x (2 x num_freqs + 1) features. The frequencies are a buffer
outside the checkpoint (upstream computes them too); it is cast with the module, as upstream's is, so a
model cast to bf16 multiplies by bf16-rounded frequencies (exact for 2^k, not for pi x 2^k). The product is
taken in float32 whatever the module's dtype: positions are not rounded to half precision.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class FourierEmbedder(nn.Module):
    """xyz [..., 3] -> [..., out_dim] float32 (module docstring)."""

    def __init__(self, num_freqs: int, include_pi: bool) -> None:
        super().__init__()
        frequencies = 2.0 ** torch.arange(num_freqs, dtype=torch.float32)
        if include_pi:
            frequencies = frequencies * math.pi
        self.register_buffer("frequencies", frequencies, persistent=False)
        self.out_dim = 3 * (2 * num_freqs + 1)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        points = points.float()
        embed = (points[..., None] * self.frequencies.float()).reshape(*points.shape[:-1], -1)
        return torch.cat((points, embed.sin(), embed.cos()), dim=-1)
