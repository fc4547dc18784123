"""The material model's replica: Marigold-IID-Appearance v1.1's folder, random weights.

``config(size)`` is the one definition of its sizes; ``build(dest, dims)`` writes, through diffusers'
own ``MarigoldIntrinsicsPipeline.save_pretrained`` (so the layout, the config files and every key
name are the library's, as the real folder's are), what ``prs-eth/marigold-iid-appearance-v1-1``
holds and ``pipeline.load_materials`` reads:

    model_index.json           MarigoldIntrinsicsPipeline: its components, prediction_type,
                               target_properties, default_denoising_steps, default_processing_resolution
    scheduler/                 scheduler_config.json (DDIMScheduler)
    text_encoder/              config.json, model[.fp16].safetensors (CLIPTextModel)
    tokenizer/                 vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json
    unet/, vae/                config.json, diffusion_pytorch_model[.fp16].safetensors

The tiny replica writes each weights file in both variants, as the real folder holds them (the
float32 original and the ``fp16`` variant that img23d fetches and reads); the full-size one only
the ``fp16`` variant (the originals would add 5 GB of random numbers).

Where each ``full`` value comes from:

* ``target_properties``, 4 steps, 768 px: https://github.com/prs-eth/Marigold (at b1dffaa,
  "Marigold-v1-1"), ``config/train_marigold_iid_appearance.yaml`` (the pipeline's kwargs the checkpoint
  was trained and saved with): targets ``albedo`` (srgb) and ``material``, a stack of [roughness,
  metallicity, null], both linear, not up to scale. Public code reading the pinned checkpoint checks
  the same: NoobName/Image-to-Editable-Scene-Renderer's Marigold adapter (``target_names ==
  ["albedo", "material"]``, ``sub_target_names == ["roughness", "metallicity", None]``) and
  jeboong/magidepth's ``backend/advanced_maps.py`` ("material RGB channels=[roughness,metallicity,
  unused]"). ``prediction_type`` "intrinsics" is the one diffusers' pipeline supports (the
  checkpoint is published for that pipeline; not read from the real file).
* The UNet: Stable Diffusion 2's (``config/model_sdv2.yaml``: ``pretrained_path: stable-diffusion-2``;
  block widths 320/640/1280/1280, two layers per block, head dims 5/10/20/20, linear projections,
  cross-attention 1024, sample size 96), its ``conv_in`` widened to 4 x (targets + 1) = 12 channels
  and ``conv_out`` to 4 x targets = 8 (``src/trainer/marigold_iid_trainer.py``,
  ``_replace_unet_conv_in_out_multimodal``).
* The VAE: Stable Diffusion 2's (128/256/512/512, two layers per block, 4 latent channels, sample 768).
* The text encoder: Stable Diffusion 2's OpenCLIP-H text tower as a ``CLIPTextModel`` (hidden 1024,
  23 layers, 16 heads, intermediate 4096, gelu, projection 512, vocabulary 49,408, 77 positions;
  bos 0, eos 2, pad 1 as its config.json has them).
* The scheduler: Stable Diffusion 2's DDIM training schedule (scaled linear betas 0.00085 to 0.012,
  1,000 steps, v-prediction, steps offset 1) with the two settings Marigold v1.1 is trained and
  run with: ``timestep_spacing`` "trailing" and ``rescale_betas_zero_snr`` true
  (``marigold/marigold_iid_pipeline.py``'s ``_check_inference_step`` recommends exactly these; the
  trainer builds its noise scheduler with them).

``tiny`` keeps every key of those configs at widths the tests load in a second, and a processing
resolution of 64 instead of 768 (its only other difference). Its tokenizer is byte-level CLIP BPE
without merges (every character a token), whose ids fit the real 49,408-row embedding table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .model import MARIGOLD_VARIANT
from ...models.replica_common import (Size, VariantDims, check_size, prepare_imports, seeded_networks, variant_dtype,
                                      variant_names)
from ...models.replica_tokenizers import clip_tokenizer

_TARGET_PROPERTIES = {
    "target_names": ["albedo", "material"],
    "albedo": {"prediction_space": "srgb"},
    "material": {"prediction_space": "stack", "sub_target_names": ["roughness", "metallicity", None]},
    "roughness": {"prediction_space": "linear", "up_to_scale": False},
    "metallicity": {"prediction_space": "linear", "up_to_scale": False},
}
_TARGETS = len(_TARGET_PROPERTIES["target_names"])
_SCHEDULER = {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
              "clip_sample": False, "set_alpha_to_one": False, "steps_offset": 1, "prediction_type": "v_prediction",
              "timestep_spacing": "trailing", "rescale_betas_zero_snr": True}
_UNET_FIXED = {"act_fn": "silu", "center_input_sample": False, "downsample_padding": 1, "flip_sin_to_cos": True,
               "freq_shift": 0, "in_channels": 4 * (_TARGETS + 1), "out_channels": 4 * _TARGETS,
               "mid_block_scale_factor": 1, "norm_eps": 1e-05, "only_cross_attention": False,
               "use_linear_projection": True, "upcast_attention": False}
_VAE_FIXED = {"act_fn": "silu", "in_channels": 3, "out_channels": 3, "latent_channels": 4,
              "down_block_types": ["DownEncoderBlock2D"] * 4, "up_block_types": ["UpDecoderBlock2D"] * 4}
_TEXT_FIXED = {"attention_dropout": 0.0, "bos_token_id": 0, "dropout": 0.0, "eos_token_id": 2, "hidden_act": "gelu",
               "initializer_factor": 1.0, "initializer_range": 0.02, "layer_norm_eps": 1e-05,
               "max_position_embeddings": 77, "pad_token_id": 1, "vocab_size": 49408}


@dataclass(frozen=True)
class MaterialsDims(VariantDims):
    steps: int                          # model_index.json's default_denoising_steps
    resolution: int                     # its default_processing_resolution
    unet: dict[str, Any]
    vae: dict[str, Any]
    text_encoder: dict[str, Any]


def config(size: Size) -> MaterialsDims:
    if check_size(size) == "full":
        return MaterialsDims(
            seed=23_000, init_dtype="float16", variants=(MARIGOLD_VARIANT,), steps=4, resolution=768,
            unet={**_UNET_FIXED, "attention_head_dim": [5, 10, 20, 20], "block_out_channels": [320, 640, 1280, 1280],
                  "cross_attention_dim": 1024, "layers_per_block": 2, "norm_num_groups": 32, "sample_size": 96,
                  "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
                  "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3},
            vae={**_VAE_FIXED, "block_out_channels": [128, 256, 512, 512], "layers_per_block": 2,
                 "norm_num_groups": 32, "sample_size": 768},
            text_encoder={**_TEXT_FIXED, "hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16,
                          "num_hidden_layers": 23, "projection_dim": 512})
    return MaterialsDims(
        seed=23_000, init_dtype="float32", variants=(None, MARIGOLD_VARIANT), steps=4, resolution=64,
        unet={**_UNET_FIXED, "attention_head_dim": [2, 4], "block_out_channels": [16, 32], "cross_attention_dim": 32,
              "layers_per_block": 1, "norm_num_groups": 8, "sample_size": 8,
              "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
              "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"]},
        vae={**_VAE_FIXED, "block_out_channels": [8, 16, 16, 16], "layers_per_block": 1, "norm_num_groups": 8,
             "sample_size": 64},
        text_encoder={**_TEXT_FIXED, "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2,
                      "num_hidden_layers": 2, "projection_dim": 32})


def construct(dims: MaterialsDims) -> dict[str, Any]:
    """The networks as the loader builds them (in the current device context: the meta device counts them)."""
    prepare_imports()
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    return {"unet": UNet2DConditionModel.from_config(dims.unet), "vae": AutoencoderKL.from_config(dims.vae),
            "text_encoder": CLIPTextModel(CLIPTextConfig(**dims.text_encoder))}


def build(dest: Path, dims: MaterialsDims) -> dict[str, Any]:
    """Write the folder at ``dest`` with diffusers' own ``save_pretrained``; return the manifest entry."""
    prepare_imports()
    import torch
    from diffusers import DDIMScheduler, MarigoldIntrinsicsPipeline

    networks, counts = seeded_networks(construct, dims)
    pipeline = MarigoldIntrinsicsPipeline(
        **networks, scheduler=DDIMScheduler(**_SCHEDULER), tokenizer=clip_tokenizer(pad="!"),
        prediction_type="intrinsics", target_properties=_TARGET_PROPERTIES, default_denoising_steps=dims.steps,
        default_processing_resolution=dims.resolution)
    for variant in dims.variants:
        pipeline.to(getattr(torch, variant_dtype(variant)))
        pipeline.save_pretrained(dest, safe_serialization=True, variant=variant)
    del pipeline, networks
    return {"path": Path(dest).name, "class": "MarigoldIntrinsicsPipeline", "params": counts,
            "variants": variant_names(dims.variants), "processing_resolution": dims.resolution,
            "note": "random weights keyed as diffusers' and transformers' classes save them; exercises loading, "
                    "the pipeline's processing and the maps' shapes, not material quality"}
