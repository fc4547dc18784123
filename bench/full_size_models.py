"""Full-size, random-weight replicas of every model the chain uses, for honest benchmarks.

``img23d_backend.replicas`` builds toy replicas that make tests fast; this module builds the same folders
with the models at their published sizes, so a ``ModelSet`` pointing at them (see
``full_size_model_set``) loads through the exact production loaders, reads multi-GB files from
disk, and runs the real architectures. Random weights change no compute, so on a GPU these give
true load time, step time and memory; only the outputs are meaningless (grounding answers
noise, so it finds nothing unless a benchmark supplies boxes).

    root/
      manifest.json                      one entry per built model (built ones are skipped)
      qwen3-vl/                          Qwen3-VL-2B-Instruct architecture, bf16 safetensors
      birefnet/                          a stand-in of BiRefNet's size (remote-code folder)
      hunyuan3d/hunyuan3d-dit-v2-mini/   Hunyuan3D-2mini: config.yaml + model.fp16.safetensors
      hunyuan3d-paint/                   Hunyuan3D-2 delight (InstructPix2Pix, SD-2.1 sized) and
                                         paint (UNet2p5DConditionModel around an SD-2.1 UNet)

    .venv/bin/python bench/full_size_models.py --out DIR [--only grounding,matting,...]
    .venv/bin/python bench/full_size_models.py --out DIR --check [--device cuda]

``--check`` loads each built model with its production loader and runs one small forward,
printing load time, forward time and memory.

Where the sizes come from (public configs found with code search; none could be downloaded):

Qwen3-VL-2B-Instruct (``Qwen3VLForConditionalGeneration``)
  Confirmed (two independent copies of the published config.json, in test fixtures of two
  inference engines): text vocab 151936, hidden 2048, 28 layers, 16 heads, 8 KV heads,
  head_dim 128, intermediate 6144, rms_norm_eps 1e-6, max_position_embeddings 262144,
  rope_theta 5e6, interleaved mrope sections [24, 20, 20], tied word embeddings; vision depth
  24, hidden 1024, 16 heads, intermediate 4096, gelu_pytorch_tanh, patch 16, temporal patch 2,
  spatial merge 2, 2304 position embeddings, out_hidden_size 2048, deepstack indexes
  [5, 11, 17]. Special-token ids of the real tokenizer (151643/151645/151652/151653/151655/
  151656) were seen too but are not used: the tokenizer here is the tiny builder's offline
  byte-level Qwen2 tokenizer (ids < 300, so prompts tokenise to more, shorter tokens than
  with the real 151k-token BPE), while the embedding table keeps the real 151936 rows.
  Inferred: the processor's pixel limits (shortest_edge 65536, longest_edge 16777216 pixels;
  video 4096 / 25165824) are the values of a sibling model of the family.

BiRefNet (matting) -- NOT its architecture
  Published: ~215-220M parameters (Swin-L backbone ~197M of them), 1024x1024 input, remote
  code. The real network cannot be fetched offline, so ``replicas/birefnet_full/birefnet.py`` is a
  stand-in of BiRefNet's size: a windowed-attention encoder with Swin-L's exact sizes run on
  the image and its half-size copy (BiRefNet's default multi-scale input), and a BiRefNet-like
  convolutional decoder: 219.9M parameters (encoder 195.2M), 0.44 GB fp16 on disk like the
  real file, 2.4 TFLOP (1.2 TMAC) per 1024x1024 image, 2.0 of them in the encoder. No
  published BiRefNet FLOP count was found; the encoder's matches Swin-L's published 34.5 GMAC
  at 224x224 scaled to 1024x1024 (plus x1.25 for the half-size pass). For a GPU sanity check,
  BiRefNet's README gives ~165 ms per 1024x1024 image on an A100 with ONNX ("~90% more" than
  PyTorch) and 5.5 GB of GPU memory for inference.

Hunyuan3D-2mini shape (hy3dgen's real classes)
  Confirmed (a public reimplementation of the 2mini pipeline quoting its config.yaml, and a
  config fixture in another project): Hunyuan3DDiT in_channels 64, context_in_dim 1536,
  hidden 1024, mlp_ratio 4, 16 heads, depth 8, depth_single_blocks 16, axes_dim [64],
  theta 10000, qkv_bias, no guidance embedding (~0.6B, as the model zoo says); ShapeVAE
  num_latents 512, embed_dim 64, num_freqs 8, include_pi false, 16 heads, width 1024,
  16 decoder layers, qkv_bias false, qk_norm true, scale_factor 1.0188137142395404,
  geo decoder mlp ratio 4, downsample 1, ln_post true.
  Conditioner: context_in_dim 1536 and the reimplementation's 1370x1536 DINO output
  (1 + 37x37 tokens) fix it as DINOv2-giant at 518 px (hidden 1536, 40 layers, 24 heads,
  SwiGLU MLP, patch 14), as in Hunyuan3D-2's own config -- not DINOv2-large. Inferred: the
  image processor size 512 with border ratio 0.15, and the DINO config's remaining fields
  (copied from the DINOv2 family's published configs).

Hunyuan3D-2 delight and paint (SD-2.1-sized diffusers folders, ``replicas.hunyuan_paint``'s layout)
  Inferred from "built on Stable Diffusion 2.1": UNet2DConditionModel block_out_channels
  (320, 640, 1280, 1280), layers_per_block 2, attention_head_dim (5, 10, 20, 20), linear
  projections, cross_attention_dim 1024 (delight: in_channels 8 for InstructPix2Pix); SD
  AutoencoderKL (128, 256, 512, 512); OpenCLIP-H text encoder as SD-2.1 ships it (vocab
  49408, hidden 1024, 23 layers, 16 heads, intermediate 4096, gelu). The paint UNet is
  hy3dgen's UNet2p5DConditionModel around that UNet, whose 1024-wide learned text
  embeddings and 1280-wide camera embedding match SD-2.1's widths. The text encoders use
  the tiny CLIP tokenizer (its ids fit in the real 49408-row table).

Builds initialise directly in the saved dtype (bf16 for Qwen, fp16 elsewhere) with fixed seeds,
so peak memory stays near one model's size (peak RSS 5.2 GB, for Qwen) and a build is
repeatable. On a 2-core CPU all five take about 3.5 minutes and 15.6 GB of disk. Two deliberate non-random touches, neither changing compute: the shape VAE's
occupancy decoder gets the tiny replica's blob bias so surface extraction yields a mesh, and the
matting head's bias is centred so masks have both foreground and background.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
for _path in (BENCH, REPO / "backend"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from img23d_backend.models.registry import (  # noqa: E402
    BIREFNET_REVISION,
    DELIGHT,
    DELIGHT_SUBFOLDER,
    GROUNDING,
    MATTING,
    PAINT,
    PAINT_SUBFOLDER,
    SHAPE,
    ModelSet,
    ModelSpec,
)
from img23d_backend.replicas.build import BIREFNET_DIR, HUNYUAN_DIR, PAINT_DIR, QWEN_DIR  # noqa: E402
from img23d_backend.replicas.hunyuan_shape import HUNYUAN_SUBFOLDER  # noqa: E402
from img23d_backend.replicas.qwen import TINY_GROUNDING_ANSWER  # noqa: E402

FULL_FORMAT: int = 1
COMPONENTS = ("grounding", "matting", "shape", "delight", "paint")

# Where each component lives below the root.
TARGETS: dict[str, Path] = {
    "grounding": Path(QWEN_DIR),
    "matting": Path(BIREFNET_DIR),
    "shape": Path(HUNYUAN_DIR) / HUNYUAN_SUBFOLDER,
    "delight": Path(PAINT_DIR) / DELIGHT_SUBFOLDER,
    "paint": Path(PAINT_DIR) / PAINT_SUBFOLDER,
}

# Published parameter counts, for the report and the CI size check (see the module docstring).
PUBLISHED_PARAMS: dict[str, dict[str, float]] = {
    "grounding": {"total": 2.1e9},          # "2B"; 1.7B text + 0.4B vision by its config
    "matting": {"total": 2.2e8},            # BiRefNet, Swin-L: 215M-220M
    "shape": {"model": 6.0e8, "conditioner": 1.1e9},  # "0.6B" DiT; DINOv2-giant 1.1B
    "delight": {"unet": 8.66e8, "vae": 8.37e7},       # SD-2.x UNet 865.9M, SD VAE 83.7M
    "paint": {"unet": 1.73e9, "vae": 8.37e7},         # two SD-2.x UNets + extra attention
}

_SEEDS = {"grounding": 11_000, "matting": 12_000, "shape": 13_000, "delight": 14_000, "paint": 15_000}
_BIREFNET_ASSETS = ("birefnet.py", "BiRefNet_config.py")
_ASSETS = REPO / "backend" / "img23d_backend" / "replicas" / "birefnet_full"

# Qwen3-VL processor pixel limits (see the docstring: values of the family's preprocessor).
_QWEN_IMAGE_PIXELS = {"shortest_edge": 65_536, "longest_edge": 16_777_216}
_QWEN_VIDEO_PIXELS = {"shortest_edge": 4_096, "longest_edge": 25_165_824}
_QWEN_VOCAB = 151_936


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def full_size_model_set(root: Path) -> ModelSet:
    """The full-size replicas under ``root``, mirroring ``tiny_model_set``.

    Size estimates and options are the real models' (from the registry), including the paint
    view size of 512 the multiview model was trained at.
    """
    root = Path(root)
    return ModelSet(
        name="full-size",
        grounding=ModelSpec(role="grounding", repo_id="full-size/qwen3-vl", local_path=root / QWEN_DIR,
                            size_bytes=GROUNDING["2b"].size_bytes,
                            # Random weights cannot answer: generation runs for real (the compute
                            # is measured, 256 tokens like a real answer) and the tiny replica's
                            # fixed answer stands in for its text (see engine._JobRun.ground).
                            options={**GROUNDING["2b"].options, "max_new_tokens": 256, "min_new_tokens": 256,
                                     "fixed_answer": TINY_GROUNDING_ANSWER}),
        matting=ModelSpec(role="matting", repo_id="full-size/birefnet", local_path=root / BIREFNET_DIR,
                          revision=BIREFNET_REVISION, size_bytes=MATTING["birefnet"].size_bytes,
                          trust_remote_code=True),
        shape=ModelSpec(role="shape", repo_id="full-size/hunyuan3d", local_path=root / HUNYUAN_DIR,
                        subfolder=HUNYUAN_SUBFOLDER, size_bytes=SHAPE["2mini"].size_bytes),
        delight=ModelSpec(role="delight", repo_id="full-size/hunyuan3d-paint", local_path=root / PAINT_DIR,
                          subfolder=DELIGHT_SUBFOLDER, size_bytes=DELIGHT.size_bytes),
        paint=ModelSpec(role="paint", repo_id="full-size/hunyuan3d-paint", local_path=root / PAINT_DIR,
                        subfolder=PAINT_SUBFOLDER, size_bytes=PAINT["2.0"].size_bytes,
                        options=dict(PAINT["2.0"].options)),
    )


def build_full_size_models(root: Path, only: list[str] | None = None) -> Path:
    """Build the replicas named in ``only`` (default: all) into ``root``; returns ``root``.

    A model already recorded in ``root/manifest.json`` whose folder exists is skipped. Each
    model is built in a hidden sibling folder and renamed into place when complete, and the
    manifest is rewritten after every model, so an interrupted build loses one model at most.
    """
    names = _check_names(only)
    root = Path(root).expanduser().absolute()
    root.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(root)
    for name in names:
        target = root / TARGETS[name]
        if name in manifest["models"] and target.is_dir():
            entry = manifest["models"][name]
            print(f"{name}: already built ({_format_params(entry['params'])} parameters, "
                  f"{entry['bytes_on_disk'] / 1e9:.2f} GB on disk)", flush=True)
            continue
        print(f"{name}: building ...", flush=True)
        entry = _build_one(name, target)
        manifest["models"][name] = entry
        _write_json_atomic(root / "manifest.json", manifest)
        print(f"{name}: {_format_params(entry['params'])} parameters, "
              f"{entry['bytes_on_disk'] / 1e9:.2f} GB on disk, built in {entry['build_seconds']:.0f} s",
              flush=True)
    return root


def parameter_counts(name: str) -> dict[str, int]:
    """Parameters per part of one component, counted on the meta device (no weights made)."""
    import torch

    _prepare_imports()
    with torch.device("meta"):
        parts = _construct(name)
    return {part: sum(p.numel() for p in module.parameters()) for part, module in parts.items()}


# --------------------------------------------------------------------------------------------
# Build machinery
# --------------------------------------------------------------------------------------------


def _check_names(only: list[str] | None) -> list[str]:
    if not only:
        return list(COMPONENTS)
    unknown = [n for n in only if n not in COMPONENTS]
    if unknown:
        raise ValueError(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(COMPONENTS)}")
    return [n for n in COMPONENTS if n in only]


def _build_one(name: str, target: Path) -> dict[str, Any]:
    staging = target.parent / f".{target.name}.building"
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        with _seeded(_SEEDS[name]):
            entry = _BUILDERS[name](staging)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        gc.collect()
    entry.update(path=str(TARGETS[name]), seed=_SEEDS[name], build_seconds=round(time.perf_counter() - started, 1),
                 bytes_on_disk=_disk_bytes(target), published_params=PUBLISHED_PARAMS[name])
    return entry


def _read_manifest(root: Path) -> dict[str, Any]:
    path = root / "manifest.json"
    fresh = {"format": FULL_FORMAT, "kind": "full-size random-weight replicas", "models": {}}
    if path.is_file():
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if manifest.get("format") == FULL_FORMAT:
            fresh["models"] = manifest.get("models", {})
    fresh.update({pkg: metadata.version(pkg) for pkg in ("torch", "transformers", "diffusers", "hy3dgen")})
    return fresh


def _write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _format_params(params: dict[str, int]) -> str:
    total = sum(params.values())
    parts = ", ".join(f"{k} {v / 1e6:.1f}M" for k, v in params.items())
    return f"{total / 1e6:.1f}M ({parts})" if len(params) > 1 else f"{total / 1e6:.1f}M"


def _count(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())


def _prepare_imports() -> None:
    from img23d_backend.torch_env import prepare_torchvision

    prepare_torchvision()


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def _default_dtype(dtype: Any) -> Iterator[None]:
    """Create parameters directly in ``dtype`` (no fp32 staging copy of a multi-GB model)."""
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def _construct(name: str) -> dict[str, Any]:
    """The component's modules, in the current device/dtype context, keyed by part."""
    _prepare_imports()
    if name == "grounding":
        from transformers import Qwen3VLForConditionalGeneration

        from img23d_backend.replicas.qwen import _build_qwen_tokenizer

        config, _ = qwen_config(_build_qwen_tokenizer())
        return {"model": Qwen3VLForConditionalGeneration(config)}
    if name == "matting":
        return {"model": _birefnet_class()(birefnet_config())}
    if name == "shape":
        from hy3dgen.shapegen.pipelines import instantiate_from_config

        config = hunyuan_config()
        return {part: instantiate_from_config(config[part]) for part in ("model", "vae", "conditioner")}
    if name == "delight":
        return {"unet": _unet(in_channels=8), "vae": _vae(), "text_encoder": _clip_text_encoder()}
    if name == "paint":
        from hy3dgen.texgen.hunyuanpaint.unet.modules import UNet2p5DConditionModel

        return {"unet": UNet2p5DConditionModel(_unet(in_channels=4)), "vae": _vae(),
                "text_encoder": _clip_text_encoder()}
    raise ValueError(name)


# --------------------------------------------------------------------------------------------
# Qwen3-VL-2B-Instruct
# --------------------------------------------------------------------------------------------


def qwen_config(tokenizer: Any) -> tuple[Any, Any]:
    """Qwen3-VL-2B-Instruct's Qwen3VLConfig and a GenerationConfig, with ids from ``tokenizer``."""
    from transformers import GenerationConfig, Qwen3VLConfig

    from img23d_backend.replicas.qwen import _QWEN_SPECIAL_TOKENS

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in _QWEN_SPECIAL_TOKENS}
    if len(tokenizer) > _QWEN_VOCAB:
        raise ValueError("the tokenizer does not fit the real vocabulary size")
    text = dict(
        vocab_size=_QWEN_VOCAB, hidden_size=2048, intermediate_size=6144, num_hidden_layers=28,
        num_attention_heads=16, num_key_value_heads=8, head_dim=128, hidden_act="silu",
        rms_norm_eps=1e-6, max_position_embeddings=262_144, rope_theta=5_000_000.0,
        rope_scaling={"rope_type": "default", "mrope_section": [24, 20, 20], "mrope_interleaved": True},
        attention_bias=False, tie_word_embeddings=True, dtype="bfloat16",
        bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
    )
    vision = dict(
        depth=24, hidden_size=1024, intermediate_size=4096, num_heads=16, hidden_act="gelu_pytorch_tanh",
        in_channels=3, patch_size=16, spatial_merge_size=2, temporal_patch_size=2,
        num_position_embeddings=2304, out_hidden_size=2048, deepstack_visual_indexes=[5, 11, 17],
    )
    config = Qwen3VLConfig(
        text_config=text, vision_config=vision,
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )
    config.dtype = "bfloat16"
    generation = GenerationConfig(
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
        pad_token_id=ids["<|endoftext|>"],
    )
    return config, generation


def _qwen_processor(tokenizer: Any) -> Any:
    from transformers import Qwen2VLImageProcessorFast, Qwen3VLProcessor
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

    from img23d_backend.replicas.qwen import _QWEN_CHAT_TEMPLATE

    common = dict(patch_size=16, temporal_patch_size=2, merge_size=2,
                  image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])
    return Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessorFast(size=dict(_QWEN_IMAGE_PIXELS), **common),
        tokenizer=tokenizer,
        video_processor=Qwen3VLVideoProcessor(size=dict(_QWEN_VIDEO_PIXELS), **common),
        chat_template=_QWEN_CHAT_TEMPLATE,
    )


def _build_grounding(dest: Path) -> dict[str, Any]:
    _prepare_imports()
    import torch
    from transformers import Qwen3VLForConditionalGeneration

    from img23d_backend.replicas.qwen import _build_qwen_tokenizer

    tokenizer = _build_qwen_tokenizer()
    config, generation = qwen_config(tokenizer)
    model = Qwen3VLForConditionalGeneration._from_config(config, dtype=torch.bfloat16)
    model.generation_config = generation
    params = {"text": _count(model.model.language_model), "vision": _count(model.model.visual)}
    model.save_pretrained(dest, safe_serialization=True)
    _qwen_processor(tokenizer).save_pretrained(dest)
    del model
    return {"class": "Qwen3VLForConditionalGeneration", "architecture": "Qwen3-VL-2B-Instruct",
            "dtype": "bfloat16", "params": params,
            "note": "random weights: answers are noise; byte-level tokenizer, real-size embedding table"}


# --------------------------------------------------------------------------------------------
# BiRefNet-sized matting stand-in
# --------------------------------------------------------------------------------------------


def _birefnet_class() -> Any:
    from img23d_backend.replicas.birefnet_full.birefnet import BiRefNet

    return BiRefNet


def birefnet_config() -> Any:
    from img23d_backend.replicas.birefnet_full.BiRefNet_config import BiRefNetConfig

    config = BiRefNetConfig(bb_pretrained=False)
    config.architectures = ["BiRefNet"]
    config.auto_map = {
        "AutoConfig": "BiRefNet_config.BiRefNetConfig",
        "AutoModelForImageSegmentation": "birefnet.BiRefNet",
    }
    return config


def _center_matting_logits(model: Any) -> None:
    """Shift the final bias so a typical input gives both foreground and background."""
    import torch

    probe = 0.5 * torch.randn(1, 3, 512, 512)
    with torch.inference_mode():
        logits = model(probe)[-1]
    with torch.no_grad():
        model.fine_head.bias -= logits.median()


def _build_matting(dest: Path) -> dict[str, Any]:
    _prepare_imports()
    import torch
    from safetensors.torch import save_file

    config = birefnet_config()
    # 220M parameters: built in fp32 (0.9 GB) so the probe runs, saved as fp16 like the real file.
    model = _birefnet_class()(config).eval()
    _center_matting_logits(model)
    dest.mkdir(parents=True)
    config.save_pretrained(dest)
    state = {k: (v.to(torch.float16) if v.is_floating_point() else v).detach().contiguous()
             for k, v in model.state_dict().items()}
    save_file(state, str(dest / "model.safetensors"), metadata={"format": "pt"})
    for name in _BIREFNET_ASSETS:
        shutil.copyfile(_ASSETS / name, dest / name)
    params = {"encoder": _count(model.encoder), "decoder": _count(model) - _count(model.encoder)}
    del model, state
    return {"class": "BiRefNet (stand-in)", "architecture": "BiRefNet-sized stand-in, not BiRefNet",
            "dtype": "float16", "params": params, "remote_code": list(_BIREFNET_ASSETS),
            "note": "Swin-L-sized windowed-attention encoder (image + half-size copy) and a conv "
                    "decoder; BiRefNet's size and cost, not its architecture"}


# --------------------------------------------------------------------------------------------
# Hunyuan3D-2mini shape
# --------------------------------------------------------------------------------------------

_DINOV2_GIANT = {
    "attention_probs_dropout_prob": 0.0, "drop_path_rate": 0.0, "hidden_act": "gelu",
    "hidden_dropout_prob": 0.0, "hidden_size": 1536, "image_size": 518, "initializer_range": 0.02,
    "layer_norm_eps": 1e-6, "layerscale_value": 1.0, "mlp_ratio": 4, "model_type": "dinov2",
    "num_attention_heads": 24, "num_channels": 3, "num_hidden_layers": 40, "patch_size": 14,
    "qkv_bias": True, "torch_dtype": "float32", "use_swiglu_ffn": True,
}


def hunyuan_config() -> dict[str, Any]:
    """hunyuan3d-dit-v2-mini/config.yaml as published (see the module docstring)."""
    return {
        "model": {
            "target": "hy3dgen.shapegen.models.Hunyuan3DDiT",
            "params": {
                "in_channels": 64, "context_in_dim": 1536, "hidden_size": 1024, "mlp_ratio": 4.0,
                "num_heads": 16, "depth": 8, "depth_single_blocks": 16, "axes_dim": [64],
                "theta": 10000, "qkv_bias": True, "guidance_embed": False,
            },
        },
        "vae": {
            "target": "hy3dgen.shapegen.models.ShapeVAE",
            "params": {
                "num_latents": 512, "embed_dim": 64, "num_freqs": 8, "include_pi": False, "heads": 16,
                "width": 1024, "num_decoder_layers": 16, "qkv_bias": False, "qk_norm": True,
                "scale_factor": 1.0188137142395404, "geo_decoder_mlp_expand_ratio": 4,
                "geo_decoder_downsample_ratio": 1, "geo_decoder_ln_post": True,
            },
        },
        "conditioner": {
            "target": "hy3dgen.shapegen.models.SingleImageEncoder",
            "params": {
                "main_image_encoder": {
                    "type": "DinoImageEncoder",
                    "kwargs": {"config": dict(_DINOV2_GIANT), "image_size": 518, "use_cls_token": True},
                }
            },
        },
        "scheduler": {
            "target": "hy3dgen.shapegen.schedulers.FlowMatchEulerDiscreteScheduler",
            "params": {"num_train_timesteps": 1000},
        },
        "image_processor": {
            "target": "hy3dgen.shapegen.preprocessors.ImageProcessorV2",
            "params": {"size": 512, "border_ratio": 0.15},
        },
    }


def _build_shape(dest: Path) -> dict[str, Any]:
    _prepare_imports()
    import torch
    import yaml
    from hy3dgen.shapegen.pipelines import instantiate_from_config
    from safetensors.torch import save_file

    from img23d_backend.replicas.hunyuan_shape import _shape_occupancy_blob

    config = hunyuan_config()
    state: dict[str, torch.Tensor] = {}
    params: dict[str, int] = {}
    for offset, part in enumerate(("model", "vae", "conditioner")):
        with _seeded(_SEEDS["shape"] + offset), _default_dtype(torch.float16):
            module = instantiate_from_config(config[part])
        if part == "vae":
            _shape_occupancy_blob(module, config["vae"]["params"]["num_freqs"])
        params[part] = _count(module)
        for key, tensor in module.state_dict().items():
            # model.fp16.safetensors layout: fp16, one prefix per component.
            value = tensor.detach()
            state[f"{part}.{key}"] = (value.to(torch.float16) if value.is_floating_point() else value).contiguous()
        del module
    dest.mkdir(parents=True)
    (dest / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    save_file(state, str(dest / "model.fp16.safetensors"), metadata={"format": "pt"})
    del state
    return {"class": "Hunyuan3DDiTFlowMatchingPipeline", "architecture": "Hunyuan3D-2mini (hunyuan3d-dit-v2-mini)",
            "subfolder": HUNYUAN_SUBFOLDER, "variant": "fp16", "dtype": "float16", "params": params,
            "note": "random weights; the VAE occupancy decoder is biased to a latent-perturbed blob "
                    "(the tiny replica's shaping) so surface extraction yields a mesh"}


# --------------------------------------------------------------------------------------------
# Hunyuan3D-2 delight and paint (layout of replicas.hunyuan_paint, real sizes)
# --------------------------------------------------------------------------------------------

_CLIP_VOCAB = 49_408

_UNET_MODULES_PY = '''"""UNet2p5DConditionModel of the full-size paint replica: the installed hy3dgen class."""

from hy3dgen.texgen.hunyuanpaint.unet.modules import (  # noqa: F401
    Basic2p5DTransformerBlock,
    UNet2p5DConditionModel,
)
'''


def sd21_unet_config(in_channels: int) -> dict[str, Any]:
    """Stable Diffusion 2.1's UNet2DConditionModel configuration (``in_channels`` aside)."""
    return dict(
        sample_size=64, in_channels=in_channels, out_channels=4, layers_per_block=2,
        block_out_channels=(320, 640, 1280, 1280),
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=1024, attention_head_dim=(5, 10, 20, 20), use_linear_projection=True,
        norm_num_groups=32, act_fn="silu", flip_sin_to_cos=True, freq_shift=0,
    )


def sd_vae_config() -> dict[str, Any]:
    return dict(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(128, 256, 512, 512), norm_num_groups=32, sample_size=768,
        scaling_factor=0.18215,
    )


def _unet(in_channels: int) -> Any:
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(**sd21_unet_config(in_channels)).eval()


def _vae() -> Any:
    from diffusers import AutoencoderKL

    return AutoencoderKL(**sd_vae_config()).eval()


def _clip_text_encoder(tokenizer: Any | None = None) -> Any:
    """SD-2.1's OpenCLIP-H text encoder sizes; token ids from the tiny CLIP tokenizer."""
    from transformers import CLIPTextConfig, CLIPTextModel

    ids = {}
    if tokenizer is not None:
        ids = dict(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                   pad_token_id=tokenizer.eos_token_id)
    config = CLIPTextConfig(
        vocab_size=_CLIP_VOCAB, hidden_size=1024, intermediate_size=4096, projection_dim=512,
        num_hidden_layers=23, num_attention_heads=16, max_position_embeddings=77, hidden_act="gelu",
        layer_norm_eps=1e-5, **ids)
    return CLIPTextModel(config).eval()


def _build_delight(dest: Path) -> dict[str, Any]:
    _prepare_imports()
    import torch
    from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionInstructPix2PixPipeline

    from img23d_backend.replicas.hunyuan_paint import _clip_tokenizer, _scheduler_config

    tokenizer = _clip_tokenizer()
    seed = _SEEDS["delight"]
    with _default_dtype(torch.float16):
        with _seeded(seed):
            text_encoder = _clip_text_encoder(tokenizer)
        with _seeded(seed + 1):
            unet = _unet(in_channels=8)  # InstructPix2Pix: noisy latent + image latent
        with _seeded(seed + 2):
            vae = _vae()
    params = {"unet": _count(unet), "vae": _count(vae), "text_encoder": _count(text_encoder)}
    pipe = StableDiffusionInstructPix2PixPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
        scheduler=EulerAncestralDiscreteScheduler(**_scheduler_config()),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.save_pretrained(dest, safe_serialization=True)
    del pipe, unet, vae, text_encoder
    return {"class": "StableDiffusionInstructPix2PixPipeline", "architecture": "SD-2.1-sized InstructPix2Pix",
            "subfolder": DELIGHT_SUBFOLDER, "dtype": "float16", "params": params,
            "note": "random weights; tiny CLIP tokenizer, real-size text encoder"}


def _build_paint(dest: Path) -> dict[str, Any]:
    _prepare_imports()
    import torch
    from diffusers import DDIMScheduler
    from diffusers import __version__ as diffusers_version
    from hy3dgen.texgen.hunyuanpaint.unet.modules import UNet2p5DConditionModel
    from transformers import CLIPImageProcessor

    from img23d_backend.replicas.hunyuan_paint import _clip_tokenizer, _scheduler_config, paint_model_index

    seed = _SEEDS["paint"]
    params: dict[str, int] = {}
    (dest / "unet").mkdir(parents=True)
    with _default_dtype(torch.float16):
        with _seeded(seed + 1):
            inner = _unet(in_channels=4)
        unet_config = {k: v for k, v in dict(inner.config).items() if not k.startswith("_")}
        with _seeded(seed + 2):
            # Wrapping deep-copies the UNet (the reference stream) and adds hy3dgen's parts.
            wrapped = UNet2p5DConditionModel(inner).eval()
        del inner
    params["unet"] = _count(wrapped)
    _write_json(dest / "unet" / "config.json",
                {"_class_name": "UNet2DConditionModel", "_diffusers_version": diffusers_version, **unet_config})
    # hy3dgen reads this file with torch.load(weights_only=True) and load_state_dict(strict=True).
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in wrapped.state_dict().items()}
    torch.save(state, dest / "unet" / "diffusion_pytorch_model.bin")
    del state, wrapped
    gc.collect()
    (dest / "unet" / "modules.py").write_text(_UNET_MODULES_PY, encoding="utf-8")

    tokenizer = _clip_tokenizer()
    tokenizer.save_pretrained(dest / "tokenizer")
    with _default_dtype(torch.float16):
        with _seeded(seed):
            text_encoder = _clip_text_encoder(tokenizer)
        with _seeded(seed + 3):
            vae = _vae()
    params["vae"], params["text_encoder"] = _count(vae), _count(text_encoder)
    text_encoder.save_pretrained(dest / "text_encoder", safe_serialization=True)
    vae.save_pretrained(dest / "vae", safe_serialization=True)
    del text_encoder, vae
    DDIMScheduler(**_scheduler_config()).save_pretrained(dest / "scheduler")
    CLIPImageProcessor().save_pretrained(dest / "feature_extractor")
    _write_json(dest / "model_index.json", paint_model_index(diffusers_version))
    return {"class": "HunyuanPaintPipeline", "architecture": "UNet2p5DConditionModel around an SD-2.1 UNet",
            "subfolder": PAINT_SUBFOLDER, "dtype": "float16", "params": params,
            "note": "random weights; unet/diffusion_pytorch_model.bin is the wrapped model's state dict"}


_BUILDERS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "grounding": _build_grounding, "matting": _build_matting, "shape": _build_shape,
    "delight": _build_delight, "paint": _build_paint,
}


# --------------------------------------------------------------------------------------------
# Check: production loaders, one small forward each
# --------------------------------------------------------------------------------------------


def check_full_size_models(root: Path, device: str = "cpu", only: list[str] | None = None,
                           paint_views: int = 2) -> dict[str, dict[str, Any]]:
    """Load each built model with its production loader and run one small forward.

    Returns (and prints) load seconds, forward seconds and memory per model. Sizes: grounding
    a 256x256 image and 2 new tokens; matting one 1024x1024 crop; shape one image, 1 step,
    octree 64; delight and paint one step at 512 (paint with ``paint_views`` views).
    """
    _prepare_imports()
    import numpy as np
    import torch
    from PIL import Image

    from img23d_backend.stages._common import CancelToken
    from img23d_backend.stages.grounding import ground, load_grounding
    from img23d_backend.stages.matting import matte, matting_loader
    from img23d_backend.stages.paint_models import camera_indices, delight_loader, multiview_loader
    from img23d_backend.stages.shape import ShapeSettings, generate_shapes, shape_loader

    names = _check_names(only)
    models = full_size_model_set(root)
    dev = torch.device(device)
    rng = np.random.default_rng(0)
    picture = Image.fromarray(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8), "RGB")
    rgba = np.zeros((512, 512, 4), dtype=np.uint8)
    rgba[..., :3] = rng.integers(0, 255, (512, 512, 3), dtype=np.uint8)
    rgba[128:384, 160:352, 3] = 255  # an opaque box on transparency
    cutout = Image.fromarray(rgba, "RGBA")
    cancel = CancelToken()

    def quiet(*_: Any) -> None:
        return None

    def run_grounding(obj: Any) -> str:
        answer = ground(obj, picture, ["house"], max_new_tokens=2, max_pixels=256 * 256, cancel=cancel)
        return f"answer {answer!r}"

    def run_matting(obj: Any) -> str:
        out = matte(obj, [picture.resize((1024, 1024))], batch_size=1, cancel=cancel, progress=quiet)
        alpha = np.asarray(out[0])[..., 3]
        return f"foreground {float((alpha > 127).mean()):.2f}"

    def run_shape(obj: Any) -> str:
        settings = ShapeSettings(steps=1, octree_resolution=64, guidance_scale=5.0, batch_size=1)
        meshes = generate_shapes(obj, [cutout], [0], settings, cancel=cancel, progress=quiet)
        mesh = meshes[0]
        return "no surface" if mesh is None else f"mesh {len(mesh.vertices)} vertices, {len(mesh.faces)} faces"

    def run_delight(obj: Any) -> str:
        out = obj(cutout, size=512, steps=1, seed=0)
        return f"delit {out.size}"

    def run_paint(obj: Any) -> str:
        azimuths, elevations = [0, 90, 180, 270, 0, 180][:paint_views], [0, 0, 0, 0, 90, -90][:paint_views]
        maps = torch.rand(paint_views, 3, 512, 512)
        views = obj(picture, maps, maps.clone(), camera_indices(azimuths, elevations), size=512, steps=1, seed=0)
        return f"views {tuple(views.shape)}"

    plan = {
        "grounding": (lambda spec: load_grounding, run_grounding),
        "matting": (matting_loader, run_matting),
        "shape": (shape_loader, run_shape),
        "delight": (delight_loader, run_delight),
        "paint": (multiview_loader, run_paint),
    }
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        spec = models.spec(name)
        make_loader, run = plan[name]
        if dev.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(dev)
        started = time.perf_counter()
        loaded = make_loader(spec)(Path(spec.local_path), dev)
        load_s = time.perf_counter() - started
        params = sum(_count(m) for m in loaded.modules)
        resident = _memory(dev)
        started = time.perf_counter()
        with torch.inference_mode():
            outcome = run(loaded.obj)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        forward_s = time.perf_counter() - started
        results[name] = {"params": params, "load_s": round(load_s, 1), "forward_s": round(forward_s, 1),
                         "memory_after_load_gb": round(resident / 1e9, 2),
                         "peak_gb": round(_peak_memory(dev) / 1e9, 2), "outcome": outcome}
        print(f"{name}: {params / 1e6:.1f}M parameters, load {load_s:.1f} s, forward {forward_s:.1f} s, "
              f"memory {resident / 1e9:.2f} GB after load, peak {_peak_memory(dev) / 1e9:.2f} GB; {outcome}",
              flush=True)
        del loaded
        gc.collect()
    return results


def _memory(device: Any) -> int:
    import torch

    if device.type == "cuda":
        return torch.cuda.memory_allocated(device)
    import psutil

    return psutil.Process().memory_info().rss


def _peak_memory(device: Any) -> int:
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # process-wide peak (Linux: KiB)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="target folder (several GB per model)")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(COMPONENTS)}")
    parser.add_argument("--check", action="store_true",
                        help="after building, load each with its production loader and run one forward")
    parser.add_argument("--device", default="cpu", help="device for --check (cpu, cuda, cuda:1, mps)")
    parser.add_argument("--paint-views", type=int, default=2, help="views for the paint check (1-6)")
    args = parser.parse_args(argv)
    only = [n.strip() for n in args.only.split(",") if n.strip()] or None
    root = build_full_size_models(args.out, only)
    if args.check:
        check_full_size_models(root, args.device, only, paint_views=args.paint_views)
    print(root)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
