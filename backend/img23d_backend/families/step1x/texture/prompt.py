"""SDXL's text conditioning, as diffusers' ``StableDiffusionXLPipeline.encode_prompt`` computes it.

Each prompt goes through both tokenizers (padded to 77 tokens; SDXL's second pads with "!") and
both text encoders; the penultimate hidden states of the two are joined along the width (768 +
1280 = 2048 for SDXL) and the second encoder's projected pooled output is the "text_embeds" of
SDXL's added conditioning. A negative prompt of None gives zeros, as SDXL's
``force_zeros_for_empty_prompt`` does; upstream passes its negative prompt, so it is encoded.
The micro-conditioning ``time_ids`` are (original size, crop top-left, target size).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class PromptEmbeddings:
    hidden: torch.Tensor   # [1, 77, width 1 + width 2]
    pooled: torch.Tensor   # [1, projection width]


def encode(model: Any, prompt: str) -> PromptEmbeddings:
    """One prompt through both tokenizers and encoders (``model``: a ``Step1XTextureModel``)."""
    hidden, pooled = [], None
    for tokenizer, encoder in ((model.tokenizer, model.text_encoder), (model.tokenizer_2, model.text_encoder_2)):
        ids = tokenizer(prompt, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                        return_tensors="pt").input_ids
        out = encoder(ids.to(model.device), output_hidden_states=True)
        if out[0].ndim == 2:   # CLIPTextModelWithProjection: text_embeds first
            pooled = out[0]
        hidden.append(out.hidden_states[-2])
    if pooled is None:
        raise ValueError("the second text encoder gives no pooled projection: not SDXL's CLIPTextModelWithProjection")
    dtype = model.text_encoder_2.dtype
    return PromptEmbeddings(hidden=torch.cat(hidden, dim=-1).to(dtype), pooled=pooled.to(dtype))


def encode_pair(model: Any, prompt: str, negative: str | None) -> tuple[PromptEmbeddings, PromptEmbeddings]:
    """The prompt's and the negative prompt's embeddings (zeros for a negative of None)."""
    positive = encode(model, prompt)
    if negative is None:
        return positive, PromptEmbeddings(torch.zeros_like(positive.hidden), torch.zeros_like(positive.pooled))
    return positive, encode(model, negative)


def time_ids(model: Any, height: int, width: int) -> torch.Tensor:
    """SDXL's micro-conditioning for an uncropped ``height`` x ``width`` picture: [1, 6]."""
    ids = [height, width, 0, 0, height, width]
    expected = model.unet.add_embedding.linear_1.in_features
    passed = model.unet.config.addition_time_embed_dim * len(ids) + model.text_encoder_2.config.projection_dim
    if expected != passed:
        raise ValueError(f"the UNet expects an added embedding of {expected}, the text encoder and time ids give "
                         f"{passed}: the SDXL folder's configs do not belong together")
    return torch.tensor([ids], dtype=model.dtype, device=model.device)
