"""AutoPartGen's network sizes: the DiT's, the VAE's and the image conditioner's, full and tiny.

Where each full value comes from (``facebookresearch/AutoPartGen`` at 147658f, read, nothing copied):

* the DiT: ``autopartgen/configs/default.yaml``'s ``dit`` section, each key beside its field in ``DiTConfig``
  (and ``mlp_encode_cond``, ``use_part_position_embedding``, ``use_diffusion_forcing`` true);
  ``default_4096.yaml`` differs in ``num_latents`` 4096 only (and its guidance). The time embedding's 4 x
  width hidden layer and the fields marked "class default": the release's DiT class defaults.
* the VAE: the yaml's ``vae`` section over TripoSG's class defaults, each beside its field in ``VAEConfig``
  (eval downscale 16 for 2,048 latents, 8 for 4,096).
* the conditioner: the yaml's ``conditioner`` (``dinov2_vitl14_reg`` at 448 px, ``norm_out: none``, i.e. the
  hidden states before DINOv2's final layernorm); DINOv2-L/14's own sizes (24 layers, width 1024, 16 heads,
  4 registers) as transformers' ``facebook/dinov2-with-registers-large`` config.json gives them.

``tiny`` keeps every structural rule (blocks with part cross-attention below ``part_layers``, long skips
above the middle, registers, 64-dimension-free ratios) at widths a test loads in well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

SCALE_FACTOR = 1.268390  # default.yaml's dit.scale_factor: the DiT works on VAE latents times it


@dataclass(frozen=True)
class DiTConfig:
    width: int = 2048                     # dit.width
    layers: int = 21                      # dit.num_layers
    heads: int = 16                       # dit.num_attention_heads
    in_channels: int = 64                 # the VAE's latent channels: the DiT denoises its latents
    latents: int = 2048                   # dit.num_latents
    cross_attention_dim: int = 1024       # dit.cross_attention_dim: the image tokens' width after ``cond_proj``
    latent_dim: int = 64                  # dit.latent_dim: the part history's token width
    part_layers: int = 10                 # dit.token_cross_attention_layer: blocks [0, it) see the history
    part_freqs: int = 128                 # class default: the part position embedding's sinusoid frequencies
    mlp_ratio: float = 4.0                # class default: the feed-forward's hidden width over ``width``
    scale_factor: float = SCALE_FACTOR    # dit.scale_factor

    def check(self) -> None:
        if self.width % self.heads:
            raise ValueError(f"the DiT's width {self.width} is not a multiple of its {self.heads} heads")
        if self.part_layers > self.layers // 2:
            raise ValueError("the part cross-attention blocks must lie below the middle block")


@dataclass(frozen=True)
class VAEConfig:
    latent_channels: int = 64             # TripoSG's class default
    heads: int = 8                        # TripoSG's class default
    encoder_width: int = 512              # vae.encoder_width
    decoder_width: int = 1024             # TripoSG's class default
    encoder_layers: int = 8               # TripoSG's class default
    decoder_layers: int = 16              # TripoSG's class default
    num_freqs: int = 8                    # TripoSG's class default: log-spaced frequencies...
    include_pi: bool = False              # ...not multiplied by pi
    in_channels: int = 3                  # xyz; the normals join as features
    downscale: int = 16                   # latents = surface points // downscale (32,768 // 16 = 2,048)

    @property
    def embed_dim(self) -> int:
        return self.in_channels * (2 * self.num_freqs + 1)


@dataclass(frozen=True)
class ConditionerConfig:
    image_size: int = 448
    # transformers' Dinov2WithRegistersConfig for DINOv2-L/14 with 4 registers.
    dino: dict[str, Any] = field(default_factory=lambda: {
        "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "mlp_ratio": 4,
        "patch_size": 14, "image_size": 518, "num_register_tokens": 4, "layerscale_value": 1.0,
        "hidden_act": "gelu", "layer_norm_eps": 1e-6, "qkv_bias": True, "use_swiglu_ffn": False,
        "drop_path_rate": 0.0, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
        "initializer_range": 0.02})

    @property
    def width(self) -> int:
        return int(self.dino["hidden_size"])

    @property
    def tokens(self) -> int:
        """[CLS], the registers, one per patch: 1 + 4 + 32 x 32 = 1029 at 448 px."""
        return 1 + int(self.dino["num_register_tokens"]) + (self.image_size // int(self.dino["patch_size"])) ** 2


@dataclass(frozen=True)
class AutoPartGenConfig:
    dit: DiTConfig
    vae: VAEConfig
    conditioner: ConditionerConfig
    surface_points: int = 32_768          # the VAE's input: FPS of FPS_POOL of SURFACE_SAMPLES
    fps_pool: int = 65_536
    surface_samples: int = 500_000

    def check(self) -> None:
        self.dit.check()
        if self.dit.in_channels != self.vae.latent_channels or self.dit.latent_dim != self.vae.latent_channels:
            raise ValueError("the DiT's channels must be the VAE's latent channels")
        if self.surface_points // self.vae.downscale != self.dit.latents:
            raise ValueError("the VAE's latent count (surface points // downscale) must be the DiT's")
        if self.conditioner.width != self.dit.cross_attention_dim:
            raise ValueError("the conditioner's width must be the DiT's cross-attention width")


def full(latents: int = 2048) -> AutoPartGenConfig:
    """The released sizes; ``latents`` 4096 for ``autopartgen_dit_4096.pth`` (its VAE downscale 8)."""
    if latents not in (2048, 4096):
        raise ValueError("AutoPartGen is released with 2,048 or 4,096 latents")
    return AutoPartGenConfig(dit=DiTConfig(latents=latents), vae=VAEConfig(downscale=32_768 // latents),
                             conditioner=ConditionerConfig())


def tiny() -> AutoPartGenConfig:
    """Every rule of the full sizes at test widths: 5 DiT blocks (2 with part cross-attention, skips into
    3 and 4), 64 latents of 8 channels, DINOv2 of 2 layers with 4 registers at 56 px (1 + 4 + 16 tokens)."""
    dino = dict(ConditionerConfig().dino, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, image_size=56)
    return AutoPartGenConfig(
        dit=DiTConfig(width=32, layers=5, heads=2, in_channels=8, latents=64, cross_attention_dim=32, latent_dim=8,
                      part_layers=2, part_freqs=8),
        vae=VAEConfig(latent_channels=8, heads=2, encoder_width=16, decoder_width=32, encoder_layers=1,
                      decoder_layers=2, downscale=4),
        conditioner=ConditionerConfig(image_size=56, dino=dino),
        surface_points=256, fps_pool=512, surface_samples=2048)


def with_latents(config: AutoPartGenConfig, latents: int) -> AutoPartGenConfig:
    """``config`` for a DiT of another latent count (the VAE's downscale follows)."""
    return replace(config, dit=replace(config.dit, latents=latents),
                   vae=replace(config.vae, downscale=config.surface_points // latents))
