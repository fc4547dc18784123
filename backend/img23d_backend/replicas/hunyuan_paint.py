"""The tiny Hunyuan3D-2 paint replica: delight and multiview diffusers folders, random weights.

``build.build_tiny_models`` calls ``build_hunyuan_paint``; this module owns the layout
below ``<root>/hunyuan3d-paint/``, which mirrors the two subfolders of ``tencent/Hunyuan3D-2``
that hy3dgen's texture pipeline reads:

    hunyuan3d-delight-v2-0/   StableDiffusionInstructPix2PixPipeline.save_pretrained
                              (UNet with 8 input channels, AutoencoderKL, CLIP text model and
                              tokenizer, scheduler; no safety checker)
    hunyuan3d-paint-v2-0/     model_index.json naming HunyuanPaintPipeline, unet/ with
                              config.json + diffusion_pytorch_model.bin (the state dict of the
                              wrapped UNet2p5DConditionModel) + modules.py, vae/, text_encoder/,
                              tokenizer/, scheduler/, feature_extractor/

Constraints from hy3dgen's UNet2p5DConditionModel, which builds parts of itself with fixed
sizes: the time embedding must be 1280 wide (its camera embedding is), cross-attention must
be 1024 wide (its learned text embeddings are [1, 77, 1024]), and it replaces conv_in with a
12-channel one (latent + normal + position latents). Everything else is as small as diffusers
allows; the VAE keeps four blocks so its scale factor is 8, like the real one.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from ..models.registry import DELIGHT_SUBFOLDER, PAINT_SUBFOLDER
from .common import prepare_imports, seeded, write_json

_SEED_DELIGHT = 4567
_SEED_MULTIVIEW = 5678

_CLIP_BOS = "<|startoftext|>"
_CLIP_EOS = "<|endoftext|>"
_CLIP_MAX_LENGTH = 77

# The real snapshot ships unet/modules.py (a copy of hy3dgen's UNet2p5DConditionModel) and its
# model_index.json points diffusers at it. The replica's file re-exports the installed class.
_UNET_MODULES_PY = '''"""UNet2p5DConditionModel for the tiny paint replica: the installed hy3dgen class."""

from hy3dgen.texgen.hunyuanpaint.unet.modules import (  # noqa: F401
    Basic2p5DTransformerBlock,
    UNet2p5DConditionModel,
)
'''


def build_hunyuan_paint(dest: Path) -> dict[str, Any]:
    """Write both paint subfolders under ``dest``; return the manifest entry."""
    prepare_imports()
    from diffusers import __version__ as diffusers_version

    _build_delight(dest / DELIGHT_SUBFOLDER)
    _build_multiview(dest / PAINT_SUBFOLDER, diffusers_version)
    return {
        "path": dest.name,
        "subfolders": [DELIGHT_SUBFOLDER, PAINT_SUBFOLDER],
        "delight": "StableDiffusionInstructPix2PixPipeline",
        "multiview": "HunyuanPaintPipeline (hy3dgen custom pipeline), unet as UNet2p5DConditionModel .bin",
        "note": "random weights: exercises loading, the denoising loops, rendering and baking, "
        "not texture quality",
    }


# --------------------------------------------------------------------------------------------
# Shared components
# --------------------------------------------------------------------------------------------


def _clip_tokenizer() -> Any:
    """A byte-level CLIP BPE tokenizer with no merges: every character is its own token.

    CLIPTokenizer only reads its vocabulary from files, so they are written to a scratch
    folder first; the caller's ``save_pretrained`` writes the copies that ship.
    """
    from transformers import CLIPTokenizer
    from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode

    chars = [bytes_to_unicode()[b] for b in range(256)]
    tokens = chars + [c + "</w>" for c in chars] + [_CLIP_BOS, _CLIP_EOS]
    with tempfile.TemporaryDirectory(prefix="tiny-clip-") as scratch:
        vocab_file, merges_file = Path(scratch) / "vocab.json", Path(scratch) / "merges.txt"
        vocab_file.write_text(json.dumps({t: i for i, t in enumerate(tokens)}, ensure_ascii=False),
                              encoding="utf-8")
        merges_file.write_text("#version: 0.2\n", encoding="utf-8")
        return CLIPTokenizer(str(vocab_file), str(merges_file), model_max_length=_CLIP_MAX_LENGTH)


def _clip_text_encoder(tokenizer: Any, seed: int) -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, projection_dim=32,
        num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=_CLIP_MAX_LENGTH,
        bos_token_id=tokenizer.convert_tokens_to_ids(_CLIP_BOS),
        eos_token_id=tokenizer.convert_tokens_to_ids(_CLIP_EOS),
        pad_token_id=tokenizer.convert_tokens_to_ids(_CLIP_EOS),
    )
    with seeded(seed):
        return CLIPTextModel(config).eval()


def _vae(seed: int) -> Any:
    from diffusers import AutoencoderKL

    with seeded(seed):
        return AutoencoderKL(
            in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1,
            down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
            block_out_channels=(8, 16, 16, 16), norm_num_groups=8, sample_size=64,
        ).eval()


def _unet(seed: int, **overrides: Any) -> Any:
    from diffusers import UNet2DConditionModel

    config: dict[str, Any] = dict(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(16, 32), norm_num_groups=8, attention_head_dim=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    )
    config.update(overrides)
    with seeded(seed):
        return UNet2DConditionModel(**config).eval()


def _scheduler_config() -> dict[str, Any]:
    # Stable Diffusion's training schedule; the loaders swap in Euler ancestral built from it.
    return dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")


# --------------------------------------------------------------------------------------------
# Delight: InstructPix2Pix
# --------------------------------------------------------------------------------------------


def _build_delight(dest: Path) -> None:
    from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionInstructPix2PixPipeline

    tokenizer = _clip_tokenizer()
    text_encoder = _clip_text_encoder(tokenizer, _SEED_DELIGHT)
    # InstructPix2Pix concatenates the noisy latent with the image latent: 8 input channels.
    unet = _unet(_SEED_DELIGHT + 1, in_channels=8, cross_attention_dim=text_encoder.config.hidden_size)
    pipe = StableDiffusionInstructPix2PixPipeline(
        vae=_vae(_SEED_DELIGHT + 2), text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
        scheduler=EulerAncestralDiscreteScheduler(**_scheduler_config()),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.save_pretrained(dest, safe_serialization=True)


# --------------------------------------------------------------------------------------------
# Multiview: hy3dgen's HunyuanPaintPipeline layout
# --------------------------------------------------------------------------------------------


def _paint_unet() -> tuple[Any, dict[str, Any]]:
    """The wrapped UNet2p5DConditionModel and the inner UNet's config (what unet/config.json holds)."""
    from hy3dgen.texgen.hunyuanpaint.unet.modules import UNet2p5DConditionModel

    inner = _unet(_SEED_MULTIVIEW + 1, cross_attention_dim=1024, time_embedding_dim=1280)
    config = {k: v for k, v in dict(inner.config).items() if not k.startswith("_")}
    with seeded(_SEED_MULTIVIEW + 2):
        # Wrapping deep-copies the UNet (the reference stream) and adds the hard-coded parts.
        wrapped = UNet2p5DConditionModel(inner).eval()
    return wrapped, config


def _build_multiview(dest: Path, diffusers_version: str) -> None:
    import torch
    from diffusers import DDIMScheduler
    from transformers import CLIPImageProcessor

    wrapped, unet_config = _paint_unet()
    (dest / "unet").mkdir(parents=True)
    write_json(dest / "unet" / "config.json",
                {"_class_name": "UNet2DConditionModel", "_diffusers_version": diffusers_version, **unet_config})
    # hy3dgen reads this file with torch.load(weights_only=True) and load_state_dict(strict=True).
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in wrapped.state_dict().items()}
    torch.save(state, dest / "unet" / "diffusion_pytorch_model.bin")
    (dest / "unet" / "modules.py").write_text(_UNET_MODULES_PY, encoding="utf-8")

    tokenizer = _clip_tokenizer()
    tokenizer.save_pretrained(dest / "tokenizer")
    _clip_text_encoder(tokenizer, _SEED_MULTIVIEW).save_pretrained(dest / "text_encoder", safe_serialization=True)
    _vae(_SEED_MULTIVIEW + 3).save_pretrained(dest / "vae", safe_serialization=True)
    DDIMScheduler(**_scheduler_config()).save_pretrained(dest / "scheduler")
    CLIPImageProcessor().save_pretrained(dest / "feature_extractor")
    write_json(dest / "model_index.json", paint_model_index(diffusers_version))


def paint_model_index(diffusers_version: str) -> dict:
    """The paint folder's model_index.json, as hy3dgen's custom pipeline expects it."""
    return {
        "_class_name": "HunyuanPaintPipeline",
        "_diffusers_version": diffusers_version,
        "feature_extractor": ["transformers", "CLIPImageProcessor"],
        "safety_checker": [None, None],
        "scheduler": ["diffusers", "DDIMScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["modules", "UNet2p5DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
    }
