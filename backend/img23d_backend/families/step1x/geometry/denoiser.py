"""The Flux-style 1-D denoiser: latent tokens and image tokens in, velocity out.

The architecture of upstream's ``FluxTransformer1DModel`` (wrapped as ``dit_model`` in its
``FluxDenoiser``, which is what ``transformer/diffusion_pytorch_model.safetensors`` holds): the
timestep's sinusoidal embedding through a two-layer MLP, the latents and the image tokens each
projected to the width, ``layers`` double-stream blocks (latents and image tokens apart, joint
attention with the image tokens first), then ``num_single_layers`` single-stream blocks over the
joined sequence, an adaptive norm and a projection back to the latent channels. No rotary
positions: the latent tokens are a set. The blocks are diffusers' own (Apache-2.0), whose
parameter names upstream's copies share.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .configs import DenoiserConfig


def _blocks() -> tuple[Any, Any]:
    # diffusers' package-level import of its transformers pulls in its single-file loaders, which
    # import transformers' image processors (and so torchvision): the caller prepares that first.
    from diffusers.models.transformers.transformer_flux import FluxSingleTransformerBlock, FluxTransformerBlock

    return FluxTransformerBlock, FluxSingleTransformerBlock


class FluxTransformer1D(nn.Module):
    """Upstream's ``FluxTransformer1DModel``, its parameters named as there."""

    def __init__(self, config: DenoiserConfig) -> None:
        super().__init__()
        from diffusers.models.embeddings import TimestepEmbedding, Timesteps
        from diffusers.models.normalization import AdaLayerNormContinuous

        double, single = _blocks()
        width, heads = config.width, config.num_heads
        # Upstream's "positional" time embedding: sinusoids of the width, no flip, no shift,
        # then width -> 4 x width -> width with GELU.
        self.time_embed = Timesteps(width, flip_sin_to_cos=False, downscale_freq_shift=0)
        self.time_proj = TimestepEmbedding(width, 4 * width, act_fn="gelu", out_dim=width)
        self.proj_in = nn.Linear(config.input_channels, width)
        self.proj_cross_attention = nn.Linear(config.condition_dim, width)
        self.transformer_blocks = nn.ModuleList(
            double(dim=width, num_attention_heads=heads, attention_head_dim=width // heads)
            for _ in range(config.layers))
        self.single_transformer_blocks = nn.ModuleList(
            single(dim=width, num_attention_heads=heads, attention_head_dim=width // heads)
            for _ in range(config.num_single_layers))
        self.norm_out = AdaLayerNormContinuous(width, width, elementwise_affine=False, eps=1e-6)
        self.proj_out = nn.Linear(width, config.input_channels)

    def forward(self, latents: torch.Tensor, timestep: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        temb = self.time_proj(self.time_embed(timestep).to(latents.dtype))
        hidden = self.proj_in(latents)
        context = self.proj_cross_attention(condition)
        for block in self.transformer_blocks:
            context, hidden = block(hidden_states=hidden, encoder_hidden_states=context, temb=temb,
                                    image_rotary_emb=None)
        joined = torch.cat([context, hidden], dim=1)
        for block in self.single_transformer_blocks:
            joined = _single_stream(block, joined, temb)
        hidden = joined[:, context.shape[1]:]
        return self.proj_out(self.norm_out(hidden, temb))


def _single_stream(block: Any, hidden: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
    """One single-stream block over the joined sequence, as upstream's block runs it.

    Written out from the block's parts rather than calling its ``forward``: diffusers changed that
    signature (it now takes the two streams apart and joins them itself), the parts stayed.
    """
    normed, gate = block.norm(hidden, emb=temb)
    mlp = block.act_mlp(block.proj_mlp(normed))
    attention = block.attn(hidden_states=normed, image_rotary_emb=None)
    out = hidden + gate.unsqueeze(1) * block.proj_out(torch.cat([attention, mlp], dim=2))
    if out.dtype == torch.float16:
        out = out.clip(-65504, 65504)
    return out


class Step1XDenoiser(nn.Module):
    """Upstream's ``FluxDenoiser`` at inference: the image tokens (projected when their width is not
    the condition's) to ``dit_model``."""

    def __init__(self, config: DenoiserConfig) -> None:
        super().__init__()
        config.check()
        self.config = config
        self.dit_model = FluxTransformer1D(config)
        if config.visual_condition_dim != config.condition_dim:
            # Upstream's spelling ("condtion"): the file's keys carry it.
            self.proj_visual_condtion = nn.Sequential(nn.RMSNorm(config.visual_condition_dim),
                                                      nn.Linear(config.visual_condition_dim, config.condition_dim))
        if config.use_label_condition and config.label_condition_dim != config.condition_dim:
            self.proj_label_condtion = nn.Sequential(nn.RMSNorm(config.label_condition_dim),
                                                     nn.Linear(config.label_condition_dim, config.condition_dim))

    def forward(self, latents: torch.Tensor, timestep: torch.Tensor, visual: torch.Tensor,
                label: torch.Tensor | None = None) -> torch.Tensor:
        condition = [self.proj_visual_condtion(visual) if hasattr(self, "proj_visual_condtion") else visual]
        if self.config.use_label_condition:
            if label is None:
                raise ValueError("this denoiser takes a label embedding with the image")
            condition.append(self.proj_label_condtion(label) if hasattr(self, "proj_label_condtion") else label)
        return self.dit_model(latents, timestep, torch.cat(condition, dim=1))
