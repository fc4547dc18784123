"""TripoSG's attention blocks in diffusers' key layout, and the VAE stacks built of them.

AutoPartGen's DiT and shape VAE (``facebookresearch/AutoPartGen``'s TripoSG-derived blocks) and SkinTokens'
skin VAE (upstream's ``Tripo2Encoder``/``Tripo2Decoder``, MIT) are built from these; the code is img23d's
own, written from the architecture (read, not copied). Parameter names are diffusers' ``Attention`` and
``FeedForward`` names, because the checkpoints' keys are:

* ``Attention``: ``to_q``, ``to_k``, ``to_v`` (no bias in any of these models), ``to_out.0`` (with bias),
  ``norm_q``/``norm_k`` (RMS norm over one head's channels, eps 1e-6, a weight; only with q/k norm),
  ``norm_cross`` (a LayerNorm on the context; the VAEs' cross blocks only).
* TripoSG's head split (its ``TripoSGAttnProcessor2_0``, kept because the weights were trained with it): in
  self-attention the q, k and v projections are concatenated on channels and the result viewed as
  (heads, 3 x head width), so each head's q, k and v are consecutive slices of that concatenation, not of
  q, k and v separately; in cross-attention k and v the same with two. A cross-attention's queries are
  split plainly.
* ``FeedForward`` with ``gelu``: ``net.0.proj`` (Linear, exact GELU after it), ``net.2`` (Linear).
* LayerNorms computed in float32 (the releases' ``FP32LayerNorm``), cast back.
* ``VAEBlock`` (TripoSG's ``DiTBlock`` as its VAE uses it): ``norm1``/``attn1`` (self) or
  ``norm2``/``attn2`` (cross, normed context), then ``norm3``/``ff``. ``VAEEncoder``: ``proj_in``, one cross
  block (queries over every point), self blocks, ``norm_out``. ``VAEDecoder``: self blocks over the latent
  tokens, one cross block asked by each embedded query point (``proj_query``), ``norm_out``, ``proj_out``.
"""

from __future__ import annotations

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


class GELUProjection(nn.Module):
    def __init__(self, dim: int, inner: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, inner)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.proj(x))


class FeedForward(nn.Module):
    """diffusers' ``FeedForward(activation_fn="gelu")``: Linear, exact GELU, Linear (the dropout between
    holds no weights and drops nothing)."""

    def __init__(self, dim: int, inner: int) -> None:
        super().__init__()
        self.net = nn.ModuleList([GELUProjection(dim, inner), nn.Dropout(0.0), nn.Linear(inner, dim)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net[2](self.net[0](x))


class VAEBlock(nn.Module):
    """Self-attention (``norm1``/``attn1``) or cross-attention with a normed context (``norm2``/``attn2``),
    then the feed-forward under ``norm3``; no q/k norm, no qkv bias."""

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


class VAEEncoder(nn.Module):
    """Queries (a farthest-point sample of the points) ask every point in one cross block, then ``layers``
    self blocks and ``norm_out``."""

    def __init__(self, in_features: int, width: int, heads: int, layers: int) -> None:
        super().__init__()
        self.proj_in = nn.Linear(in_features, width)
        self.blocks = nn.ModuleList([VAEBlock(width, heads, cross=True)]
                                    + [VAEBlock(width, heads, cross=False) for _ in range(layers)])
        self.norm_out = nn.LayerNorm(width)

    def forward(self, queries: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        x = self.blocks[0](self.proj_in(queries), self.proj_in(points))
        for block in self.blocks[1:]:
            x = block(x)
        return self.norm_out(x)


class VAEDecoder(nn.Module):
    """``layers`` self blocks over the latent tokens (``context``), then one cross block each embedded query
    point asks them in (``cross``); ``norm_out`` and ``proj_out`` are the model's to apply."""

    def __init__(self, in_features: int, width: int, heads: int, layers: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([VAEBlock(width, heads, cross=False) for _ in range(layers)]
                                    + [VAEBlock(width, heads, cross=True)])
        self.proj_query = nn.Linear(in_features, width)
        self.norm_out = nn.LayerNorm(width)
        self.proj_out = nn.Linear(width, 1)

    def context(self, tokens: torch.Tensor) -> torch.Tensor:
        """Latent tokens [B, N, width] through the self blocks, once per latent."""
        for block in self.blocks[:-1]:
            tokens = block(tokens)
        return tokens

    def cross(self, queries: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """Projected queries [B, M, width] asking ``context`` in the last block: [B, M, width]."""
        return self.blocks[-1](queries, context)
