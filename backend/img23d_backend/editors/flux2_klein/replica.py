"""The image editor's replica: FLUX.2 [klein] 4B's folder, random weights.

``config(size)`` is the one definition of its sizes; ``build(dest, dims)`` writes, through diffusers'
own ``Flux2KleinPipeline.save_pretrained`` (so the layout, the config files and every key name are
the libraries', as the real folder's are: diffusers' conversion script saves it the same way), what
``black-forest-labs/FLUX.2-klein-4B`` holds and ``parts`` reads:

    model_index.json           Flux2KleinPipeline: its components and is_distilled (true)
    scheduler/                 scheduler_config.json (FlowMatchEulerDiscreteScheduler)
    text_encoder/              config.json, generation_config.json, model.safetensors.index.json,
                               model-00001-of-00002.safetensors, model-00002-of-00002.safetensors (Qwen3ForCausalLM)
    tokenizer/                 added_tokens.json, chat_template.jinja, merges.txt, special_tokens_map.json,
                               tokenizer.json, tokenizer_config.json, vocab.json (Qwen2TokenizerFast)
    transformer/, vae/         config.json, diffusion_pytorch_model.safetensors

Every weights file is bfloat16, as the published ones are (their sizes are the parameter counts at
2 bytes each: ``model``). The text encoder is written in two shards as the real one
is: at full size by transformers' default 5 GB shard limit (which splits Qwen3-4B's 8.04 GB exactly
as published, 4.97 + 3.08 GB), the tiny one with a limit of about half its size.

Where each ``full`` value comes from:

* The transformer: diffusers' conversion script (huggingface/diffusers,
  ``scripts/convert_flux2_to_diffusers.py``, its ``klein-4b`` config: patch 1, 128 input channels,
  5 double and 20 single blocks, 24 heads of 128, joint attention 7680, timestep and guidance
  channels 256, MLP ratio 3, rope axes 32 x 4 with theta 2000, eps 1e-6, no guidance embedding).
  Two public ports that read the published ``transformer/config.json`` give the same values.
* The VAE: ``AutoencoderKLFlux2()``'s defaults, as the same script builds it (128/256/512/512, two
  layers a block, 32 latent channels, 2 x 2 patches, batch-norm statistics of 128 channels).
* The text encoder: Qwen3-4B (hidden 2560, 36 layers, 32 heads and 8 key-value heads of 128,
  intermediate 9728, vocabulary 151,936, 40,960 positions, rope theta 1e6, tied embeddings), as
  public ports of klein read its ``text_encoder/config.json`` (hidden 2560, 36 layers, 32/8 heads,
  intermediate 9728, vocabulary 151,936); the pipeline stacks its layers 9, 18 and 27, so
  3 x 2560 = 7680 is the transformer's joint attention width.
* The scheduler: FLUX.1-dev's flow-matching schedule, which the conversion script takes for FLUX.2
  (1,000 steps, shift 3, dynamic shifting between 256 and 4,096 tokens, shifts 0.5 to 1.15); the
  pipeline computes its own ``mu`` from the token count and steps.

``tiny`` keeps every key of those configs at widths the tests load in a second (the text encoder
keeps 28 layers, two wide: the pipeline reads its 27th). Its tokenizer is byte-level Qwen BPE
without merges (every byte a token) with Qwen's special tokens and a chat template that renders the
pipeline's one user message as Qwen3's does with thinking off; the full size keeps the real
151,936-row embedding table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...models.replica_common import (ReplicaDims, Size, check_size, prepare_imports, resave_in_shards,
                                      seeded_networks)
from ...models.replica_tokenizers import qwen_tokenizer

_SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>")
# Qwen3's chat template as the pipeline uses it (one user message, a generation prompt, thinking off:
# an empty think block), without its tool and reasoning branches.
_CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- if enable_thinking is defined and enable_thinking is false -%}"
    "{{- '<think>\\n\\n</think>\\n\\n' -}}"
    "{%- endif -%}"
    "{%- endif -%}"
)
_SCHEDULER = {"num_train_timesteps": 1000, "shift": 3.0, "use_dynamic_shifting": True, "base_shift": 0.5,
              "max_shift": 1.15, "base_image_seq_len": 256, "max_image_seq_len": 4096}
_TRANSFORMER_FIXED = {"patch_size": 1, "timestep_guidance_channels": 256, "mlp_ratio": 3.0, "rope_theta": 2000,
                      "eps": 1e-6, "guidance_embeds": False}
_TEXT_FIXED = {"hidden_act": "silu", "rms_norm_eps": 1e-6, "rope_theta": 1_000_000.0, "tie_word_embeddings": True,
               "attention_bias": False, "bos_token_id": 151_643, "eos_token_id": 151_645}
# The pipeline stacks the text encoder's hidden states of these layers (Flux2KleinPipeline.__call__'s
# ``text_encoder_out_layers`` default): the joint attention width is three text widths.
_TEXT_LAYERS_READ = 3


@dataclass(frozen=True)
class EditorDims(ReplicaDims):
    shard_bytes: int | None         # the text encoder's shard limit (None: transformers' default, 5 GB)
    transformer: dict[str, Any]
    vae: dict[str, Any]
    text_encoder: dict[str, Any]


def config(size: Size) -> EditorDims:
    if check_size(size) == "full":
        return EditorDims(
            seed=24_000, init_dtype="bfloat16", shard_bytes=None,
            transformer={**_TRANSFORMER_FIXED, "in_channels": 128, "num_layers": 5, "num_single_layers": 20,
                         "attention_head_dim": 128, "num_attention_heads": 24,
                         "joint_attention_dim": _TEXT_LAYERS_READ * 2560, "axes_dims_rope": [32, 32, 32, 32]},
            vae={},  # AutoencoderKLFlux2's defaults
            text_encoder={**_TEXT_FIXED, "hidden_size": 2560, "intermediate_size": 9728, "num_hidden_layers": 36,
                          "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
                          "vocab_size": 151_936, "max_position_embeddings": 40_960})
    return EditorDims(
        seed=24_000, init_dtype="float32", shard_bytes=24_000,
        transformer={**_TRANSFORMER_FIXED, "in_channels": 16, "num_layers": 1, "num_single_layers": 1,
                     "attention_head_dim": 16, "num_attention_heads": 2,
                     "joint_attention_dim": _TEXT_LAYERS_READ * 8, "axes_dims_rope": [4, 4, 4, 4]},
        vae={"block_out_channels": [8, 16, 32, 32], "layers_per_block": 1, "latent_channels": 4,
             "norm_num_groups": 4, "sample_size": 64},
        text_encoder={**_TEXT_FIXED, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 28,
                      "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 4,
                      "vocab_size": 320, "max_position_embeddings": 1024, "bos_token_id": 256,
                      "eos_token_id": 258})


def construct(dims: EditorDims) -> dict[str, Any]:
    """The networks as the loader builds them (in the current device context: the meta device counts them)."""
    prepare_imports()
    from diffusers import AutoencoderKLFlux2, Flux2Transformer2DModel
    from transformers import Qwen3Config, Qwen3ForCausalLM

    return {"transformer": Flux2Transformer2DModel.from_config(dims.transformer),
            "vae": AutoencoderKLFlux2.from_config(dims.vae),
            "text_encoder": Qwen3ForCausalLM(Qwen3Config(**dims.text_encoder))}


def build(dest: Path, dims: EditorDims) -> dict[str, Any]:
    """Write the folder at ``dest`` with diffusers' own ``save_pretrained``; return the manifest entry."""
    prepare_imports()
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, Flux2KleinPipeline

    networks, counts = seeded_networks(construct, dims)
    tokenizer = qwen_tokenizer(_SPECIAL_TOKENS, _CHAT_TEMPLATE, max_length=131_072)
    pipeline = Flux2KleinPipeline(**networks, scheduler=FlowMatchEulerDiscreteScheduler(**_SCHEDULER),
                                  tokenizer=tokenizer, is_distilled=True)
    pipeline.to(torch.bfloat16)
    pipeline.save_pretrained(dest, safe_serialization=True)
    if dims.shard_bytes is not None:  # the tiny text encoder again, in two shards as the real one is
        resave_in_shards(pipeline.text_encoder, Path(dest) / "text_encoder", "model", dims.shard_bytes)
    del pipeline, networks
    return {"path": Path(dest).name, "class": "Flux2KleinPipeline", "params": counts, "dtype": "bfloat16",
            "note": "random weights keyed as diffusers' and transformers' classes save them; exercises loading, "
                    "the pipeline's processing and the edited pictures' sizes, not editing quality"}
