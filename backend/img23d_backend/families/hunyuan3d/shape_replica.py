"""The Hunyuan3D-2mini shape replica: ``config.yaml`` and ``model.fp16.safetensors`` as hy3dgen reads them.

The family's own builder (it was ``replicas/hunyuan_shape.py``); ``replicas/build.py`` (the tiny
set) and ``replicas/full.py`` (the full-size one) call it.

``config(size)`` is the one definition of the architecture's sizes: ``tiny`` for the tests,
``full`` as published. ``build`` writes the folder hy3dgen's pipeline opens (the
``hunyuan3d-dit-v2-mini`` subfolder of the real repository), ``build_flashvdm_vae`` the distilled
VAE that FlashVDM decodes with (``hunyuan3d-vae-v2-mini-turbo``). The weights are random (seeded)
except that the VAE's occupancy decoder is biased towards a closed blob (a level set of
``sum(cos(xyz))``) that the latents only perturb, so surface extraction yields a mesh at
either size; that changes values, not compute.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ...models.replica_common import Size, check_size, default_dtype, parameters, prepare_imports, seeded, shape_blob

PARTS = ("model", "vae", "conditioner")


@dataclass(frozen=True)
class ShapeDims:
    """The sizes in hunyuan3d-dit-v2-mini's config.yaml, at one replica size.

    Constraints: hidden % heads == 0 (the rotary axes span hidden / heads), the DiT's input
    channels are the VAE's latent channels, its context width is the DINO encoder's, and the
    encoder's image size is a multiple of 14 (the DINO patch).
    """

    seed: int             # one per part: seed, seed + 1, seed + 2, so resizing one keeps the others
    init_dtype: str       # made in this dtype; saved as float16 either way, like the real file
    # Hunyuan3DDiT
    hidden: int
    mlp_ratio: float
    heads: int
    depth: int
    single_blocks: int
    latent_channels: int
    # ShapeVAE
    latents: int
    freqs: int
    vae_heads: int
    vae_width: int
    vae_decoder_layers: int
    vae_scale_factor: float
    # DINOv2 image encoder
    dino_hidden: int
    dino_layers: int
    dino_heads: int
    dino_mlp_ratio: int
    dino_swiglu: bool
    dino_image_size: int
    processor_size: int
    # The turbo (step-distilled) variant: the guidance scale is an input of the DiT, so there is
    # no classifier-free guidance doubling the batch, and a consistency scheduler made for 5 steps.
    turbo: bool = False


TINY = ShapeDims(
    seed=3456, init_dtype="float32",
    hidden=32, mlp_ratio=2.0, heads=2, depth=1, single_blocks=1, latent_channels=8,
    latents=16, freqs=4, vae_heads=2, vae_width=32, vae_decoder_layers=1, vae_scale_factor=1.0,
    dino_hidden=32, dino_layers=1, dino_heads=2, dino_mlp_ratio=2, dino_swiglu=False, dino_image_size=56,
    processor_size=64,
)

# Hunyuan3D-2mini as published. Confirmed (a public reimplementation of the 2mini pipeline
# quoting its config.yaml, and a config fixture in another project): Hunyuan3DDiT in_channels
# 64, context_in_dim 1536, hidden 1024, mlp_ratio 4, 16 heads, depth 8, depth_single_blocks 16,
# axes_dim [64], theta 10000, qkv_bias, no guidance embedding (~0.6B, as the model zoo says);
# ShapeVAE num_latents 512, embed_dim 64, num_freqs 8, include_pi false, 16 heads, width 1024,
# 16 decoder layers, qkv_bias false, qk_norm true, scale_factor 1.0188137142395404, geo decoder
# mlp ratio 4, downsample 1, ln_post true. Conditioner: context_in_dim 1536 and the
# reimplementation's 1370x1536 DINO output (1 + 37x37 tokens) fix it as DINOv2-giant at 518 px
# (hidden 1536, 40 layers, 24 heads, SwiGLU MLP, patch 14), as in Hunyuan3D-2's own config --
# not DINOv2-large. Inferred: the image processor size 512 with border ratio 0.15, and the DINO
# config's remaining fields (copied from the DINOv2 family's published configs).
FULL = ShapeDims(
    seed=13_000, init_dtype="float16",
    hidden=1024, mlp_ratio=4.0, heads=16, depth=8, single_blocks=16, latent_channels=64,
    latents=512, freqs=8, vae_heads=16, vae_width=1024, vae_decoder_layers=16,
    vae_scale_factor=1.0188137142395404,
    dino_hidden=1536, dino_layers=40, dino_heads=24, dino_mlp_ratio=4, dino_swiglu=True, dino_image_size=518,
    processor_size=512,
)


# Hunyuan3D-2mini-turbo (hunyuan3d-dit-v2-mini-turbo, the default preset's model): the same sizes
# with guidance_embed true and ConsistencyFlowMatchEulerDiscreteScheduler(pcm_timesteps=100), as
# the public turbo configs found with code search have them (2.0-turbo's config.yaml, and a
# mini-turbo reimplementation running 5 steps with the guidance embedded). Inferred for mini:
# that its turbo config differs from 2mini's in exactly these two places, as 2.0-turbo's does.
FULL_TURBO = replace(FULL, turbo=True)


def config(size: Size) -> ShapeDims:
    return {"tiny": TINY, "full": FULL}[check_size(size)]


def hunyuan_config(dims: ShapeDims) -> dict[str, Any]:
    """config.yaml: the real file's structure with ``dims``' sizes."""
    dino = {
        "attention_probs_dropout_prob": 0.0, "drop_path_rate": 0.0, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0, "hidden_size": dims.dino_hidden, "image_size": dims.dino_image_size,
        "initializer_range": 0.02, "layer_norm_eps": 1e-6, "layerscale_value": 1.0,
        "mlp_ratio": dims.dino_mlp_ratio, "model_type": "dinov2", "num_attention_heads": dims.dino_heads,
        "num_channels": 3, "num_hidden_layers": dims.dino_layers, "patch_size": 14, "qkv_bias": True,
        "torch_dtype": "float32", "use_swiglu_ffn": dims.dino_swiglu,
    }
    return {
        "model": {
            "target": "hy3dgen.shapegen.models.Hunyuan3DDiT",
            "params": {
                "in_channels": dims.latent_channels, "context_in_dim": dims.dino_hidden,
                "hidden_size": dims.hidden, "mlp_ratio": dims.mlp_ratio, "num_heads": dims.heads,
                "depth": dims.depth, "depth_single_blocks": dims.single_blocks,
                "axes_dim": [dims.hidden // dims.heads], "theta": 10000, "qkv_bias": True,
                "guidance_embed": dims.turbo,
            },
        },
        "vae": {
            "target": "hy3dgen.shapegen.models.ShapeVAE",
            "params": {
                "num_latents": dims.latents, "embed_dim": dims.latent_channels, "num_freqs": dims.freqs,
                "include_pi": False, "heads": dims.vae_heads, "width": dims.vae_width,
                "num_decoder_layers": dims.vae_decoder_layers, "qkv_bias": False, "qk_norm": True,
                "scale_factor": dims.vae_scale_factor, "geo_decoder_mlp_expand_ratio": 4,
                "geo_decoder_downsample_ratio": 1, "geo_decoder_ln_post": True,
            },
        },
        "conditioner": {
            "target": "hy3dgen.shapegen.models.SingleImageEncoder",
            "params": {
                "main_image_encoder": {
                    "type": "DinoImageEncoder",
                    "kwargs": {"config": dino, "image_size": dims.dino_image_size, "use_cls_token": True},
                }
            },
        },
        "scheduler": {
            "target": "hy3dgen.shapegen.schedulers.ConsistencyFlowMatchEulerDiscreteScheduler",
            "params": {"num_train_timesteps": 1000, "pcm_timesteps": 100},
        } if dims.turbo else {
            "target": "hy3dgen.shapegen.schedulers.FlowMatchEulerDiscreteScheduler",
            "params": {"num_train_timesteps": 1000},
        },
        "image_processor": {
            "target": "hy3dgen.shapegen.preprocessors.ImageProcessorV2",
            "params": {"size": dims.processor_size, "border_ratio": 0.15},
        },
    }


def construct(dims: ShapeDims) -> dict[str, Any]:
    """The DiT, VAE and image encoder, in the current device context (the meta device counts them)."""
    prepare_imports()
    from hy3dgen.shapegen.pipelines import instantiate_from_config

    config_ = hunyuan_config(dims)
    return {part: instantiate_from_config(config_[part]) for part in PARTS}


def build(folder: Path, dims: ShapeDims, config_: dict[str, Any] | None = None,
          architecture: str | None = None) -> dict[str, Any]:
    """Write config.yaml and model.fp16.safetensors into ``folder``; return the manifest entry.
    ``config_``: another layout of the same parts (Hunyuan3D-2mv's, ``mv_replica``), else ``dims``' own."""
    prepare_imports()
    import torch
    import yaml
    from hy3dgen.shapegen.pipelines import instantiate_from_config
    from safetensors.torch import save_file

    config_ = config_ or hunyuan_config(dims)
    state: dict[str, torch.Tensor] = {}
    params: dict[str, int] = {}
    for offset, part in enumerate(PARTS):
        with seeded(dims.seed + offset), default_dtype(dims.init_dtype):
            module = instantiate_from_config(config_[part])
        if part == "vae":
            shape_blob(module.geo_decoder, module.geo_decoder.fourier_embedder.frequencies, dims.freqs)
        params[part] = parameters(module)
        for key, tensor in module.state_dict().items():
            # The real model.fp16.safetensors' layout: float16, one prefix per part.
            value = tensor.detach()
            state[f"{part}.{key}"] = (value.to(torch.float16) if value.is_floating_point() else value).contiguous()
        del module  # one part in memory at a time
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config_, sort_keys=False), encoding="utf-8")
    save_file(state, str(folder / "model.fp16.safetensors"), metadata={"format": "pt"})
    architecture = architecture or ("Hunyuan3D-2mini-turbo (hunyuan3d-dit-v2-mini-turbo)" if dims.turbo
                                    else "Hunyuan3D-2mini (hunyuan3d-dit-v2-mini)")
    return {"class": "Hunyuan3DDiTFlowMatchingPipeline", "architecture": architecture,
            "variant": "fp16", "dtype": "float16", "params": params,
            "note": "random weights; the VAE occupancy decoder is biased to a latent-perturbed blob "
                    "so surface extraction yields a mesh"}


# FlashVDM's distilled VAE (hunyuan3d-vae-v2-mini-turbo), as upstream's enable_flashvdm() loads it
# with ShapeVAE.from_pretrained: config.yaml {target, params}, model.fp16.safetensors with
# unprefixed keys. Its sizes are not published where this was written; FlashVDM's report describes
# a lighter occupancy decoder, and public loaders read its geo decoder's downsample and MLP ratios
# from the weights rather than assuming hy3dgen's defaults. The replica keeps the transformer's
# sizes (the DiT's latents must fit it) and slims the occupancy decoder the way hy3dgen's code
# allows (geo_decoder_downsample_ratio: CrossAttentionDecoder's latents_proj; MLP ratio 1).
# Inferred, not confirmed. Its own seed and a smaller blob, so a test can tell which VAE decoded.
FLASHVDM_GEO_DOWNSAMPLE = 2
FLASHVDM_GEO_MLP_RATIO = 1
_FLASHVDM_BLOB_LEVEL = 2.85  # sum(cos(x_i)) == 2.85: a smaller ball than the folder VAE's
_FLASHVDM_SEED_OFFSET = 10


def flashvdm_vae_config(dims: ShapeDims) -> dict[str, Any]:
    """The FlashVDM VAE's config.yaml: the DiT folder's VAE section with a slimmer geo decoder."""
    vae = hunyuan_config(dims)["vae"]
    # hy3dgen's FlashVDM key selection squeezes the heads axis: the geo decoder needs 2 heads or
    # more, so the tiny one (2 heads) keeps its width and is slimmed in its MLP only.
    downsample = FLASHVDM_GEO_DOWNSAMPLE if dims.vae_heads // FLASHVDM_GEO_DOWNSAMPLE >= 2 else 1
    return {"target": vae["target"],
            "params": {**vae["params"], "geo_decoder_downsample_ratio": downsample,
                       "geo_decoder_mlp_expand_ratio": FLASHVDM_GEO_MLP_RATIO}}


def construct_flashvdm_vae(dims: ShapeDims) -> Any:
    """The FlashVDM VAE, in the current device context (the meta device counts it)."""
    prepare_imports()
    from hy3dgen.shapegen.models import ShapeVAE

    return ShapeVAE(**flashvdm_vae_config(dims)["params"])


def build_flashvdm_vae(folder: Path, dims: ShapeDims) -> dict[str, Any]:
    """Write the FlashVDM VAE's config.yaml and model.fp16.safetensors into ``folder``."""
    prepare_imports()
    import torch
    import yaml
    from safetensors.torch import save_file

    config_ = flashvdm_vae_config(dims)
    with seeded(dims.seed + _FLASHVDM_SEED_OFFSET), default_dtype(dims.init_dtype):
        vae = construct_flashvdm_vae(dims)
    shape_blob(vae.geo_decoder, vae.geo_decoder.fourier_embedder.frequencies, dims.freqs, _FLASHVDM_BLOB_LEVEL)
    state = {key: (value.detach().to(torch.float16) if value.is_floating_point() else value.detach()).contiguous()
             for key, value in vae.state_dict().items()}
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config_, sort_keys=False), encoding="utf-8")
    save_file(state, str(folder / "model.fp16.safetensors"), metadata={"format": "pt"})
    return {"class": "ShapeVAE", "architecture": "FlashVDM VAE (hunyuan3d-vae-v2-mini-turbo)", "variant": "fp16",
            "dtype": "float16", "params": {"vae": parameters(vae)},
            "note": "random weights, unprefixed keys; a slimmer occupancy decoder biased to a smaller blob "
                    "than the DiT folder's VAE"}
