"""The Hunyuan3D-2mini shape replica: ``config.yaml`` and ``model.fp16.safetensors`` as hy3dgen reads them.

The weights are random (seeded) except that the VAE's occupancy decoder is biased towards a
closed blob (a level set of ``sum(cos(xyz))``) that the latents only perturb, so surface
extraction yields a mesh.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .common import prepare_imports, seeded

HUNYUAN_SUBFOLDER = "hunyuan3d-dit-v2-mini"
_SEED_HUNYUAN = 3456

# Tiny sizes with the real config's structure. Constraints: hidden_size % num_heads == 0,
# sum(axes_dim) == hidden_size / num_heads, DiT in_channels == VAE embed_dim, DiT
# context_in_dim == DINO hidden_size, encoder image_size a multiple of 14 (DINO patch).
_DINO_HIDDEN = 32
_VAE_EMBED_DIM = 8


def _hunyuan_config() -> dict[str, Any]:
    return {
        "model": {
            "target": "hy3dgen.shapegen.models.Hunyuan3DDiT",
            "params": {
                "in_channels": _VAE_EMBED_DIM,
                "context_in_dim": _DINO_HIDDEN,
                "hidden_size": 32,
                "mlp_ratio": 2.0,
                "num_heads": 2,
                "depth": 1,
                "depth_single_blocks": 1,
                "axes_dim": [16],
                "theta": 10000,
                "qkv_bias": True,
                "guidance_embed": False,
            },
        },
        "vae": {
            "target": "hy3dgen.shapegen.models.ShapeVAE",
            "params": {
                "num_latents": 16,
                "embed_dim": _VAE_EMBED_DIM,
                "num_freqs": 4,
                "include_pi": False,
                "heads": 2,
                "width": 32,
                "num_decoder_layers": 1,
                "qkv_bias": False,
                "qk_norm": True,
                "scale_factor": 1.0,
            },
        },
        "conditioner": {
            "target": "hy3dgen.shapegen.models.SingleImageEncoder",
            "params": {
                "main_image_encoder": {
                    "type": "DinoImageEncoder",
                    "kwargs": {
                        "config": {
                            "attention_probs_dropout_prob": 0.0,
                            "drop_path_rate": 0.0,
                            "hidden_act": "gelu",
                            "hidden_dropout_prob": 0.0,
                            "hidden_size": _DINO_HIDDEN,
                            "image_size": 56,
                            "initializer_range": 0.02,
                            "layer_norm_eps": 1e-6,
                            "layerscale_value": 1.0,
                            "mlp_ratio": 2,
                            "model_type": "dinov2",
                            "num_attention_heads": 2,
                            "num_channels": 3,
                            "num_hidden_layers": 1,
                            "patch_size": 14,
                            "qkv_bias": True,
                            "torch_dtype": "float32",
                            "use_swiglu_ffn": False,
                        },
                        "image_size": 56,
                        "use_cls_token": True,
                    },
                }
            },
        },
        "scheduler": {
            "target": "hy3dgen.shapegen.schedulers.FlowMatchEulerDiscreteScheduler",
            "params": {"num_train_timesteps": 1000},
        },
        "image_processor": {
            "target": "hy3dgen.shapegen.preprocessors.ImageProcessorV2",
            "params": {"size": 64, "border_ratio": 0.15},
        },
    }


# Blob shaping for the VAE occupancy decoder (see _shape_occupancy_blob).
_BLOB_LEVEL = 2.75  # sum(cos(x_i)) == 2.75 is a rounded ball of radius ~0.7 in [-1, 1]^3
_BLOB_PERTURBATION = 0.2  # how strongly the latents dent the ball


def _shape_occupancy_blob(vae: Any, num_freqs: int) -> None:
    """Bias the random occupancy decoder towards a closed blob the latents only perturb.

    A purely random decoder gives a noisy field whose zero set is scattered, open sheets
    (or nothing for unlucky seeds). Here channel 0 of the query embedding carries
    ``s(p) = sum_i cos(p_i) - LEVEL`` and channel 1 carries ``-s(p)``; the output reads
    ``channel0 - channel1`` after the final LayerNorm, whose mean subtraction cancels in that
    difference and whose scaling is positive, so the occupancy sign is the sign of
    ``s(p)`` plus the (scaled-down) latent-dependent attention/MLP contributions.
    """
    import torch

    decoder = vae.geo_decoder
    block = decoder.cross_attn_decoder
    freqs = decoder.fourier_embedder.frequencies
    # FourierEmbedder output layout: [xyz (3), sin (3*F), cos (3*F)], index i*F + k per axis.
    cos_lowest = [3 + 3 * num_freqs + axis * num_freqs for axis in range(3)]
    with torch.no_grad():
        if float(freqs[0]) != 1.0:
            raise ValueError("blob shaping expects include_pi=False (lowest frequency 1)")
        proj = decoder.query_proj
        proj.weight[:2].zero_()
        proj.weight[0, cos_lowest] = 1.0
        proj.weight[1, cos_lowest] = -1.0
        proj.bias[0], proj.bias[1] = -_BLOB_LEVEL, _BLOB_LEVEL
        for linear in (block.attn.c_proj, block.mlp.c_proj):
            linear.weight.mul_(_BLOB_PERTURBATION)
            linear.bias.zero_()
        decoder.ln_post.weight.fill_(1.0)
        decoder.ln_post.bias.zero_()
        decoder.output_proj.weight.zero_()
        decoder.output_proj.weight[0, 0], decoder.output_proj.weight[0, 1] = 1.0, -1.0
        decoder.output_proj.bias.zero_()


def build_hunyuan3d(dest: Path) -> dict[str, Any]:
    prepare_imports()
    import torch
    import yaml
    from hy3dgen.shapegen.pipelines import instantiate_from_config
    from safetensors.torch import save_file

    config = _hunyuan_config()
    state: dict[str, torch.Tensor] = {}
    # One seed per component, so resizing one does not reshuffle the others.
    for offset, part in enumerate(("model", "vae", "conditioner")):
        with seeded(_SEED_HUNYUAN + offset):
            module = instantiate_from_config(config[part])
            if part == "vae":
                _shape_occupancy_blob(module, config["vae"]["params"]["num_freqs"])
        for key, tensor in module.state_dict().items():
            # Same layout as the real model.fp16.safetensors: fp16, prefixed per component.
            state[f"{part}.{key}"] = tensor.detach().to(torch.float16).contiguous()
    folder = dest / HUNYUAN_SUBFOLDER
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    save_file(state, str(folder / "model.fp16.safetensors"), metadata={"format": "pt"})
    return {
        "path": dest.name,
        "subfolder": HUNYUAN_SUBFOLDER,
        "variant": "fp16",
        "pipeline": "Hunyuan3DDiTFlowMatchingPipeline",
        "note": "random weights; the VAE occupancy is a latent-perturbed blob so meshes appear",
    }
