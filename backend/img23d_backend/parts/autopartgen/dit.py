"""AutoPartGen's diffusion transformer: one part's latent from the image and the parts so far.

Written from the release's architecture (``PartgenTripoSGDiTModel`` in facebookresearch/AutoPartGen,
read, not copied; its parameter names are kept because the checkpoint's keys are them; the attention,
feed-forward and norm blocks are ``neural.triposg``'s, shared with the VAEs):

* ``proj_in`` lifts the noisy latent [B, N, 64] to the width; the timestep goes through diffusers'
  sinusoids (``time_embed``, not in the file) and ``time_proj``, plus ``sigma_history_proj`` of the
  history's noise level (the release's diffusion forcing: at inference its history is clean, level 0,
  but the projection of level 0 is still added), and is prepended as one token.
* the image condition [B, T, 2048] (whole-object and part features concatenated on channels) goes
  through ``cond_proj`` (Linear, GELU, LayerNorm, Linear) to 1024.
* the part history [B, P, N, 64] (the whole object's latent, then one latent for the union of the
  parts so far) gets ``silu(map_position(part_position_embedding(p)))`` added per part p (a
  128-frequency sinusoid, then a Linear: ``part_position_embedding.linear``), and is flattened to
  P x N tokens of 64 channels.
* 21 blocks: self-attention (``norm1``/``attn1``), image cross-attention (``norm2``/``attn2``), in
  blocks 0-9 the part cross-attention (``norm3``/``attn3``: in this checkpoint ``norm3`` is that
  attention's norm; the feed-forward's is ``norm_ff``), the feed-forward (``norm_ff``/``ff``). All
  attention with RMS q/k norm and no qkv bias. Blocks 0-9 keep their output; blocks 11-20 take one
  back each (last in, first out), concatenated in front ([skip, x]), through ``skip_linear`` then
  ``skip_norm`` (the release's ``skip_norm_last``).
* ``norm_out`` (a LayerNorm with weights) and ``proj_out`` on the latent tokens (the time token dropped).

``sot_token``/``eot_token`` of the release are plain tensors, not parameters: not in the file.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ...neural.triposg import Attention, FeedForward, FP32LayerNorm
from .blocks import TimestepEmbedding, timestep_sinusoids
from .config import DiTConfig


class PartPositionEmbedding(nn.Module):
    """Sinusoids of the part index at ``freqs`` frequencies exp(-ln(1e4) i / freqs), [sin, cos], then ``linear``."""

    def __init__(self, out_dim: int, freqs: int) -> None:
        super().__init__()
        frequencies = torch.exp(-math.log(10_000.0) * torch.arange(freqs, dtype=torch.float32) / freqs)
        self.register_buffer("frequencies", frequencies, persistent=False)  # computed, not in the file
        self.linear = nn.Linear(2 * freqs, out_dim)

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        angles = index.float()[:, None] * self.frequencies[None]
        return self.linear(torch.cat([angles.sin(), angles.cos()], dim=-1).to(self.linear.weight.dtype))


class PartDiTBlock(nn.Module):
    def __init__(self, config: DiTConfig, part_attention: bool, skip: bool) -> None:
        super().__init__()
        dim, heads = config.width, config.heads
        self.norm1 = FP32LayerNorm(dim, 1e-5)
        self.attn1 = Attention(dim, heads, qk_norm=True)
        self.norm2 = FP32LayerNorm(dim, 1e-5)
        self.attn2 = Attention(dim, heads, context_dim=config.cross_attention_dim, qk_norm=True)
        if part_attention:
            self.norm3 = FP32LayerNorm(dim, 1e-5)
            self.attn3 = Attention(dim, heads, context_dim=config.latent_dim, qk_norm=True)
        self.norm_ff = FP32LayerNorm(dim, 1e-5)
        self.ff = FeedForward(dim, int(dim * config.mlp_ratio))
        if skip:
            self.skip_norm = FP32LayerNorm(dim, 1e-5)
            self.skip_linear = nn.Linear(2 * dim, dim)
        self.part_attention, self.skip = part_attention, skip

    def forward(self, x: torch.Tensor, image: torch.Tensor, parts: torch.Tensor | None,
                skip: torch.Tensor | None) -> torch.Tensor:
        if self.skip:
            x = self.skip_norm(self.skip_linear(torch.cat([skip, x], dim=-1)))
        x = x + self.attn1(self.norm1(x))
        x = x + self.attn2(self.norm2(x), image)
        if self.part_attention and parts is not None:
            x = x + self.attn3(self.norm3(x), parts)
        return x + self.ff(self.norm_ff(x))


class PartDiT(nn.Module):
    """The DiT; ``forward`` predicts v for a batch of noisy (scaled) latents."""

    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        config.check()
        self.config = config
        width, hidden = config.width, 4 * config.width
        self.time_proj = TimestepEmbedding(width, hidden, width)
        self.sigma_history_proj = TimestepEmbedding(width, hidden, width)
        # Per-part noise levels of the history (diffusion forcing): in the file, unused at inference,
        # where the history is clean (the release's default ``infer_sigma_history`` 0).
        self.sigma_per_part_proj = TimestepEmbedding(width, hidden, config.latent_dim)
        self.proj_in = nn.Linear(config.in_channels, width)
        self.part_position_embedding = PartPositionEmbedding(width, config.part_freqs)
        self.map_position = nn.Linear(width, config.latent_dim)
        context = config.cross_attention_dim
        self.cond_proj = nn.Sequential(nn.Linear(2 * context, context), nn.GELU(), nn.LayerNorm(context),
                                       nn.Linear(context, context))
        middle = config.layers // 2
        self.blocks = nn.ModuleList(PartDiTBlock(config, layer < config.part_layers, layer > middle)
                                    for layer in range(config.layers))
        self.norm_out = nn.LayerNorm(width)
        self.proj_out = nn.Linear(width, config.in_channels)

    def part_tokens(self, history: torch.Tensor) -> torch.Tensor:
        """History [B, P, N, C] -> [B, P x N, C] with each part's position embedding added."""
        batch, parts, latents, channels = history.shape
        position = F.silu(self.map_position(self.part_position_embedding(torch.arange(parts, device=history.device))))
        return (history + position[None, :, None].to(history.dtype)).reshape(batch, parts * latents, channels)

    def forward(self, latents: torch.Tensor, timesteps: torch.Tensor, image: torch.Tensor,
                history: torch.Tensor | None) -> torch.Tensor:
        """``latents`` [B, N, C] (scaled), ``timesteps`` [B], ``image`` [B, T, 2 x 1024] (before
        ``cond_proj``), ``history`` [B, P, N, C] or None -> v [B, N, C]."""
        dtype = self.proj_in.weight.dtype
        width = self.config.width
        image = self.cond_proj(image.to(dtype))
        parts = None if history is None else self.part_tokens(history.to(dtype))
        temb = self.time_proj(timestep_sinusoids(timesteps, width).to(dtype))
        clean = torch.zeros(latents.shape[0], device=latents.device)
        temb = temb + self.sigma_history_proj(timestep_sinusoids(clean, width).to(dtype))
        x = torch.cat([temb[:, None], self.proj_in(latents.to(dtype))], dim=1)
        skips: list[torch.Tensor] = []
        middle = self.config.layers // 2
        for layer, block in enumerate(self.blocks):
            x = block(x, image, parts, skips.pop() if layer > middle else None)
            if layer < middle:
                skips.append(x)
        return self.proj_out(self.norm_out(x)[:, 1:])
