"""The FSQ skin decoder: four codes a joint become that joint's weight at every surface sample.

Inference uses three parts of upstream's ``SkinFSQCVAEModel`` (``src/model/skin_vae/autoencoders/
skin_fsq_cvae_model.py``, ``autoencoder_kl_tripo2.py``; MIT, read only), all under ``vae.model.*``:

* ``cond_encoder`` (``Tripo2Encoder``): ``proj_in`` over [phase embedding, normal]; block 0 lets the
  384 farthest-point queries ask every sample, then self blocks; ``norm_out``; then ``cond_quant``.
* ``FSQ``: an index to one digit per level (``(index // basis) % level``), each to
  ``(digit - level // 2) / (level // 2)``, then ``project_out`` (lucidrains' FSQ, which upstream uses).
* ``post_quant`` over [4 joint codes, 384 condition latents]; ``decoder`` (``Tripo2Decoder``): self blocks
  over those 388 tokens, then every sample (``proj_query`` of its embedding) asks them in the last, cross,
  block; ``norm_out``, ``proj_out`` to one channel, a sigmoid.

The blocks are diffusers' ``Attention`` as TripoSG's ``DiTBlock`` builds it (``norm1``/``attn1`` self,
``norm2``/``attn2`` cross with ``norm_cross``, ``norm3``/``ff.net.0.proj``/``ff.net.2``, exact GELU; q/k/v
without bias, ``to_out.0`` with). Upstream's processor (``Tripo2AttnProcessor2_0``) splits per head after
concatenating: a head's q, k, v (or k, v) lie side by side, as the port's ``vae.rs`` reads it. The norms are
"fp32" layer norms: computed in float32, cast back. These blocks and the encoder's and decoder's stacks are
the shared ones of ``neural.triposg`` (AutoPartGen's shape VAE is built of the same). The checkpoint's
training-only parts (the skin encoder ``vae.model.encoder``, ``quant``, ``FSQ.project_in``) are not built
(``weights.UNUSED_PREFIXES``).
"""

from __future__ import annotations

import torch
from torch import nn

from ...neural.triposg import VAEDecoder, VAEEncoder
from .config import SkinVAEConfig
from .embed import PhaseEmbedder


class SkinDecoder(VAEDecoder):
    """The shared decoder stack; a joint's weight at a sample is the sigmoid of its one channel."""

    def ask(self, queries: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """queries: (B, M, width) embedded samples; returns (B, M) weights in [0, 1]."""
        out = self.cross(queries, context)
        return torch.sigmoid(self.proj_out(self.norm_out(out)).float())[..., 0]


class FSQ(nn.Module):
    """Finite scalar quantisation's decoding half (and its encoding, for round trips)."""

    def __init__(self, levels: tuple[int, ...], latent: int) -> None:
        super().__init__()
        self.levels = tuple(levels)
        self.project_out = nn.Linear(len(levels), latent)

    def _basis(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        levels = torch.tensor(self.levels, dtype=torch.long, device=device)
        basis = torch.cumprod(torch.cat([levels.new_ones(1), levels[:-1]]), dim=0)
        return levels, basis

    def indices_to_grid(self, indices: torch.Tensor) -> torch.Tensor:
        """indices (...,) to per-level values in [-1, 1): (..., levels)."""
        levels, basis = self._basis(indices.device)
        digits = (indices[..., None] // basis) % levels
        half = (levels // 2).float()
        return (digits.float() - half) / half

    def grid_to_indices(self, grid: torch.Tensor) -> torch.Tensor:
        levels, basis = self._basis(grid.device)
        half = (levels // 2).float()
        digits = torch.round(grid.float() * half + half).long()
        return (digits * basis).sum(dim=-1)

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """Bound each channel to its level count (lucidrains' ``bound``), round, scale to the grid."""
        levels = torch.tensor(self.levels, dtype=torch.float32, device=z.device)
        half_l = (levels - 1) * (1 + 1e-3) / 2
        offset = torch.where(levels % 2 == 0, 0.5, 0.0)
        shift = torch.atanh(offset / half_l)
        bounded = torch.tanh(z.float() + shift) * half_l - offset
        return torch.round(bounded) / (levels // 2)

    def indices_to_codes(self, indices: torch.Tensor) -> torch.Tensor:
        grid = self.indices_to_grid(indices).to(self.project_out.weight.dtype)
        return self.project_out(grid)


class SkinVAE(nn.Module):
    """``vae.model``: the embedding, condition encoder, decoder, the two projections and FSQ."""

    def __init__(self, config: SkinVAEConfig) -> None:
        super().__init__()
        self.config = config
        self.embedder = PhaseEmbedder(config.num_freqs)
        self.cond_encoder = VAEEncoder(config.in_features, config.width, config.heads, config.encoder_layers)
        self.decoder = SkinDecoder(config.in_features, config.width, config.heads, config.decoder_layers)
        self.cond_quant = nn.Linear(config.width, config.latent)
        self.post_quant = nn.Linear(config.latent, config.width)
        self.FSQ = FSQ(config.levels, config.latent)

    def embed(self, points: torch.Tensor, normals: torch.Tensor) -> torch.Tensor:
        features = torch.cat([self.embedder(points), normals.float()], dim=-1)
        return features.to(self.cond_quant.weight.dtype)

    def condition(self, points: torch.Tensor, normals: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        """(B, N, 3) samples, (Q,) query indices -> (B, Q, latent) condition latents."""
        samples = self.embed(points, normals)
        return self.cond_quant(self.cond_encoder(samples[:, queries], samples))

    def decode(self, codes: torch.Tensor, condition: torch.Tensor, queries: torch.Tensor,
               chunk: int = 16_384, joints_per_batch: int = 0) -> torch.Tensor:
        """codes (J, 4) indices, condition (1, Q, latent), queries (1, N, width) from ``query_features``:
        (N, J) weights. Samples are asked in chunks of ``chunk``, at most ``joints_per_batch`` joints at a
        time (0: all of them): the activations grow with joints x chunk, so a small device asks fewer
        joints at once (``pipeline.skin_batch``). Each joint's context is built once."""
        z = self.FSQ.indices_to_codes(codes)  # (J, 4, latent)
        tokens = self.post_quant(torch.cat([z, condition.expand(len(codes), -1, -1)], dim=1))
        context = self.decoder.context(tokens)
        group = joints_per_batch if joints_per_batch > 0 else len(codes)
        columns = []
        for first in range(0, len(codes), group):
            joints = context[first:first + group]
            asked = [self.decoder.ask(queries[:, s:s + chunk].expand(len(joints), -1, -1), joints)
                     for s in range(0, queries.shape[1], chunk)]
            columns.append(torch.cat(asked, dim=1))
        return torch.cat(columns, dim=0).T

    def query_features(self, points: torch.Tensor, normals: torch.Tensor) -> torch.Tensor:
        return self.decoder.proj_query(self.embed(points, normals))


class SkinVAEHolder(nn.Module):
    """Upstream's ``SkinVAEModel`` wrapper: the network sits under ``model`` (hence ``vae.model.*``)."""

    def __init__(self, config: SkinVAEConfig) -> None:
        super().__init__()
        self.model = SkinVAE(config)
