"""The Step1X-3D texture replica: SDXL base 1.0, the fp16-fix VAE and the multiview adapter, in the
three repositories' layouts, random weights.

The family's own builder (it was ``replicas/step1x_texture.py``); ``replicas/build.py`` (the tiny
set) and ``replicas/full.py`` (the full-size one) call it.

``config(size)`` is the one definition of the sizes: ``full`` is the published models' configs
(SDXL base 1.0's ``unet/config.json``, ``text_encoder*/config.json`` and
``scheduler/scheduler_config.json``, the fp16-fix VAE's ``config.json``, as public copies of them
read; the adapter's shapes follow from upstream's code), ``tiny`` the same config keys at widths
the tests load in a second. ``build(root, dims)`` writes:

    root/stable-diffusion-xl-base-1.0/   scheduler/, unet/ (config.json and
                                         diffusion_pytorch_model[.fp16].safetensors), text_encoder/
                                         and text_encoder_2/ (config.json, model[.fp16].safetensors),
                                         tokenizer/ and tokenizer_2/ (vocab.json, merges.txt,
                                         tokenizer_config.json, special_tokens_map.json; the second
                                         pads with "!" as SDXL's does). Its own vae/ and its
                                         model_index.json are not written: nothing reads them.
    root/sdxl-vae-fp16-fix/              config.json (force_upcast false), diffusion_pytorch_model.safetensors
    root/Step1X-3D/Step1X-3D-Texture/step1x-3d-ig2v.safetensors
                                         the adapter as upstream's save_custom_adapter keys it: the
                                         UNet's "_mv"/"_ref" parameters and the condition encoder's
                                         "adapter." state dict, unprefixed

Key names are those of diffusers' and transformers' own classes (the real files' names, since
both were saved by them). The tiny set writes SDXL's weights in both variants as the real folder
holds them; the full set only the ``.fp16`` variant img23d reads (the float32 originals would add
~13 GB of random numbers). Both tokenizers are byte-level CLIP BPE without merges (every character
a token), whose ids fit the real 49,408-row embedding tables; end-of-text is the largest id, so the
text encoders' legacy pooling (``eos_token_id`` 2: the largest id's position) finds it, as with
the real vocabulary.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ....models.replica_common import (Size, VariantDims, check_size, default_dtype, parameters, prepare_imports,
                                       seeded, variant_dtype, variant_names, write_json)
from ....models.replica_tokenizers import clip_tokenizer
from .attention import AttentionState, install_processors
from .loader import build_condition_encoder

SDXL_FOLDER = "stable-diffusion-xl-base-1.0"
VAE_FOLDER = "sdxl-vae-fp16-fix"
STEP1X_FOLDER = "Step1X-3D"

# SDXL base 1.0's scheduler/scheduler_config.json, verbatim.
SDXL_SCHEDULER = {
    "_class_name": "EulerDiscreteScheduler", "_diffusers_version": "0.19.0.dev0", "beta_end": 0.012,
    "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": False, "interpolation_type": "linear",
    "num_train_timesteps": 1000, "prediction_type": "epsilon", "sample_max_value": 1.0, "set_alpha_to_one": False,
    "skip_prk_steps": True, "steps_offset": 1, "timestep_spacing": "leading", "trained_betas": None,
    "use_karras_sigmas": False}
# The UNet config keys SDXL's file holds beside the sizes (values as published).
_UNET_FIXED = {
    "_class_name": "UNet2DConditionModel", "_diffusers_version": "0.19.0.dev0", "act_fn": "silu",
    "addition_embed_type": "text_time", "addition_embed_type_num_heads": 64, "center_input_sample": False,
    "class_embed_type": None, "class_embeddings_concat": False, "conv_in_kernel": 3, "conv_out_kernel": 3,
    "cross_attention_norm": None, "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    "downsample_padding": 1, "dual_cross_attention": False, "encoder_hid_dim": None, "encoder_hid_dim_type": None,
    "flip_sin_to_cos": True, "freq_shift": 0, "in_channels": 4, "mid_block_only_cross_attention": None,
    "mid_block_scale_factor": 1, "mid_block_type": "UNetMidBlock2DCrossAttn", "norm_eps": 1e-05,
    "num_attention_heads": None, "num_class_embeds": None, "only_cross_attention": False, "out_channels": 4,
    "resnet_out_scale_factor": 1.0, "resnet_skip_time_act": False, "resnet_time_scale_shift": "default",
    "time_cond_proj_dim": None, "time_embedding_act_fn": None, "time_embedding_dim": None,
    "time_embedding_type": "positional", "timestep_post_act": None,
    "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"], "upcast_attention": None,
    "use_linear_projection": True}
_TEXT_FIXED = {"attention_dropout": 0.0, "bos_token_id": 0, "dropout": 0.0, "eos_token_id": 2,
               "initializer_factor": 1.0, "initializer_range": 0.02, "layer_norm_eps": 1e-05,
               "max_position_embeddings": 77, "model_type": "clip_text_model", "pad_token_id": 1}
_VAE_FIXED = {"_class_name": "AutoencoderKL", "_diffusers_version": "0.18.0.dev0", "act_fn": "silu",
              "down_block_types": ["DownEncoderBlock2D"] * 4, "force_upcast": False, "in_channels": 3,
              "latent_channels": 4, "out_channels": 3, "scaling_factor": 0.13025,
              "up_block_types": ["UpDecoderBlock2D"] * 4}


@dataclass(frozen=True)
class TextureDims(VariantDims):          # variants: SDXL's weights files (the VAE and the adapter are one file each)
    adapter_dtype: str
    unet: dict[str, Any]
    text_encoder: dict[str, Any]
    text_encoder_2: dict[str, Any]
    vae: dict[str, Any]


def config(size: Size) -> TextureDims:
    if check_size(size) == "full":
        return TextureDims(
            seed=21_000, init_dtype="float16", variants=("fp16",), adapter_dtype="float16",
            unet={**_UNET_FIXED, "addition_time_embed_dim": 256, "attention_head_dim": [5, 10, 20],
                  "block_out_channels": [320, 640, 1280], "cross_attention_dim": 2048, "layers_per_block": 2,
                  "norm_num_groups": 32, "projection_class_embeddings_input_dim": 2816, "sample_size": 128,
                  "transformer_layers_per_block": [1, 2, 10]},
            text_encoder={**_TEXT_FIXED, "architectures": ["CLIPTextModel"], "hidden_act": "quick_gelu",
                          "hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12,
                          "num_hidden_layers": 12, "projection_dim": 768, "vocab_size": 49408},
            text_encoder_2={**_TEXT_FIXED, "architectures": ["CLIPTextModelWithProjection"], "hidden_act": "gelu",
                            "hidden_size": 1280, "intermediate_size": 5120, "num_attention_heads": 20,
                            "num_hidden_layers": 32, "projection_dim": 1280, "vocab_size": 49408},
            vae={**_VAE_FIXED, "block_out_channels": [128, 256, 512, 512], "layers_per_block": 2,
                 "norm_num_groups": 32, "sample_size": 512})
    return TextureDims(
        seed=21_000, init_dtype="float32", variants=(None, "fp16"), adapter_dtype="float32",
        unet={**_UNET_FIXED, "addition_time_embed_dim": 8, "attention_head_dim": [2, 2, 4],
              "block_out_channels": [32, 64, 64], "cross_attention_dim": 64, "layers_per_block": 1,
              "norm_num_groups": 8, "projection_class_embeddings_input_dim": 8 * 6 + 32, "sample_size": 8,
              "transformer_layers_per_block": [1, 1, 1]},
        text_encoder={**_TEXT_FIXED, "architectures": ["CLIPTextModel"], "hidden_act": "quick_gelu", "hidden_size": 32,
                      "intermediate_size": 64, "num_attention_heads": 2, "num_hidden_layers": 2,
                      "projection_dim": 32, "vocab_size": 49408},
        text_encoder_2={**_TEXT_FIXED, "architectures": ["CLIPTextModelWithProjection"], "hidden_act": "gelu",
                        "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2,
                        "num_hidden_layers": 2, "projection_dim": 32, "vocab_size": 49408},
        vae={**_VAE_FIXED, "block_out_channels": [8, 16, 16, 16], "layers_per_block": 1, "norm_num_groups": 8,
             "sample_size": 64})


def _text_config(fields: dict[str, Any]) -> Any:
    from transformers import CLIPTextConfig

    return CLIPTextConfig(**{k: v for k, v in fields.items() if k != "architectures"})


def construct(dims: TextureDims) -> dict[str, Any]:
    """The parts as the loader builds them (in the current device context: the meta device counts them)."""
    prepare_imports()
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    unet = UNet2DConditionModel.from_config(dims.unet)
    install_processors(unet, AttentionState())
    return {"unet": unet, "condition_encoder": build_condition_encoder(unet.config),
            "vae": AutoencoderKL.from_config(dims.vae),
            "text_encoder": CLIPTextModel(_text_config(dims.text_encoder)),
            "text_encoder_2": CLIPTextModelWithProjection(_text_config(dims.text_encoder_2))}


def _save(state: dict[str, Any], path: Path, dtype: str) -> None:
    import torch
    from safetensors.torch import save_file

    cast = getattr(torch, dtype)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: (v.detach().to(cast) if v.is_floating_point() else v).contiguous() for k, v in state.items()},
              str(path), metadata={"format": "pt"})


def _variant_name(stem: str, variant: str | None) -> str:
    return f"{stem}.{variant}.safetensors" if variant else f"{stem}.safetensors"


def build(root: Path, dims: TextureDims) -> dict[str, Any]:
    """Write the three folders under ``root``; return the manifest entry."""
    prepare_imports()
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    root = Path(root)
    sdxl, vae_folder = root / SDXL_FOLDER, root / VAE_FOLDER
    adapter_path = root / STEP1X_FOLDER / "Step1X-3D-Texture" / "step1x-3d-ig2v.safetensors"
    counts: dict[str, int] = {}
    for part in ("unet", "scheduler", "text_encoder", "text_encoder_2"):
        (sdxl / part).mkdir(parents=True, exist_ok=True)
    vae_folder.mkdir(parents=True, exist_ok=True)
    write_json(sdxl / "scheduler" / "scheduler_config.json", SDXL_SCHEDULER)
    write_json(sdxl / "unet" / "config.json", dims.unet)
    write_json(vae_folder / "config.json", dims.vae)
    with default_dtype(dims.init_dtype):
        with seeded(dims.seed):
            unet = UNet2DConditionModel.from_config(dims.unet)
        base = unet.state_dict()
        counts["unet"] = parameters(unet)
        for variant in dims.variants:
            _save(base, sdxl / "unet" / _variant_name("diffusion_pytorch_model", variant), variant_dtype(variant))
        del base
        with seeded(dims.seed + 1):
            install_processors(unet, AttentionState())
            encoder = build_condition_encoder(unet.config)
        # Upstream's save: the UNet's "_mv"/"_ref" keys and the condition encoder's state dict.
        adapter = {k: v for k, v in unet.state_dict().items() if "_mv" in k or "_ref" in k}
        adapter.update(encoder.state_dict())
        counts["adapter"] = sum(v.numel() for v in adapter.values())
        _save(adapter, adapter_path, dims.adapter_dtype)
        del unet, encoder, adapter
        gc.collect()
        for offset, (part, cls, fields) in enumerate((("text_encoder", CLIPTextModel, dims.text_encoder),
                                                      ("text_encoder_2", CLIPTextModelWithProjection,
                                                       dims.text_encoder_2)), start=2):
            with seeded(dims.seed + offset):
                model = cls(_text_config(fields))
            counts[part] = parameters(model)
            write_json(sdxl / part / "config.json", fields)
            for variant in dims.variants:
                _save(model.state_dict(), sdxl / part / _variant_name("model", variant), variant_dtype(variant))
            del model
        with seeded(dims.seed + 4):
            vae = AutoencoderKL.from_config(dims.vae)
        counts["vae"] = parameters(vae)
        _save(vae.state_dict(), vae_folder / "diffusion_pytorch_model.safetensors", dims.init_dtype)
        del vae
    clip_tokenizer().save_pretrained(sdxl / "tokenizer")
    clip_tokenizer(pad="!").save_pretrained(sdxl / "tokenizer_2")
    return {"folders": [SDXL_FOLDER, VAE_FOLDER, f"{STEP1X_FOLDER}/Step1X-3D-Texture"], "parameters": counts,
            "variants": variant_names(dims.variants),
            "note": "random weights keyed as diffusers' and transformers' classes and upstream's adapter file"}
