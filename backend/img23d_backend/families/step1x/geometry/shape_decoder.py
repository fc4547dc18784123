"""The perceiver VAE's decoder half: latent tokens to a signed field at any query points.

Upstream's ``MichelangeloAutoencoder`` (after 3DShape2VecSet and Michelangelo): ``post_kl`` lifts
the DiT's latents to the width, ``transformer`` (a stack of self-attention blocks) refines them,
and ``decoder`` answers each query point with one cross-attention block from its Fourier
embedding to the latents. Positive values lie inside; the surface is the zero level. The encoder
half (point clouds to latents, with farthest-point sampling from ``torch_cluster``) only trains:
the published file holds it, the loader skips it (``ENCODER_PREFIXES``).

Attention layouts are upstream's: one ``c_qkv`` projection viewed as (heads, 3 x head width) and
split per head into q, k, v; cross-attention's ``c_kv`` the same with two. Parameter names follow
upstream's, because the file's keys do.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .configs import ShapeVAEConfig

# What the file holds besides the decoder half: the encoder and its KL projection (training only).
ENCODER_PREFIXES = ("encoder.", "pre_kl.")


class FourierEmbedder(nn.Module):
    """xyz -> (xyz, sin(2^k xyz), cos(2^k xyz)) for k < num_freqs (times pi when include_pi)."""

    def __init__(self, num_freqs: int, include_pi: bool) -> None:
        super().__init__()
        frequencies = 2.0 ** torch.arange(num_freqs, dtype=torch.float32)
        if include_pi:
            frequencies = frequencies * math.pi
        # Not in the file: computed here, as upstream does (a non-persistent buffer).
        self.register_buffer("frequencies", frequencies, persistent=False)
        self.out_dim = 3 * (2 * num_freqs + 1)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        embed = (points[..., None] * self.frequencies.to(points.dtype)).reshape(*points.shape[:-1], -1)
        return torch.cat((points, embed.sin(), embed.cos()), dim=-1)


class _HeadNorms(nn.Module):
    """Upstream's ``QKVMultiheadAttention`` / ``...CrossAttention``: per-head q/k LayerNorms when
    ``qk_norm``, nothing (and no keys) otherwise."""

    def __init__(self, head_width: int, qk_norm: bool) -> None:
        super().__init__()
        self.q_norm = nn.LayerNorm(head_width, eps=1e-6) if qk_norm else nn.Identity()
        self.k_norm = nn.LayerNorm(head_width, eps=1e-6) if qk_norm else nn.Identity()


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, norms: _HeadNorms) -> torch.Tensor:
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
        self.attention = _HeadNorms(width // heads, qk_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, width = x.shape
        qkv = self.c_qkv(x).view(batch, tokens, self.heads, -1)
        q, k, v = torch.split(qkv, width // self.heads, dim=-1)
        return self.c_proj(_attend(q, k, v, self.attention))


class CrossAttention(nn.Module):
    def __init__(self, width: int, heads: int, qkv_bias: bool, qk_norm: bool) -> None:
        super().__init__()
        self.heads = heads
        self.c_q = nn.Linear(width, width, bias=qkv_bias)
        self.c_kv = nn.Linear(width, 2 * width, bias=qkv_bias)
        self.c_proj = nn.Linear(width, width)
        self.attention = _HeadNorms(width // heads, qk_norm)

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
    def __init__(self, width: int, layers: int, heads: int, qkv_bias: bool, qk_norm: bool) -> None:
        super().__init__()
        self.resblocks = nn.ModuleList(ResidualAttentionBlock(width, heads, qkv_bias, qk_norm) for _ in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x)
        return x


class QueryDecoder(nn.Module):
    """Upstream's ``PerceiverCrossAttentionDecoder``: a query point's field value from the latents."""

    def __init__(self, embedder: FourierEmbedder, config: ShapeVAEConfig) -> None:
        super().__init__()
        self.embedder = embedder
        self.query_proj = nn.Linear(embedder.out_dim, config.width)
        self.cross_attn_decoder = ResidualCrossAttentionBlock(config.width, config.heads, config.qkv_bias,
                                                              config.qk_norm)
        self.ln_post = nn.LayerNorm(config.width)
        self.output_proj = nn.Linear(config.width, config.out_dim)

    def forward(self, points: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        x = self.cross_attn_decoder(self.query_proj(self.embedder(points)), latents)
        return self.output_proj(self.ln_post(x))


class ShapeDecoder(nn.Module):
    """The decoding half of upstream's ``MichelangeloAutoencoder``, its keys named as in the file."""

    def __init__(self, config: ShapeVAEConfig) -> None:
        super().__init__()
        config.check()
        self.config = config
        self.embedder = FourierEmbedder(config.num_freqs, config.include_pi)
        self.post_kl = nn.Linear(config.embed_dim, config.width)
        self.transformer = Perceiver(config.width, config.num_decoder_layers, config.heads, config.qkv_bias,
                                     config.qk_norm)
        self.decoder = QueryDecoder(self.embedder, config)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """The DiT's latents [B, N, embed_dim] -> the decoder's latent tokens [B, N, width]."""
        return self.transformer(self.post_kl(latents / self.config.z_scale_factor))

    def query(self, points: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """The field at ``points`` [B, M, 3] (float32: positions are not rounded to half precision)
        -> [B, M] in float32."""
        dtype = self.post_kl.weight.dtype
        embedded = self.embedder(points.float()).to(dtype)
        x = self.decoder.cross_attn_decoder(self.decoder.query_proj(embedded), tokens)
        return self.decoder.output_proj(self.decoder.ln_post(x))[..., 0].float()
