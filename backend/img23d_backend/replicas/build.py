"""Tiny, offline, random-weight replicas of the production models, for tests.

This module owns the replica folders: it builds Qwen3-VL (grounding), BiRefNet (matting),
Hunyuan3D-2mini (shape) and Hunyuan3D-2 paint (delight + multiview texture) stand-ins in the
same folder layouts as the real weights, so the production loaders open them with exactly the
calls they use for the real models, without network access and in seconds on a CPU:

    root/
      manifest.json
      qwen3-vl/                          save_pretrained of model + processor
      birefnet/                          config.json (auto_map), model.safetensors, remote code
      hunyuan3d/hunyuan3d-dit-v2-mini/   config.yaml + model.fp16.safetensors
      hunyuan3d-paint/                   hunyuan3d-delight-v2-0/ + hunyuan3d-paint-v2-0/
                                         (diffusers folders; built by ``hunyuan_paint``)

The weights are random (fixed seeds, so a build is byte-for-byte repeatable) except where a
test needs behaviour:

* Qwen3-VL is wired so greedy decoding always answers ``TINY_GROUNDING_ANSWER`` then
  ``<|im_end|>``, whatever the image and prompt. It exercises generate/decode/parse, not
  detection quality.
* The Hunyuan3D VAE's occupancy decoder is biased towards a closed blob (a level set of
  ``sum(cos(xyz))``) that the latents only perturb, so surface extraction yields a mesh.

``python -m img23d_backend.replicas [--out DIR] [--force]`` builds a folder and prints it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from ..models.registry import TINY_FORMAT, default_tiny_root
from ..torch_env import prepare_torchvision
from .seed import seeded


# The fixed answer the tiny grounding model emits (Qwen3-VL style 0..1000 relative boxes).
# Deliberately messy (code fence, trailing prose) so the production parser is exercised.
TINY_GROUNDING_ANSWER: str = (
    "```json\n"
    "[\n"
    '  {"bbox_2d": [185, 105, 880, 860], "label": "house"},\n'
    '  {"bbox_2d": [600, 80, 745, 580], "label": "chimney"},\n'
    '  {"bbox_2d": [365, 600, 460, 840], "label": "door"},\n'
    '  {"bbox_2d": [108, 685, 205, 845], "label": "tree"},\n'
    '  {"bbox_2d": [840, 718, 912, 820], "label": "tree"},\n'
    '  {"bbox_2d": [720, 840, 775, 885], "label": "barrel"},\n'
    '  {"bbox_2d": [812, 822, 862, 865], "label": "barrel"},\n'
    '  {"bbox_2d": [205, 740, 255, 780], "label": "barrel"},\n'
    '  {"bbox_2d": [168, 815, 238, 873], "label": "rock"},\n'
    '  {"bbox_2d": [740, 785, 878, 855], "label": "rock"},\n'
    '  {"bbox_2d": [228, 835, 440, 945], "label": "stairs"}\n'
    "]\n"
    "```\n"
    "These are the objects I found in the image."
)

QWEN_DIR = "qwen3-vl"
BIREFNET_DIR = "birefnet"
HUNYUAN_DIR = "hunyuan3d"
HUNYUAN_SUBFOLDER = "hunyuan3d-dit-v2-mini"
PAINT_DIR = "hunyuan3d-paint"

# Image-processor pixel budget. Qwen2-VL/Qwen3-VL processors read size["longest_edge"] as the
# maximum *pixel count* and size["shortest_edge"] as the minimum, then snap each side to a
# multiple of patch_size * merge_size (32). 256*256 keeps a 1024x1024 photo at 256x256 pixels,
# i.e. 16x16 patches -> 64 image tokens.
QWEN_MAX_PIXELS = 256 * 256
QWEN_MIN_PIXELS = 32 * 32

_SEED_QWEN = 1234
_SEED_BIREFNET = 2345
_SEED_HUNYUAN = 3456

# Token names of the Qwen chat/vision protocol, in the real vocabulary's order.
_QWEN_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

# Own minimal Qwen chat template: "<|im_start|>{role}\n{content}<|im_end|>\n" per message,
# images/videos as the vision placeholder triple, "<|im_start|>assistant\n" as generation prompt.
_QWEN_CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}"
    "{{- message['content'] -}}"
    "{%- else -%}"
    "{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'image' -%}"
    "{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}"
    "{%- elif item['type'] == 'video' -%}"
    "{{- '<|vision_start|><|video_pad|><|vision_end|>' -}}"
    "{%- elif item['type'] == 'text' -%}"
    "{{- item['text'] -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- endif -%}"
)

# The generation prompt ends with this token; its successor starts the fixed answer.
_ANSWER_TRIGGER = "\n"


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def build_tiny_models(root: Path) -> Path:
    """Build all replicas into ``root`` (replacing it), atomically; returns ``root``.

    The build goes to a temporary sibling folder that is renamed into place only when
    complete, so readers never see a half-built folder.
    """
    root = Path(root).expanduser().absolute()
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.building-", dir=root.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would otherwise become the cache folder's mode
    try:
        models = {
            "qwen3-vl": _build_qwen3_vl(staging / QWEN_DIR),
            "birefnet": _build_birefnet(staging / BIREFNET_DIR),
            "hunyuan3d": _build_hunyuan3d(staging / HUNYUAN_DIR),
            "hunyuan3d-paint": _build_hunyuan_paint(staging / PAINT_DIR),
        }
        _write_json(staging / "manifest.json", _manifest(models))
        _swap_into_place(staging, root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


def ensure_tiny_models(root: Path | None = None) -> Path:
    """Return the replica folder, building it first only if its manifest.json is missing."""
    root = default_tiny_root() if root is None else Path(root).expanduser()
    if not (root / "manifest.json").is_file():
        build_tiny_models(root)
    return root


# --------------------------------------------------------------------------------------------
# Folder handling
# --------------------------------------------------------------------------------------------


def _swap_into_place(staging: Path, root: Path) -> None:
    """Rename the finished build onto ``root``, moving any previous folder out of the way."""
    old: Path | None = None
    if root.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{root.name}.old-", dir=root.parent))
        os.replace(root, old / root.name)
    try:
        os.replace(staging, root)
    except OSError:
        if (root / "manifest.json").is_file():
            return  # a concurrent builder won the race; same seeds, so keep its folder
        if old is not None and not root.exists():
            os.replace(old / root.name, root)  # put the previous build back
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _manifest(models: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "format": TINY_FORMAT,
        "transformers": metadata.version("transformers"),
        "hy3dgen": metadata.version("hy3dgen"),
        "models": models,
    }


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _prepare_imports() -> None:
    # torchvision's compiled ops are broken on some installs; hy3dgen and the Qwen image
    # processor import torchvision, so stub it before either is imported.
    prepare_torchvision()


# --------------------------------------------------------------------------------------------
# Qwen3-VL grounding replica
# --------------------------------------------------------------------------------------------


def _answer_pieces() -> list[str]:
    """The fixed answer split into lines; each becomes one added token used exactly once."""
    pieces = TINY_GROUNDING_ANSWER.splitlines(keepends=True)
    if len(set(pieces)) != len(pieces):
        raise ValueError("answer pieces must be unique so every token has a single successor")
    return pieces


def _build_qwen_tokenizer() -> Any:
    """A byte-level Qwen2 tokenizer: 256 byte tokens, no merges, the Qwen special tokens."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from transformers import Qwen2TokenizerFast
    from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode

    byte_chars = bytes_to_unicode()
    vocab = {byte_chars[b]: b for b in range(256)}  # id == byte value
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in _QWEN_SPECIAL_TOKENS]
    )
    # Non-special so that skip_special_tokens=True keeps them in the decoded answer.
    backend.add_tokens([AddedToken(p, special=False, normalized=False) for p in _answer_pieces()])
    return Qwen2TokenizerFast(
        tokenizer_object=backend,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        model_max_length=262144,
        chat_template=_QWEN_CHAT_TEMPLATE,
    )


def _build_qwen_processor(tokenizer: Any) -> Any:
    from transformers import Qwen2VLImageProcessorFast, Qwen3VLProcessor
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

    pixels = {"shortest_edge": QWEN_MIN_PIXELS, "longest_edge": QWEN_MAX_PIXELS}
    # Patch/merge sizes and normalisation as in the real Qwen3-VL preprocessor config.
    common = dict(patch_size=16, temporal_patch_size=2, merge_size=2,
                  image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])
    image_processor = Qwen2VLImageProcessorFast(size=dict(pixels), **common)
    video_processor = Qwen3VLVideoProcessor(size=dict(pixels), **common)
    return Qwen3VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=_QWEN_CHAT_TEMPLATE,
    )


def _qwen_config(tokenizer: Any) -> tuple[Any, Any]:
    """The tiny Qwen3VLConfig and its GenerationConfig, with ids from ``tokenizer``."""
    from transformers import GenerationConfig, Qwen3VLConfig

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in _QWEN_SPECIAL_TOKENS}
    vocab_size = 64 * math.ceil(len(tokenizer) / 64)
    head_dim = 16
    text = dict(
        vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=head_dim,
        max_position_embeddings=8192, rope_theta=5_000_000.0,
        # mrope sections (temporal, height, width) must sum to head_dim / 2.
        rope_scaling={"rope_type": "default", "mrope_section": [2, 3, 3], "mrope_interleaved": True},
        tie_word_embeddings=False,
        bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
    )
    vision = dict(
        depth=2, hidden_size=32, intermediate_size=64, num_heads=2, patch_size=16,
        spatial_merge_size=2, temporal_patch_size=2,
        out_hidden_size=text["hidden_size"],  # merger output feeds the text model directly
        num_position_embeddings=64,  # an 8x8 grid (must be a perfect square)
        deepstack_visual_indexes=[0, 1],  # below depth
    )
    config = Qwen3VLConfig(
        text_config=text, vision_config=vision,
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )
    generation = GenerationConfig(
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
        pad_token_id=ids["<|endoftext|>"],
    )
    return config, generation


def _answer_chain(tokenizer: Any) -> list[int]:
    """Token ids: trigger, answer pieces in order, then <|im_end|>."""
    trigger = tokenizer.encode(_ANSWER_TRIGGER, add_special_tokens=False)
    if len(trigger) != 1:
        raise ValueError(f"the generation-prompt trigger must be one token, got {trigger}")
    pieces = [tokenizer.convert_tokens_to_ids(p) for p in _answer_pieces()]
    return trigger + pieces + [tokenizer.convert_tokens_to_ids("<|im_end|>")]


def _wire_fixed_answer(model: Any, chain: list[int], logit_margin: float = 32.0) -> None:
    """Make greedy decoding follow ``chain``: after token chain[i] always comes chain[i+1].

    With every decoder layer's output projections zeroed the residual stream at a text
    position is just its token embedding (deepstack only adds to image positions), so the
    next-token logits depend on the current token alone. Source tokens get orthonormal
    embedding directions and each successor's lm_head row is aligned with its source, so the
    successor's logit is ``logit_margin`` while competing chain rows score ~0.
    """
    import torch

    lm = model.model.language_model
    with torch.no_grad():
        for layer in lm.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        lm.norm.weight.fill_(1.0)
        emb = lm.embed_tokens.weight
        dim = emb.shape[1]
        sources, successors = chain[:-1], chain[1:]
        basis, _ = torch.linalg.qr(torch.randn(dim, len(sources)))  # orthonormal columns
        emb_scale = float(emb.pow(2).mean().sqrt())
        for i, (src, dst) in enumerate(zip(sources, successors)):
            direction = basis[:, i]
            # After the final RMSNorm (weight 1) this row becomes sqrt(dim) * direction.
            emb[src] = direction * emb_scale * math.sqrt(dim)
            model.lm_head.weight[dst] += direction * (logit_margin / math.sqrt(dim))


def _build_qwen3_vl(dest: Path) -> dict[str, Any]:
    _prepare_imports()
    import torch
    from transformers import Qwen3VLForConditionalGeneration

    tokenizer = _build_qwen_tokenizer()
    processor = _build_qwen_processor(tokenizer)
    config, generation = _qwen_config(tokenizer)
    with seeded(_SEED_QWEN):
        model = Qwen3VLForConditionalGeneration(config)
        _wire_fixed_answer(model, _answer_chain(tokenizer))
    model.generation_config = generation
    # Real Qwen3-VL checkpoints are bfloat16; the crafted margins survive the rounding.
    model.to(torch.bfloat16)
    model.save_pretrained(dest, safe_serialization=True)
    processor.save_pretrained(dest)
    return {
        "path": QWEN_DIR,
        "class": "Qwen3VLForConditionalGeneration",
        "grounding": "fixed-answer",
        "note": "random weights wired so greedy decoding always emits answer then <|im_end|>, "
        "whatever the image and prompt; exercises generate/decode/parse, not detection",
        "answer": TINY_GROUNDING_ANSWER,
        "image_processor_size": {"shortest_edge": QWEN_MIN_PIXELS, "longest_edge": QWEN_MAX_PIXELS},
    }


# --------------------------------------------------------------------------------------------
# BiRefNet replica
# --------------------------------------------------------------------------------------------

_BIREFNET_ASSETS = ("birefnet.py", "BiRefNet_config.py")


def _build_birefnet(dest: Path) -> dict[str, Any]:
    _prepare_imports()
    from safetensors.torch import save_file

    from .birefnet_tiny.BiRefNet_config import BiRefNetConfig
    from .birefnet_tiny.birefnet import BiRefNet

    config = BiRefNetConfig(bb_pretrained=False)
    config.architectures = ["BiRefNet"]
    config.auto_map = {
        "AutoConfig": "BiRefNet_config.BiRefNetConfig",
        "AutoModelForImageSegmentation": "birefnet.BiRefNet",
    }
    with seeded(_SEED_BIREFNET):
        model = BiRefNet(config).eval()
        _center_birefnet_logits(model)
    dest.mkdir(parents=True)
    config.save_pretrained(dest)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(dest / "model.safetensors"), metadata={"format": "pt"})
    assets = Path(__file__).resolve().parent / "birefnet_tiny"
    for name in _BIREFNET_ASSETS:
        shutil.copyfile(assets / name, dest / name)
    return {"path": BIREFNET_DIR, "class": "BiRefNet", "remote_code": list(_BIREFNET_ASSETS)}


def _center_birefnet_logits(model: Any) -> None:
    """Shift the final head's bias so a typical input gives both fore- and background.

    Random convs give logits of one sign over most of the image; an all-background mask
    would make downstream cut-outs empty. The shift is the median logit on a fixed
    mid-grey-with-noise probe, so the probe splits roughly half/half.
    """
    import torch

    probe = 0.5 * torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        logits = model(probe)[-1]
        model.fine_head.bias -= logits.median()


# --------------------------------------------------------------------------------------------
# Hunyuan3D-2mini shape replica
# --------------------------------------------------------------------------------------------

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


def _build_hunyuan3d(dest: Path) -> dict[str, Any]:
    _prepare_imports()
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
        "path": HUNYUAN_DIR,
        "subfolder": HUNYUAN_SUBFOLDER,
        "variant": "fp16",
        "pipeline": "Hunyuan3DDiTFlowMatchingPipeline",
        "note": "random weights; the VAE occupancy is a latent-perturbed blob so meshes appear",
    }


# --------------------------------------------------------------------------------------------
# Hunyuan3D-2 paint replica
# --------------------------------------------------------------------------------------------


def _build_hunyuan_paint(dest: Path) -> dict[str, Any]:
    _prepare_imports()
    from .hunyuan_paint import build_hunyuan_paint

    return build_hunyuan_paint(dest)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m img23d_backend.replicas", description="Build the tiny offline model replicas.")
    parser.add_argument("--out", type=Path, default=None,
                        help="target folder (default: $IMG23D_TINY_MODELS or the user cache)")
    parser.add_argument("--force", action="store_true", help="rebuild even if already built")
    args = parser.parse_args(argv)
    root = args.out if args.out is not None else default_tiny_root()
    root = build_tiny_models(root) if args.force else ensure_tiny_models(root)
    print(Path(root).absolute())
    return 0
