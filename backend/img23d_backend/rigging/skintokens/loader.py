"""SkinTokens loaded from its folder (the hub snapshot's layout, ``config.FILES``): sizes from the weights'
shapes and the Qwen3 config, the module built on the meta device, the weights assigned in place
(``models.meta_weights``, ``models.placement``: the one place weights are read and moved).

Every width and layer count is read from the shapes (``config_from_state``), so the tiny replica and the
real file load through the same code; the Qwen3 config file gives what shapes cannot (RoPE theta, the norm
epsilon, the longest context). Its own sizes (Qwen3-0.6B's: hidden 1,024, a 151,936-token vocabulary) are
upstream's starting point, which TokenRig overrides (hidden 896, its vocabulary), so they are not read.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from ...models import placement
from ...models.meta_weights import read_safetensors
from ...models.placement import LoadedModel
from .config import CHECKPOINT_FILE, FULL, QWEN_CONFIG_FILE, SkinTokensConfig, with_lm
from .model import TokenRig, build_on_meta
from .weights import convert_once


def _count(state: dict[str, Any], pattern: str) -> int:
    found = {int(m.group(1)) for key in state if (m := re.match(pattern, key))}
    return max(found) + 1 if found else 0


def config_from_state(state: dict[str, Any], qwen: dict[str, Any], base: SkinTokensConfig = FULL) -> SkinTokensConfig:
    """The sizes the tensors in ``state`` were made with (heads from ``config.ATTENTION_HEAD_SIZE``)."""
    enc = "mesh_encoder.encoder."
    encoder = replace(base.encoder, width=state[enc + "input_proj.weight"].shape[0],
                      layers=_count(state, re.escape(enc) + r"self_attn\.resblocks\.(\d+)\."))
    v = "vae.model."
    levels = base.vae.levels  # the codebook's levels are not in the shapes; the count is
    if state[v + "FSQ.project_out.weight"].shape[1] != len(levels):
        raise ValueError("the checkpoint's FSQ has another number of levels than SkinTokens' five")
    vae = replace(base.vae, width=state[v + "cond_encoder.proj_in.weight"].shape[0],
                  latent=state[v + "cond_quant.weight"].shape[0],
                  encoder_layers=_count(state, re.escape(v) + r"cond_encoder\.blocks\.(\d+)\.") - 1,
                  decoder_layers=_count(state, re.escape(v) + r"decoder\.blocks\.(\d+)\.") - 1)
    t = "transformer.model."
    head_dim = state[t + "layers.0.self_attn.q_norm.weight"].shape[0]
    vocab, hidden = state[t + "embed_tokens.weight"].shape
    config = with_lm(replace(base, encoder=encoder, vae=vae),
                     hidden=hidden, layers=_count(state, re.escape(t) + r"layers\.(\d+)\."),
                     heads=state[t + "layers.0.self_attn.q_proj.weight"].shape[0] // head_dim,
                     kv_heads=state[t + "layers.0.self_attn.k_proj.weight"].shape[0] // head_dim,
                     head_dim=head_dim, intermediate=state[t + "layers.0.mlp.gate_proj.weight"].shape[0],
                     rope_theta=float(qwen.get("rope_theta", base.lm.rope_theta)),
                     rms_norm_eps=float(qwen.get("rms_norm_eps", base.lm.rms_norm_eps)),
                     max_positions=int(qwen.get("max_position_embeddings", base.lm.max_positions)))
    if config.vocab != vocab:
        raise ValueError(f"the checkpoint's vocabulary is {vocab}, SkinTokens' grammar needs {config.vocab}")
    return config


def load_skintokens(folder: Path, device: Any = "cpu", dtype: torch.dtype = torch.float32) -> LoadedModel:
    """TokenRig from ``folder`` on ``device`` in ``dtype`` (upstream runs bf16; float32 is for CPU checks)."""
    folder = Path(folder)
    weights = convert_once(folder / CHECKPOINT_FILE)
    qwen = json.loads((folder / QWEN_CONFIG_FILE).read_text(encoding="utf-8"))
    state = read_safetensors(weights, device, dtype)
    config = config_from_state(state, qwen)
    model = build_on_meta(config)
    placement.assign_weights(model, state, device, dtype)
    model.transformer.tie_weights()  # Qwen3-0.6B ties its head; the file stores both, equal
    model.round_rope_like_upstream()
    model.eval().requires_grad_(False)
    return LoadedModel(obj=model, modules=[model])


def loaded_network(loaded: LoadedModel) -> TokenRig:
    return loaded.obj
