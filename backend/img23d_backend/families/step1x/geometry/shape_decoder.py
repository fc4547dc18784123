"""The perceiver VAE's decoder half: latent tokens to a signed field at any query points.

Upstream's ``MichelangeloAutoencoder`` (after 3DShape2VecSet and Michelangelo): ``post_kl`` lifts
the DiT's latents to the width, ``transformer`` (a stack of self-attention blocks) refines them,
and ``decoder`` answers each query point with one cross-attention block from its Fourier
embedding to the latents. Positive values lie inside; the surface is the zero level. The encoder
half (point clouds to latents, with farthest-point sampling from ``torch_cluster``) only trains:
the published file holds it, the loader skips it (``ENCODER_PREFIXES``).

The blocks (the Fourier embedding, Michelangelo's attention, MLP and residual blocks, in upstream's
layout and key names) are the shared ones of ``neural.fourier`` and ``neural.perceiver``, which
SkinTokens' shape encoder is built from too; this module puts them together as the file's keys do.
"""

from __future__ import annotations

import torch
from torch import nn

from ....neural.fourier import FourierEmbedder
from ....neural.perceiver import Perceiver, ResidualCrossAttentionBlock
from .configs import ShapeVAEConfig

# What the file holds besides the decoder half: the encoder and its KL projection (training only).
ENCODER_PREFIXES = ("encoder.", "pre_kl.")


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
        embedded = self.embedder(points).to(self.query_proj.weight.dtype)
        x = self.cross_attn_decoder(self.query_proj(embedded), latents)
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
