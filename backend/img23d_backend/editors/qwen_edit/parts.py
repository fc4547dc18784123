"""Qwen-Image-Edit-2511's parts, each read from its folder on its own as the published folder holds
them (``model``): the text encoder, Qwen2.5-VL-7B (``Qwen2_5_VLForConditionalGeneration``)
from its four shards, with the pipeline's tokenizer (``tokenizer/``, a slow ``Qwen2Tokenizer``) and the
processor it reads the picture and the instruction through (``processor/``, ``Qwen2VLProcessor``); the
transformer (``QwenImageTransformer2DModel``) from its five shards; the VAE (``AutoencoderKLQwenImage``).

Each is built on the meta device from its config and its safetensors assigned in place
(``editors.weights``), as every editor's are (``editors.parts`` reads each part through ``READERS``).
The text encoder's file keeps the legacy key names (``model.layers.*``, ``visual.*``), which the
model's own mapping renames as ``from_pretrained`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...models import placement
from ...models.meta_weights import empty_weights
from ..editor import PartReader
from ..weights import TextEncoder, assign_diffusers, json_file, transformers_shards
from .model import QWEN_EDIT_INDEXES, QWEN_EDIT_WEIGHTS


def _transformer(folder: Path, device: Any, dtype: Any) -> Any:
    from diffusers import QwenImageTransformer2DModel

    with empty_weights():
        module = QwenImageTransformer2DModel.from_config(json_file(folder / "transformer" / "config.json"))
    return assign_diffusers(module, folder / "transformer", QWEN_EDIT_WEIGHTS["transformer"], device, dtype,
                            index_name=QWEN_EDIT_INDEXES["transformer"])


def _vae(folder: Path, device: Any, dtype: Any) -> Any:
    from diffusers import AutoencoderKLQwenImage

    with empty_weights():
        module = AutoencoderKLQwenImage.from_config(json_file(folder / "vae" / "config.json"))
    return assign_diffusers(module, folder / "vae", QWEN_EDIT_WEIGHTS["vae"], device, dtype)


def _text_encoder(folder: Path, device: Any, dtype: Any) -> TextEncoder:
    from transformers import (Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2Tokenizer,
                              Qwen2VLProcessor)

    with empty_weights():
        module = Qwen2_5_VLForConditionalGeneration(Qwen2_5_VLConfig.from_pretrained(folder / "text_encoder"))
    placement.assign_weights(module, transformers_shards(module, folder / "text_encoder", device, dtype), device, dtype)
    return TextEncoder(module.eval().requires_grad_(False), Qwen2Tokenizer.from_pretrained(folder / "tokenizer"),
                       Qwen2VLProcessor.from_pretrained(folder / "processor"))


# How each part is read (folder, device, dtype -> the network, the text encoder's as a TextEncoder).
READERS: dict[str, PartReader] = {
    "text_encoder": _text_encoder, "transformer": _transformer, "vae": _vae}
