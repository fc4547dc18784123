"""FLUX.2 [klein] 4B's parts, each read from its folder on its own as the published folder holds them
(``model``): the text encoder, Qwen3-4B (``Qwen3ForCausalLM``) from its two shards with the pipeline's fast
tokenizer; the transformer (``Flux2Transformer2DModel``) and the VAE (``AutoencoderKLFlux2``), one file each.
Each is built on the meta device from its config and its safetensors assigned in place (``editors.weights``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...models import placement
from ...models.meta_weights import empty_weights
from ..editor import PartReader
from ..weights import TextEncoder, assign_diffusers, json_file, transformers_shards
from .model import KLEIN_WEIGHTS


def _klein_transformer(folder: Path, device: Any, dtype: Any) -> Any:
    from diffusers import Flux2Transformer2DModel

    with empty_weights():
        module = Flux2Transformer2DModel.from_config(json_file(folder / "transformer" / "config.json"))
    return assign_diffusers(module, folder / "transformer", KLEIN_WEIGHTS["transformer"], device, dtype)


def _klein_vae(folder: Path, device: Any, dtype: Any) -> Any:
    from diffusers import AutoencoderKLFlux2

    with empty_weights():
        module = AutoencoderKLFlux2.from_config(json_file(folder / "vae" / "config.json"))
    return assign_diffusers(module, folder / "vae", KLEIN_WEIGHTS["vae"], device, dtype)


def _klein_text_encoder(folder: Path, device: Any, dtype: Any) -> TextEncoder:
    """Qwen3 from its shards. With tied embeddings the file holds no ``lm_head.weight``: the output layer
    is the input embedding (``from_pretrained`` ties them), so it is given that tensor, then tied."""
    from transformers import Qwen2TokenizerFast, Qwen3Config, Qwen3ForCausalLM

    with empty_weights():
        module = Qwen3ForCausalLM(Qwen3Config.from_pretrained(folder / "text_encoder"))
    state = transformers_shards(module, folder / "text_encoder", device, dtype)
    if module.config.tie_word_embeddings and "lm_head.weight" not in state:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    placement.assign_weights(module, state, device, dtype)
    module.tie_weights()  # one parameter for both, as from_pretrained leaves them (assignment made two)
    return TextEncoder(module.eval().requires_grad_(False), Qwen2TokenizerFast.from_pretrained(folder / "tokenizer"))


# How each part is read (folder, device, dtype -> the network, the text encoder's as a TextEncoder).
READERS: dict[str, PartReader] = {"text_encoder": _klein_text_encoder, "transformer": _klein_transformer,
                                  "vae": _klein_vae}
