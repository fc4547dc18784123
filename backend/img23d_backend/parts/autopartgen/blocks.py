"""The attention and transformer blocks AutoPartGen's DiT and VAE are made of, in plain torch.

Written from the architecture of the release (``facebookresearch/AutoPartGen``'s TripoSG-derived
blocks, read and not copied); parameter names are diffusers' ``Attention``/``FeedForward``/
``TimestepEmbedding`` names, because the checkpoint's keys are:

* ``Attention``: ``to_q``, ``to_k``, ``to_v`` (no bias in every block of this model), ``to_out.0``
  (with bias), ``norm_q``/``norm_k`` (RMS norm over one head's channels, eps 1e-6, a weight; only
  with q/k norm), ``norm_cross`` (a LayerNorm on the context; the VAE's cross blocks only).
* TripoSG's head split, kept because the weights were trained with it: in self-attention the q, k
  and v projections are concatenated on channels and the result viewed as (heads, 3 x head width),
  so each head's q, k and v are consecutive slices of that concatenation, not of q, k and v
  separately; in cross-attention k and v the same with two. Queries of a cross-attention are split
  plainly.
* ``FeedForward`` with ``gelu``: ``net.0.proj`` (Linear, exact GELU after it), ``net.2`` (Linear).
* LayerNorms computed in float32 (the release's ``FP32LayerNorm``), cast back.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class FP32LayerNorm(nn.LayerNorm):
    """A LayerNorm computed in float32 whatever the weights' dtype (half precision loses the
    variance of wide tokens)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = None if self.weight is None else self.weight.float()
        bias = None if self.bias is None else self.bias.float()
        return F.layer_norm(x.float(), self.normalized_shape, weight, bias, self.eps).to(x.dtype)


class HeadRMSNorm(nn.Module):
    """diffusers' ``RMSNorm`` over one head's channels: x / rms(x) * weight, in float32."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x.float(), (x.shape[-1],), self.weight.float(), self.eps).to(x.dtype)


class Attention(nn.Module):
    """Multi-head attention with TripoSG's head split (module docstring). ``context_dim`` None:
    self-attention."""

    def __init__(self, dim: int, heads: int, context_dim: int | None = None, qk_norm: bool = False,
                 context_norm: bool = False) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.is_cross = context_dim is not None
        context_dim = context_dim or dim
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(context_dim, dim, bias=False)
        self.to_v = nn.Linear(context_dim, dim, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(dim, dim), nn.Dropout(0.0)])
        self.norm_q = HeadRMSNorm(self.head_dim) if qk_norm else None
        self.norm_k = HeadRMSNorm(self.head_dim) if qk_norm else None
        self.norm_cross = nn.LayerNorm(context_dim) if context_norm else None

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        batch = x.shape[0]
        if context is None:
            context = x
        elif self.norm_cross is not None:
            context = self.norm_cross(context)
        query, key, value = self.to_q(x), self.to_k(context), self.to_v(context)
        if not self.is_cross:
            q, k, v = torch.cat((query, key, value), dim=-1).view(batch, -1, self.heads, 3 * self.head_dim) \
                .split(self.head_dim, dim=-1)
        else:
            q = query.view(batch, -1, self.heads, self.head_dim)
            k, v = torch.cat((key, value), dim=-1).view(batch, -1, self.heads, 2 * self.head_dim) \
                .split(self.head_dim, dim=-1)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        if self.norm_q is not None:
            q, k = self.norm_q(q), self.norm_k(k)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.to_out[0](out.transpose(1, 2).reshape(batch, -1, self.heads * self.head_dim))


class _GELUProjection(nn.Module):
    def __init__(self, dim: int, inner: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, inner)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.proj(x))


class FeedForward(nn.Module):
    """diffusers' ``FeedForward(activation_fn="gelu")``: Linear, exact GELU, Linear."""

    def __init__(self, dim: int, inner: int) -> None:
        super().__init__()
        self.net = nn.ModuleList([_GELUProjection(dim, inner), nn.Dropout(0.0), nn.Linear(inner, dim)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net[2](self.net[0](x))


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


class SurfaceBlock(nn.Module):
    """The VAE's block (TripoSG's ``DiTBlock`` as its encoder and decoder use it): self-attention
    (``norm1``/``attn1``) or cross-attention with a normed context (``norm2``/``attn2``), then the
    feed-forward under ``norm3``; no q/k norm, no qkv bias."""

    def __init__(self, dim: int, heads: int, cross: bool) -> None:
        super().__init__()
        if cross:
            self.norm2 = FP32LayerNorm(dim, 1e-5)
            self.attn2 = Attention(dim, heads, context_dim=dim, context_norm=True)
        else:
            self.norm1 = FP32LayerNorm(dim, 1e-5)
            self.attn1 = Attention(dim, heads)
        self.norm3 = FP32LayerNorm(dim, 1e-5)
        self.ff = FeedForward(dim, 4 * dim)
        self.cross = cross

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        if self.cross:
            x = x + self.attn2(self.norm2(x), context)
        else:
            x = x + self.attn1(self.norm1(x))
        return x + self.ff(self.norm3(x))
