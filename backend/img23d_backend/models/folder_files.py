"""The files each published folder of a shared model must hold (the material model, the image
editors): what a download fetches, what the cache's completeness check asks for and what the loaders
open. A family's folders are listed in its own rows (``families/<family>/specs.py``)."""

from __future__ import annotations

# Marigold-IID-Appearance v1.1's folder (``prs-eth/marigold-iid-appearance-v1-1``), as diffusers'
# ``save_pretrained`` lays it out, with the ``fp16`` variant of each weights file (what is fetched and
# read; ``material_model`` says where the list comes from).
MARIGOLD_VARIANT = "fp16"
MARIGOLD_TOKENIZER_FILES = ("merges.txt", "special_tokens_map.json", "tokenizer_config.json", "vocab.json")
MARIGOLD_WEIGHTS = {"text_encoder": f"model.{MARIGOLD_VARIANT}.safetensors",
                    "unet": f"diffusion_pytorch_model.{MARIGOLD_VARIANT}.safetensors",
                    "vae": f"diffusion_pytorch_model.{MARIGOLD_VARIANT}.safetensors"}
MARIGOLD_FILES = ("model_index.json", "scheduler/scheduler_config.json",
                  *(f"{part}/{name}" for part, weights in MARIGOLD_WEIGHTS.items() for name in ("config.json", weights)),
                  *(f"tokenizer/{name}" for name in MARIGOLD_TOKENIZER_FILES))

# FLUX.2 [klein] 4B's folder (``black-forest-labs/FLUX.2-klein-4B``), as diffusers' and transformers'
# ``save_pretrained`` lay it out: the text encoder (Qwen3-4B) in two shards with their index, the
# transformer and the VAE one file each, the Qwen tokenizer's seven files (``editor_model`` says
# where the list comes from; the folder's root also holds a single-file checkpoint of the same
# transformer, 7.75 GB, which diffusers' pipeline never reads and img23d does not fetch).
KLEIN_SHARDS = ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
KLEIN_WEIGHTS = {"transformer": ("diffusion_pytorch_model.safetensors",),
                 "vae": ("diffusion_pytorch_model.safetensors",), "text_encoder": KLEIN_SHARDS}
KLEIN_TOKENIZER_FILES = ("added_tokens.json", "chat_template.jinja", "merges.txt", "special_tokens_map.json",
                         "tokenizer.json", "tokenizer_config.json", "vocab.json")
KLEIN_FILES = ("model_index.json", "scheduler/scheduler_config.json",
               *(f"{part}/{name}" for part, weights in KLEIN_WEIGHTS.items() for name in ("config.json", *weights)),
               "text_encoder/generation_config.json", "text_encoder/model.safetensors.index.json",
               *(f"tokenizer/{name}" for name in KLEIN_TOKENIZER_FILES))

# Qwen-Image-Edit-2511's folder (``Qwen/Qwen-Image-Edit-2511``), as diffusers' and transformers'
# ``save_pretrained`` lay it out (``qwen_edit_model`` says where the list comes from): the text encoder
# (Qwen2.5-VL-7B) in four shards and the transformer in five, each with its index, the VAE in one file,
# the processor the text encoder reads the picture and the instruction through (``processor/``, with its
# fast tokenizer) and the pipeline's slow tokenizer (``tokenizer/``, no ``tokenizer.json``).
QWEN_EDIT_TEXT_SHARDS = tuple(f"model-0000{n}-of-00004.safetensors" for n in range(1, 5))
QWEN_EDIT_TRANSFORMER_SHARDS = tuple(f"diffusion_pytorch_model-0000{n}-of-00005.safetensors" for n in range(1, 6))
QWEN_EDIT_WEIGHTS = {"transformer": QWEN_EDIT_TRANSFORMER_SHARDS, "vae": ("diffusion_pytorch_model.safetensors",),
                     "text_encoder": QWEN_EDIT_TEXT_SHARDS}
QWEN_EDIT_INDEXES = {"transformer": "diffusion_pytorch_model.safetensors.index.json",
                     "text_encoder": "model.safetensors.index.json"}
QWEN_EDIT_TOKENIZER_FILES = ("added_tokens.json", "chat_template.jinja", "merges.txt", "special_tokens_map.json",
                             "tokenizer_config.json", "vocab.json")
QWEN_EDIT_PROCESSOR_FILES = (*QWEN_EDIT_TOKENIZER_FILES, "preprocessor_config.json", "tokenizer.json",
                             "video_preprocessor_config.json")
QWEN_EDIT_FILES = ("model_index.json", "scheduler/scheduler_config.json",
                   *(f"{part}/{name}" for part, weights in QWEN_EDIT_WEIGHTS.items()
                     for name in ("config.json", *weights)),
                   *(f"{part}/{name}" for part, name in QWEN_EDIT_INDEXES.items()),
                   "text_encoder/generation_config.json",
                   *(f"tokenizer/{name}" for name in QWEN_EDIT_TOKENIZER_FILES),
                   *(f"processor/{name}" for name in QWEN_EDIT_PROCESSOR_FILES))
