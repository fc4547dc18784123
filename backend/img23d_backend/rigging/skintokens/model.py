"""TokenRig as one module: shape encoder, its projection to the language model's width, the Qwen3 model
and the skin VAE, under the checkpoint's own names (``mesh_encoder``, ``output_proj.0``/``.1``,
``transformer``, ``vae.model``; upstream ``src/model/tokenrig.py``).

The language model is transformers' own ``Qwen3ForCausalLM`` with SDPA attention (upstream asks for
flash-attention 2; the arithmetic is the same). Its rotary ``inv_freq`` buffer is rounded through bf16
whatever the compute dtype, as upstream's ``.to(torch.bfloat16)`` rounds it (``round_rope_like_upstream``);
transformers takes the buffer to float32 before the cos/sin tables, so the rounded values are what count.
"""

from __future__ import annotations

import torch
from torch import nn

from ...env.torch_shims import prepare_torchvision
from ...models.meta_weights import empty_weights
from .config import SkinTokensConfig
from .embed import bf16_rounded
from .shape_encoder import ShapeEncoder
from .skin_vae import SkinVAEHolder


class TokenRig(nn.Module):
    def __init__(self, config: SkinTokensConfig) -> None:
        super().__init__()
        prepare_torchvision()  # transformers' model modules import its image processors, which import torchvision
        from transformers import Qwen3ForCausalLM

        self.config = config
        self.mesh_encoder = ShapeEncoder(config.encoder)
        # nn.RMSNorm without an eps, as upstream builds it (torch then uses its float epsilon)
        self.output_proj = nn.Sequential(nn.Linear(config.encoder.width, config.lm.hidden), nn.RMSNorm(config.lm.hidden))
        self.transformer = Qwen3ForCausalLM(config.qwen3_config())
        self.vae = SkinVAEHolder(config.vae)

    def prefix(self, points: torch.Tensor, normals: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        """The shape's prefix for the language model: (B, queries, hidden)."""
        latents = self.mesh_encoder(points, normals, queries)
        return self.output_proj(latents.to(self.output_proj[0].weight.dtype))

    def round_rope_like_upstream(self) -> None:
        rotary = self.transformer.model.rotary_emb
        rotary.inv_freq = bf16_rounded(rotary.inv_freq.float()).to(rotary.inv_freq.device)
        if hasattr(rotary, "original_inv_freq"):
            rotary.original_inv_freq = rotary.inv_freq


def build_on_meta(config: SkinTokensConfig) -> TokenRig:
    """The module with its parameters on the meta device and its buffers real (``empty_weights``)."""
    with empty_weights():
        return TokenRig(config)
