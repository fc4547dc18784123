"""Michelangelo's attention blocks (after 3DShape2VecSet), in its checkpoints' layout.

Step1X-3D's shape VAE (``MichelangeloAutoencoder``) and SkinTokens' shape encoder (``mesh_encoder``, which
follows Michelangelo's ``transformer_blocks.py``, GPL-3.0, read only) are built from these; this code is
img23d's own, written from the architecture. Key names, as both checkpoints hold them:

* ``SelfAttention``: one ``c_qkv`` projection viewed as (heads, 3 x head width) and split per head into
  q, k, v (a head's q, k, v lie side by side); ``c_proj``; with ``qk_norm``, per-head LayerNorms
  ``attention.q_norm``/``attention.k_norm`` (eps 1e-6), nothing (and no keys) without.
* ``CrossAttention``: ``c_q`` on the queries, ``c_kv`` on the data viewed as (heads, 2 x head width).
* ``MLP``: ``c_fc`` (4 x width), exact GELU, ``c_proj``.
* ``ResidualAttentionBlock``: ``ln_1``, ``attn``, ``ln_2``, ``mlp``; ``ResidualCrossAttentionBlock``:
  ``ln_1`` on the queries, ``ln_2`` on the data, ``ln_3`` before the MLP. Torch's LayerNorm, eps 1e-5.
* ``Perceiver``: ``resblocks.N``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class HeadNorms(nn.Module):
    """Upstream's ``QKVMultiheadAttention`` / ``...CrossAttention``: per-head q/k LayerNorms when
    ``qk_norm``, nothing (and no keys) otherwise."""

    def __init__(self, head_width: int, qk_norm: bool) -> None:
        super().__init__()
        self.q_norm = nn.LayerNorm(head_width, eps=1e-6) if qk_norm else nn.Identity()
        self.k_norm = nn.LayerNorm(head_width, eps=1e-6) if qk_norm else nn.Identity()


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, norms: HeadNorms) -> torch.Tensor:
    """q [B, Nq, H, C], k and v [B, Nk, H, C] -> [B, Nq, H x C]; softmax(q k^T / sqrt(C)) v."""
    q, k = norms.q_norm(q), norms.k_norm(k)
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
    return out.transpose(1, 2).reshape(q.shape[0], q.shape[1], -1)


class SelfAttention(nn.Module):
    def __init__(self, width: int, heads: int, qkv_bias: bool, qk_norm: bool) -> None:
        super().__init__()
        self.heads = heads
        self.c_qkv = nn.Linear(width, 3 * width, bias=qkv_bias)
        self.c_proj = nn.Linear(width, width)
        self.attention = HeadNorms(width // heads, qk_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, width = x.shape
        qkv = self.c_qkv(x).view(batch, tokens, self.heads, -1)
        q, k, v = torch.split(qkv, width // self.heads, dim=-1)
        return self.c_proj(_attend(q, k, v, self.attention))


class CrossAttention(nn.Module):
    """Queries ask the data; data of batch 1 serves every query batch."""

    def __init__(self, width: int, heads: int, qkv_bias: bool, qk_norm: bool) -> None:
        super().__init__()
        self.heads = heads
        self.c_q = nn.Linear(width, width, bias=qkv_bias)
        self.c_kv = nn.Linear(width, 2 * width, bias=qkv_bias)
        self.c_proj = nn.Linear(width, width)
        self.attention = HeadNorms(width // heads, qk_norm)

    def forward(self, x: torch.Tensor, data: torch.Tensor) -> torch.Tensor:
        batch, queries, width = x.shape
        q = self.c_q(x).view(batch, queries, self.heads, -1)
        kv = self.c_kv(data).view(data.shape[0], data.shape[1], self.heads, -1)
        k, v = torch.split(kv, width // self.heads, dim=-1)
        return self.c_proj(_attend(q, k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1), self.attention))


class MLP(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.c_fc = nn.Linear(width, 4 * width)
        self.c_proj = nn.Linear(4 * width, width)
        self.gelu = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(self.gelu(self.c_fc(x)))


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width: int, heads: int, qkv_bias: bool, qk_norm: bool) -> None:
        super().__init__()
        self.attn = SelfAttention(width, heads, qkv_bias, qk_norm)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = MLP(width)
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class ResidualCrossAttentionBlock(nn.Module):
    def __init__(self, width: int, heads: int, qkv_bias: bool, qk_norm: bool) -> None:
        super().__init__()
        self.attn = CrossAttention(width, heads, qkv_bias, qk_norm)
        self.ln_1 = nn.LayerNorm(width)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = MLP(width)
        self.ln_3 = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor, data: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), self.ln_2(data))
        return x + self.mlp(self.ln_3(x))


class Perceiver(nn.Module):
    """``layers`` self-attention blocks (Michelangelo's ``Perceiver``; SkinTokens' upstream calls it
    ``Transformer``)."""

    def __init__(self, width: int, layers: int, heads: int, qkv_bias: bool, qk_norm: bool) -> None:
        super().__init__()
        self.resblocks = nn.ModuleList(ResidualAttentionBlock(width, heads, qkv_bias, qk_norm) for _ in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x)
        return x
