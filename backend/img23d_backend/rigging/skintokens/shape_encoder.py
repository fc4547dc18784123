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
set it; an assumption the strict load would expose), the output projections and MLPs do.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ShapeEncoderConfig
from .embed import FourierEmbedder


class MLP(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.c_fc = nn.Linear(width, width * 4)
        self.c_proj = nn.Linear(width * 4, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(F.gelu(self.c_fc(x)))


class SelfAttention(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.c_qkv = nn.Linear(width, width * 3, bias=False)
        self.c_proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        qkv = self.c_qkv(x).view(b, n, self.heads, -1).transpose(1, 2)
        q, k, v = qkv.chunk(3, dim=-1)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.c_proj(out.transpose(1, 2).reshape(b, n, -1))


class CrossAttention(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.c_q = nn.Linear(width, width, bias=False)
        self.c_kv = nn.Linear(width, width * 2, bias=False)
        self.c_proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, data: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        q = self.c_q(x).view(b, n, self.heads, -1).transpose(1, 2)
        k, v = self.c_kv(data).view(b, data.shape[1], self.heads, -1).transpose(1, 2).chunk(2, dim=-1)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.c_proj(out.transpose(1, 2).reshape(b, n, -1))


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.attn = SelfAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = MLP(width)
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class ResidualCrossAttentionBlock(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.attn = CrossAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = MLP(width)
        self.ln_3 = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor, data: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), self.ln_2(data))
        return x + self.mlp(self.ln_3(x))


class Transformer(nn.Module):
    def __init__(self, width: int, heads: int, layers: int) -> None:
        super().__init__()
        self.resblocks = nn.ModuleList(ResidualAttentionBlock(width, heads) for _ in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x)
        return x


class PerceiverEncoder(nn.Module):
    """Queries (chosen samples) ask every sample once, then ``layers`` self-attention blocks and ``ln_post``."""

    def __init__(self, config: ShapeEncoderConfig) -> None:
        super().__init__()
        self.fourier_embedder = FourierEmbedder(config.num_freqs)
        self.input_proj = nn.Linear(config.in_features, config.width)
        self.cross_attn = ResidualCrossAttentionBlock(config.width, config.heads)
        self.self_attn = Transformer(config.width, config.heads, config.layers)
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
