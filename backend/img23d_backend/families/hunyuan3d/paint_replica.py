"""The Hunyuan3D-2 paint replica: delight and multiview diffusers folders, random weights.

The family's own builder (it was ``replicas/hunyuan_paint.py``); ``replicas/build.py`` (the tiny
set) and ``replicas/full.py`` (the full-size one) call it.

``config(size)`` is the one definition of the sizes (``tiny`` for the tests, ``full`` SD-2.1
sized as published); ``build_delight`` and ``build_multiview`` write the two subfolders of
``tencent/Hunyuan3D-2`` that hy3dgen's texture pipeline reads:

    hunyuan3d-delight-v2-0/   StableDiffusionInstructPix2PixPipeline.save_pretrained
                              (UNet with 8 input channels, AutoencoderKL, CLIP text model and
                              tokenizer, scheduler; no safety checker)
    hunyuan3d-paint-v2-0/     model_index.json naming HunyuanPaintPipeline, unet/ with
                              config.json + the state dict of the wrapped UNet2p5DConditionModel
                              + modules.py, vae/, text_encoder/, tokenizer/, scheduler/,
                              feature_extractor/; the UNet's and the VAE's weights both as
                              diffusion_pytorch_model.bin and .safetensors, the same tensors, as
                              the real folder has them at the pinned revision
    hunyuan3d-paint-v2-0-turbo/ the same layout and key names (the turbo model is the 2.0
                              architecture with distilled weights: other seeds here), but as the
                              real folder has it at the pinned revision: the UNet's weights as
                              .safetensors and .bin, the VAE's and the text encoder's only as .bin;
                              the VAE is Stable Diffusion 2.x's pickle, float32, with diffusers'
                              legacy attention names (``save_legacy_vae``) (its image_encoder/,
                              which nothing reads, is not replicated)

Constraints from hy3dgen's UNet2p5DConditionModel, which builds parts of itself with fixed
sizes: the time embedding must be 1280 wide (its camera embedding is), cross-attention must
be 1024 wide (its learned text embeddings are [1, 77, 1024]), and it replaces conv_in with a
12-channel one (latent + normal + position latents). At the tiny size everything else is as
small as diffusers allows; the VAE keeps four blocks so its scale factor is 8, like the real
one. Both sizes use the same byte-level CLIP tokenizer (its ids fit the real 49408-row table).
"""

from __future__ import annotations

import gc
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...models.replica_common import Size, check_size, default_dtype, parameters, prepare_imports, seeded, write_json
from ...models.replica_tokenizers import CLIP_BOS, CLIP_EOS, CLIP_MAX_LENGTH, clip_tokenizer

# hy3dgen's UNet2p5DConditionModel: learned text embeddings [1, 77, 1024], camera embedding 1280.
_PAINT_CROSS_ATTENTION = 1024
_PAINT_TIME_EMBEDDING = 1280
# The turbo replica's weights come from these seeds past the 2.0 replica's: other weights, same shapes.
TURBO_SEED_OFFSET = 100

# The real snapshot ships unet/modules.py (a copy of hy3dgen's UNet2p5DConditionModel) and its
# model_index.json points diffusers at it. The replica's file re-exports the installed class.
_UNET_MODULES_PY = '''"""UNet2p5DConditionModel for the paint replica: the installed hy3dgen class."""

from hy3dgen.texgen.hunyuanpaint.unet.modules import (  # noqa: F401
    Basic2p5DTransformerBlock,
    UNet2p5DConditionModel,
)
'''


@dataclass(frozen=True)
class PaintDims:
    """The UNet, VAE and CLIP text encoder sizes of both paint models, at one replica size."""

    delight_seed: int     # text encoder seed, UNet seed + 1, VAE seed + 2
    multiview_seed: int   # text encoder seed, UNet seed + 1, its wrapper seed + 2, VAE seed + 3
    init_dtype: str       # made in this dtype (the UNet .bin is saved as float16 either way)
    # UNet2DConditionModel
    unet_channels: tuple[int, ...]
    unet_layers: int
    unet_head_dim: int | tuple[int, ...]
    unet_groups: int
    unet_sample_size: int
    unet_down: tuple[str, ...]
    unet_up: tuple[str, ...]
    unet_linear_projection: bool
    # AutoencoderKL
    vae_channels: tuple[int, ...]
    vae_layers: int
    vae_groups: int
    vae_sample_size: int
    # CLIP text encoder
    text_vocab: int | None  # None: the tokenizer's own size
    text_hidden: int
    text_intermediate: int
    text_projection: int
    text_layers: int
    text_heads: int
    text_act: str


TINY = PaintDims(
    delight_seed=4567, multiview_seed=5678, init_dtype="float32",
    unet_channels=(16, 32), unet_layers=1, unet_head_dim=4, unet_groups=8, unet_sample_size=8,
    unet_down=("CrossAttnDownBlock2D", "DownBlock2D"), unet_up=("UpBlock2D", "CrossAttnUpBlock2D"),
    unet_linear_projection=False,
    vae_channels=(8, 16, 16, 16), vae_layers=1, vae_groups=8, vae_sample_size=64,
    text_vocab=None, text_hidden=32, text_intermediate=64, text_projection=32, text_layers=1, text_heads=2,
    text_act="quick_gelu",
)

# Hunyuan3D-2 delight and paint, SD-2.1 sized. Inferred from "built on Stable Diffusion 2.1":
# UNet2DConditionModel block_out_channels (320, 640, 1280, 1280), layers_per_block 2,
# attention_head_dim (5, 10, 20, 20), linear projections, cross_attention_dim 1024 (delight:
# in_channels 8 for InstructPix2Pix); SD AutoencoderKL (128, 256, 512, 512); OpenCLIP-H text
# encoder as SD-2.1 ships it (vocab 49408, hidden 1024, 23 layers, 16 heads, intermediate 4096,
# gelu). The paint UNet is hy3dgen's UNet2p5DConditionModel around that UNet, whose 1024-wide
# learned text embeddings and 1280-wide camera embedding match SD-2.1's widths.
FULL = PaintDims(
    delight_seed=14_000, multiview_seed=15_000, init_dtype="float16",
    unet_channels=(320, 640, 1280, 1280), unet_layers=2, unet_head_dim=(5, 10, 20, 20), unet_groups=32,
    unet_sample_size=64,
    unet_down=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    unet_up=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    unet_linear_projection=True,
    vae_channels=(128, 256, 512, 512), vae_layers=2, vae_groups=32, vae_sample_size=768,
    text_vocab=49_408, text_hidden=1024, text_intermediate=4096, text_projection=512, text_layers=23,
    text_heads=16, text_act="gelu",
)


def config(size: Size) -> PaintDims:
    return {"tiny": TINY, "full": FULL}[check_size(size)]


# --------------------------------------------------------------------------------------------
# Components
# --------------------------------------------------------------------------------------------


def _text_encoder(dims: PaintDims, tokenizer: Any, seed: int) -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel

    eos = tokenizer.convert_tokens_to_ids(CLIP_EOS)
    text_config = CLIPTextConfig(
        vocab_size=dims.text_vocab or len(tokenizer), hidden_size=dims.text_hidden,
        intermediate_size=dims.text_intermediate, projection_dim=dims.text_projection,
        num_hidden_layers=dims.text_layers, num_attention_heads=dims.text_heads,
        max_position_embeddings=CLIP_MAX_LENGTH, hidden_act=dims.text_act,
        bos_token_id=tokenizer.convert_tokens_to_ids(CLIP_BOS), eos_token_id=eos, pad_token_id=eos,
    )
    with seeded(seed), default_dtype(dims.init_dtype):
        return CLIPTextModel(text_config).eval()


def _vae(dims: PaintDims, seed: int) -> Any:
    from diffusers import AutoencoderKL

    with seeded(seed), default_dtype(dims.init_dtype):
        return AutoencoderKL(
            in_channels=3, out_channels=3, latent_channels=4, layers_per_block=dims.vae_layers,
            down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
            block_out_channels=dims.vae_channels, norm_num_groups=dims.vae_groups,
            sample_size=dims.vae_sample_size,
        ).eval()


def _unet(dims: PaintDims, seed: int, **overrides: Any) -> Any:
    from diffusers import UNet2DConditionModel

    unet_config: dict[str, Any] = dict(
        sample_size=dims.unet_sample_size, in_channels=4, out_channels=4, layers_per_block=dims.unet_layers,
        block_out_channels=dims.unet_channels, norm_num_groups=dims.unet_groups,
        attention_head_dim=dims.unet_head_dim, down_block_types=dims.unet_down, up_block_types=dims.unet_up,
        use_linear_projection=dims.unet_linear_projection,
    )
    unet_config.update(overrides)
    with seeded(seed), default_dtype(dims.init_dtype):
        return UNet2DConditionModel(**unet_config).eval()


def _delight_unet(dims: PaintDims) -> Any:
    # InstructPix2Pix concatenates the noisy latent with the image latent: 8 input channels.
    return _unet(dims, dims.delight_seed + 1, in_channels=8, cross_attention_dim=dims.text_hidden)


def _paint_unet(dims: PaintDims, seed: int) -> tuple[Any, dict[str, Any]]:
    """The wrapped UNet2p5DConditionModel and the inner UNet's config (what unet/config.json holds)."""
    from hy3dgen.texgen.hunyuanpaint.unet.modules import UNet2p5DConditionModel

    inner = _unet(dims, seed + 1, cross_attention_dim=_PAINT_CROSS_ATTENTION,
                  time_embedding_dim=_PAINT_TIME_EMBEDDING)
    unet_config = {k: v for k, v in dict(inner.config).items() if not k.startswith("_")}
    with seeded(seed + 2), default_dtype(dims.init_dtype):
        # Wrapping deep-copies the UNet (the reference stream) and adds the hard-coded parts.
        wrapped = UNet2p5DConditionModel(inner).eval()
    return wrapped, unet_config


def _scheduler_config() -> dict[str, Any]:
    # Stable Diffusion's training schedule; the loaders swap in Euler ancestral built from it.
    return dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")


def construct_delight(dims: PaintDims) -> dict[str, Any]:
    """The delight model's parts, in the current device context (the meta device counts them)."""
    prepare_imports()
    return {"unet": _delight_unet(dims), "vae": _vae(dims, dims.delight_seed + 2),
            "text_encoder": _text_encoder(dims, clip_tokenizer(), dims.delight_seed)}


def construct_multiview(dims: PaintDims) -> dict[str, Any]:
    """The multiview model's parts, in the current device context (the meta device counts them)."""
    prepare_imports()
    return {"unet": _paint_unet(dims, dims.multiview_seed)[0], "vae": _vae(dims, dims.multiview_seed + 3),
            "text_encoder": _text_encoder(dims, clip_tokenizer(), dims.multiview_seed)}


# --------------------------------------------------------------------------------------------
# The two folders
# --------------------------------------------------------------------------------------------


def build_delight(dest: Path, dims: PaintDims) -> dict[str, Any]:
    """The delight folder: an InstructPix2Pix pipeline's ``save_pretrained``."""
    prepare_imports()
    from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionInstructPix2PixPipeline

    tokenizer = clip_tokenizer()
    text_encoder = _text_encoder(dims, tokenizer, dims.delight_seed)
    unet = _delight_unet(dims)
    vae = _vae(dims, dims.delight_seed + 2)
    params = {"unet": parameters(unet), "vae": parameters(vae), "text_encoder": parameters(text_encoder)}
    pipe = StableDiffusionInstructPix2PixPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
        scheduler=EulerAncestralDiscreteScheduler(**_scheduler_config()),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.save_pretrained(dest, safe_serialization=True)
    del pipe, unet, vae, text_encoder
    return {"class": "StableDiffusionInstructPix2PixPipeline", "architecture": "SD-2.1-shaped InstructPix2Pix",
            "dtype": dims.init_dtype, "params": params,
            "note": "random weights; byte-level CLIP tokenizer"}


def build_multiview(dest: Path, dims: PaintDims, turbo: bool = False) -> dict[str, Any]:
    """The paint folder in hy3dgen's HunyuanPaintPipeline layout (``turbo``: the turbo folder's)."""
    prepare_imports()
    import torch
    from diffusers import DDIMScheduler
    from diffusers import __version__ as diffusers_version
    from safetensors.torch import save_file
    from transformers import CLIPImageProcessor

    seed = dims.multiview_seed + (TURBO_SEED_OFFSET if turbo else 0)
    wrapped, unet_config = _paint_unet(dims, seed)
    params = {"unet": parameters(wrapped)}
    (dest / "unet").mkdir(parents=True)
    write_json(dest / "unet" / "config.json",
               {"_class_name": "UNet2DConditionModel", "_diffusers_version": diffusers_version, **unet_config})
    # hy3dgen reads the .bin with torch.load(weights_only=True) and load_state_dict(strict=True);
    # img23d reads the safetensors twin.
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in wrapped.state_dict().items()}
    torch.save(state, dest / "unet" / "diffusion_pytorch_model.bin")
    save_file(state, str(dest / "unet" / "diffusion_pytorch_model.safetensors"), metadata={"format": "pt"})
    del state, wrapped
    gc.collect()  # the full-size UNet is 3.5 GB: gone before the next part is made
    (dest / "unet" / "modules.py").write_text(_UNET_MODULES_PY, encoding="utf-8")

    tokenizer = clip_tokenizer()
    tokenizer.save_pretrained(dest / "tokenizer")
    text_encoder = _text_encoder(dims, tokenizer, seed)
    vae = _vae(dims, seed + 3)
    params.update(vae=parameters(vae), text_encoder=parameters(text_encoder))
    # The 2.0 folder has both formats of the VAE (and a safetensors text encoder); the turbo
    # folder only the pickles.
    text_encoder.save_pretrained(dest / "text_encoder", safe_serialization=not turbo)
    if turbo:
        save_legacy_vae(vae, dest / "vae")
    else:
        vae.save_pretrained(dest / "vae", safe_serialization=True)
        vae.save_pretrained(dest / "vae", safe_serialization=False)  # the .bin twin, as in the real folder
    del text_encoder, vae
    DDIMScheduler(**_scheduler_config()).save_pretrained(dest / "scheduler")
    CLIPImageProcessor().save_pretrained(dest / "feature_extractor")
    write_json(dest / "model_index.json", paint_model_index(diffusers_version))
    return {"class": "HunyuanPaintPipeline", "architecture": "UNet2p5DConditionModel around an SD-2.1-shaped UNet",
            "dtype": dims.init_dtype, "params": params, "turbo": turbo, "seed": seed,
            "note": "random weights; unet/diffusion_pytorch_model.{bin,safetensors} hold the wrapped model's "
                    "state dict (float16)" + ("; vae and text_encoder only as .bin" if turbo else "")}


# diffusers' names before 0.14 for the projections of an attention block built with
# ``_from_deprecated_attn_block`` (the VAE's mid-blocks), keyed by today's names.
LEGACY_ATTENTION_NAMES = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}


def legacy_vae_state(vae: Any) -> dict[str, Any]:
    """``vae``'s state dict in float32 under the names Stable Diffusion 2.x's VAE pickle uses: the
    mid-block attentions' ``to_q``/``to_k``/``to_v``/``to_out.0`` as ``query``/``key``/``value``/
    ``proj_attn`` (``group_norm`` unchanged). The inverse of diffusers' ``_fix_state_dict_keys_on_load``,
    found the way diffusers finds the blocks (their ``_from_deprecated_attn_block`` flag)."""
    import torch

    legacy_blocks = [name for name, module in vae.named_modules() if getattr(module, "_from_deprecated_attn_block", False)]
    renames: dict[str, str] = {}
    for block in legacy_blocks:
        for new, old in LEGACY_ATTENTION_NAMES.items():
            for kind in ("weight", "bias"):
                renames[f"{block}.{new}.{kind}"] = f"{block}.{old}.{kind}"
    return {renames.get(key, key): tensor.detach().to(torch.float32).contiguous()
            for key, tensor in vae.state_dict().items()}


def save_legacy_vae(vae: Any, folder: Path) -> None:
    """The turbo folder's ``vae/`` as the real one is written (sha256 1b4889b6..., the VAE of Stable
    Diffusion 2.x saved before diffusers 0.14): ``diffusion_pytorch_model.bin``, a ``torch.save`` of a
    plain state dict, float32, legacy attention names (248 tensors at full size), and a config with
    no ``scaling_factor`` (diffusers' default, 0.18215, applies)."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    vae.save_config(folder)
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config.pop("scaling_factor", None)
    write_json(config_path, config)
    torch.save(legacy_vae_state(vae), folder / "diffusion_pytorch_model.bin")


def paint_model_index(diffusers_version: str) -> dict[str, Any]:
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
