"""The large image editor's replica: Qwen-Image-Edit-2511's folder, random weights.

``config(size)`` is the one definition of its sizes; ``build(dest, dims)`` writes, through diffusers'
own ``QwenImageEditPlusPipeline.save_pretrained`` (so the layout, the config files and every key name
are the libraries', as the published folder's are), what ``Qwen/Qwen-Image-Edit-2511`` holds and
``parts`` reads (``model`` says where the list comes from):

    model_index.json           QwenImageEditPlusPipeline: its six components
    scheduler/                 scheduler_config.json (FlowMatchEulerDiscreteScheduler)
    text_encoder/              config.json, generation_config.json, model.safetensors.index.json,
                               model-0000{1..4}-of-00004.safetensors (Qwen2_5_VLForConditionalGeneration;
                               the legacy key names ``model.layers.*``, ``visual.*``, ``lm_head.weight``
                               that transformers' ``save_pretrained`` writes back, 729 tensors at full size)
    tokenizer/                 the slow Qwen2Tokenizer's six files (no tokenizer.json)
    processor/                 Qwen2VLProcessor: the tokenizer's files with tokenizer.json, and the image
                               and video processors' configs
    transformer/               config.json, diffusion_pytorch_model.safetensors.index.json,
                               diffusion_pytorch_model-0000{1..5}-of-00005.safetensors (QwenImageTransformer2DModel)
    vae/                       config.json, diffusion_pytorch_model.safetensors (AutoencoderKLQwenImage)

Every weights file is bfloat16, as the published ones are. At full size the libraries' default shard
limits (transformers' 5 GB, diffusers' 10 GB) split the text encoder into four shards and the
transformer into five, as published; the tiny ones are split into as many with limits found for them
(``replica_common.shard_limit``), so the loader reads the same number of shards through the same indexes.

Where each ``full`` value comes from:

* The transformer: ``QwenImageTransformer2DModel()``'s defaults (patch 2, 64 input and 16 output
  channels, 60 layers, 24 heads of 128, joint attention 3584, rope axes 16/56/56, no guidance
  embedding) with ``zero_cond_t`` on, as 2511's config sets it (a public port that reads the published
  configs names it as the only difference from 2509's).
* The VAE: ``AutoencoderKLQwenImage()``'s defaults (base 96, z 16, multipliers 1/2/4/4, two residual
  blocks, temporal downsampling off/on/on, the sixteen latent means and deviations).
* The text encoder: Qwen2.5-VL-7B-Instruct's published config (text: hidden 3584, intermediate 18,944,
  28 layers, 28 heads and 4 key-value heads, vocabulary 152,064, 128,000 positions, rope theta 1e6
  with multimodal sections 16/24/24, sliding window 32,768, untied embeddings; vision: 32 blocks of
  1280 wide, intermediate 3420, 16 heads, patch 14, temporal patch 2, merge 2, window 112, full
  attention in blocks 7/15/23/31, out 3584). Counted on the meta device these give the published
  files' sizes and tensor counts (``model``), which confirms them.
* The processor: the image processor's settings as a public project reads them from this commit's
  ``processor/preprocessor_config.json`` (checked by its sha256): resample 3, CLIP's mean and
  deviation, 3,136 to 12,845,056 pixels, patch 14, temporal patch 2, merge 2.
* The scheduler: Qwen-Image's flow-matching config (shift 1, dynamic shifting 0.5 to 0.9 between
  256 and 8,192 tokens, exponential time shift, terminal 0.02).

``tiny`` keeps every key of those configs at widths the tests load in a second. Its tokenizer is
byte-level Qwen BPE without merges (every byte a token) with the Qwen special tokens the pipeline's
prompt and the processor use; the full size keeps the real 152,064-row embedding table.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...models.replica_common import (ReplicaDims, Size, check_size, prepare_imports, resave_in_shards,
                                      seeded_networks, shard_limit)
from ...models.replica_tokenizers import qwen_tokenizer

_SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                   "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>")
# A chat template for the folder's chat_template.jinja files (the pipeline writes its own prompt and
# never applies it): one message after another, images as the vision placeholder triple.
_CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}{{- message['content'] -}}"
    "{%- else -%}{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'image' -%}{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}"
    "{%- elif item['type'] == 'text' -%}{{- item['text'] -}}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)
_SCHEDULER = {"num_train_timesteps": 1000, "shift": 1.0, "use_dynamic_shifting": True, "base_shift": 0.5,
              "max_shift": 0.9, "base_image_seq_len": 256, "max_image_seq_len": 8192,
              "time_shift_type": "exponential", "shift_terminal": 0.02}
_IMAGE_PROCESSOR = {"do_convert_rgb": True, "do_resize": True, "resample": 3, "do_rescale": True,
                    "rescale_factor": 1 / 255, "do_normalize": True, "min_pixels": 3136, "max_pixels": 12_845_056,
                    "patch_size": 14, "temporal_patch_size": 2, "merge_size": 2,
                    "image_mean": [0.48145466, 0.4578275, 0.40821073],
                    "image_std": [0.26862954, 0.26130258, 0.27577711]}
_TEXT_FIXED = {"hidden_act": "silu", "rms_norm_eps": 1e-6, "rope_theta": 1_000_000.0, "tie_word_embeddings": False,
               "use_sliding_window": False, "sliding_window": 32_768}
_VISION_FIXED = {"patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2, "window_size": 112,
                 "tokens_per_second": 2, "in_channels": 3, "hidden_act": "silu"}
# Shards of the published folder (the loader reads them through their indexes).
TEXT_SHARDS, TRANSFORMER_SHARDS = 4, 5


@dataclass(frozen=True)
class QwenEditDims(ReplicaDims):
    sharded_by_default: bool        # True: the libraries' default shard limits; False: limits found here
    transformer: dict[str, Any]
    vae: dict[str, Any]
    text: dict[str, Any]
    vision: dict[str, Any]


def config(size: Size) -> QwenEditDims:
    if check_size(size) == "full":
        return QwenEditDims(
            seed=25_000, init_dtype="bfloat16", sharded_by_default=True,
            transformer={"zero_cond_t": True},  # with QwenImageTransformer2DModel's defaults
            vae={},                             # AutoencoderKLQwenImage's defaults
            text={**_TEXT_FIXED, "vocab_size": 152_064, "hidden_size": 3584, "intermediate_size": 18_944,
                  "num_hidden_layers": 28, "num_attention_heads": 28, "num_key_value_heads": 4,
                  "max_position_embeddings": 128_000, "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]}},
            vision={**_VISION_FIXED, "depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16,
                    "out_hidden_size": 3584, "fullatt_block_indexes": [7, 15, 23, 31]})
    return QwenEditDims(
        seed=25_000, init_dtype="float32", sharded_by_default=False,
        transformer={"patch_size": 2, "in_channels": 16, "out_channels": 4, "num_layers": 1, "attention_head_dim": 16,
                     "num_attention_heads": 2, "joint_attention_dim": 16, "axes_dims_rope": [4, 6, 6],
                     "zero_cond_t": True},
        vae={"base_dim": 8, "z_dim": 4, "num_res_blocks": 1, "latents_mean": [0.1, -0.2, 0.3, 0.0],
             "latents_std": [1.5, 2.0, 1.2, 1.8]},
        text={**_TEXT_FIXED, "vocab_size": 320, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2,
              "num_attention_heads": 2, "num_key_value_heads": 1, "max_position_embeddings": 4096,
              "rope_scaling": {"type": "mrope", "mrope_section": [2, 1, 1]}},
        vision={**_VISION_FIXED, "depth": 2, "hidden_size": 16, "intermediate_size": 32, "num_heads": 2,
                "out_hidden_size": 16, "fullatt_block_indexes": [1]})


def _fast_tokenizer() -> Any:
    """The byte-level tokenizer with the special tokens the pipeline's prompt and the processor use."""
    return qwen_tokenizer(_SPECIAL_TOKENS, _CHAT_TEMPLATE, max_length=131_072)


def _text_config(dims: QwenEditDims, tokenizer: Any) -> Any:
    from transformers import Qwen2_5_VLConfig

    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in _SPECIAL_TOKENS}
    return Qwen2_5_VLConfig(text_config={**dims.text, "bos_token_id": ids["<|endoftext|>"],
                                         "eos_token_id": ids["<|im_end|>"]},
                            vision_config=dims.vision, image_token_id=ids["<|image_pad|>"],
                            video_token_id=ids["<|video_pad|>"], vision_start_token_id=ids["<|vision_start|>"],
                            vision_end_token_id=ids["<|vision_end|>"], tie_word_embeddings=False)


def construct(dims: QwenEditDims) -> dict[str, Any]:
    """The networks as the loader builds them (in the current device context: the meta device counts them)."""
    prepare_imports()
    from diffusers import AutoencoderKLQwenImage, QwenImageTransformer2DModel
    from transformers import Qwen2_5_VLForConditionalGeneration

    return {"transformer": QwenImageTransformer2DModel.from_config(dims.transformer),
            "vae": AutoencoderKLQwenImage.from_config(dims.vae),
            "text_encoder": Qwen2_5_VLForConditionalGeneration(_text_config(dims, _fast_tokenizer()))}


def build(dest: Path, dims: QwenEditDims) -> dict[str, Any]:
    """Write the folder at ``dest`` with diffusers' own ``save_pretrained``; return the manifest entry."""
    prepare_imports()
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, QwenImageEditPlusPipeline
    from transformers import Qwen2Tokenizer, Qwen2VLImageProcessor, Qwen2VLProcessor, Qwen2VLVideoProcessor

    fast = _fast_tokenizer()
    with tempfile.TemporaryDirectory() as scratch:  # the slow tokenizer the pipeline holds, from the same files
        fast.save_pretrained(scratch)
        slow = Qwen2Tokenizer.from_pretrained(scratch)
    processor = Qwen2VLProcessor(image_processor=Qwen2VLImageProcessor(**_IMAGE_PROCESSOR), tokenizer=fast,
                                 video_processor=Qwen2VLVideoProcessor(), chat_template=_CHAT_TEMPLATE)
    networks, counts = seeded_networks(construct, dims)
    pipeline = QwenImageEditPlusPipeline(**networks, scheduler=FlowMatchEulerDiscreteScheduler(**_SCHEDULER),
                                         tokenizer=slow, processor=processor)
    pipeline.to(torch.bfloat16)
    pipeline.save_pretrained(dest, safe_serialization=True)
    if not dims.sharded_by_default:  # the tiny networks again, in as many shards as the published ones
        resave_in_shards(pipeline.text_encoder, Path(dest) / "text_encoder", "model",
                         shard_limit(pipeline.text_encoder, TEXT_SHARDS))
        resave_in_shards(pipeline.transformer, Path(dest) / "transformer", "diffusion_pytorch_model",
                         shard_limit(pipeline.transformer, TRANSFORMER_SHARDS))
    del pipeline, networks
    return {"path": Path(dest).name, "class": "QwenImageEditPlusPipeline", "params": counts, "dtype": "bfloat16",
            "note": "random weights keyed as diffusers' and transformers' classes save them; exercises loading, "
                    "the pipeline's processing and the edited pictures' sizes, not editing quality"}
