"""The perceiver shape encoder: farthest-point queries of the surface samples ask every sample, then
self-attention; the result, projected to the language model's width, is the prefix the tokens follow.

Module and parameter names follow the checkpoint (``mesh_encoder.encoder.*``), which follows Michelangelo's
layout as upstream ``src/model/michelangelo/models/modules/transformer_blocks.py`` writes it (read only;
that folder is GPL-3.0, this code is img23d's own from the architecture): ``input_proj``; ``cross_attn``
(``attn.c_q``, ``attn.c_kv``, ``attn.c_proj``, ``ln_1`` on the queries, ``ln_2`` on the data, ``ln_3``,
``mlp.c_fc``/``mlp.c_proj`` with GELU); ``self_attn.resblocks.N`` (``attn.c_qkv``, ``attn.c_proj``, ``ln_1``,
``ln_2``, ``mlp``); ``ln_post``. The fused projections split per head: a head's channels of ``c_qkv`` are its
q, k, v one after the other (``qkv.view(b, n, heads, -1)`` then ``split``), of ``c_kv`` its k then v. Layer
norms are torch's (eps 1e-5); q/k/v carry no bias (``qkv_bias`` false, as UniRig's configs of this encoder
set it; an assumption the strict load would expose), the output projections and MLPs do. The blocks are the
shared ones of ``neural.perceiver`` (Step1X-3D's shape decoder is made of them too) and the embedding
``neural.fourier``'s; this module puts them together as the checkpoint's keys do.
"""

from __future__ import annotations

import torch
from torch import nn

from ...neural.fourier import FourierEmbedder
from ...neural.perceiver import Perceiver, ResidualCrossAttentionBlock
from .config import ShapeEncoderConfig


class PerceiverEncoder(nn.Module):
    """Queries (chosen samples) ask every sample once, then ``layers`` self-attention blocks and ``ln_post``."""

    def __init__(self, config: ShapeEncoderConfig) -> None:
        super().__init__()
        # Upstream's 2**i without pi: exact in bf16, so the cast upstream makes rounds nothing (``embed``).
        self.fourier_embedder = FourierEmbedder(config.num_freqs, include_pi=False)
        self.input_proj = nn.Linear(config.in_features, config.width)
        # q, k, v without bias, no q/k norm (module docstring).
        self.cross_attn = ResidualCrossAttentionBlock(config.width, config.heads, qkv_bias=False, qk_norm=False)
        self.self_attn = Perceiver(config.width, config.layers, config.heads, qkv_bias=False, qk_norm=False)
        self.ln_post = nn.LayerNorm(config.width)

    def embed(self, points: torch.Tensor, normals: torch.Tensor) -> torch.Tensor:
        features = torch.cat([self.fourier_embedder(points), normals.float()], dim=-1)
        return self.input_proj(features.to(self.input_proj.weight.dtype))

    def forward(self, points: torch.Tensor, normals: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        """points, normals: (B, N, 3); queries: (Q,) sample indices. Returns (B, Q, width)."""
        data = self.embed(points, normals)
        x = self.embed(points[:, queries], normals[:, queries])
        return self.ln_post(self.self_attn(self.cross_attn(x, data)))


class ShapeEncoder(nn.Module):
    """Upstream's ``mesh_encoder``: the perceiver sits under ``encoder`` (hence ``mesh_encoder.encoder.*``)."""

    def __init__(self, config: ShapeEncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = PerceiverEncoder(config)

    def forward(self, points: torch.Tensor, normals: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        return self.encoder(points, normals, queries)
