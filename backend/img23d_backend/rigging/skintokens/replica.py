"""Random-weight SkinTokens folders in the real files' layout, tiny (tests) or full-size (costs).

What is written and where each fact came from:

* ``experiments/articulation_xl_quantization_256_token_4/grpo_1400.ckpt`` (the path: upstream's
  ``download.py`` as the ComfyUI port's ``model_loader.py`` quotes it; DESIGN.md): a ``torch.save`` zip
  pickle of a Lightning-style dict, ``epoch``, ``global_step``, ``pytorch-lightning_version``,
  ``hyper_parameters`` (plain dicts here) and ``state_dict``: plain tensors, bf16 (DESIGN.md: "1.1 GB, bf16";
  upstream casts every part with ``.to(torch.bfloat16)``), named as TokenRig's modules are
  (``mesh_encoder.encoder.*``, ``output_proj.0``/``.1``, ``transformer.model.*``, ``transformer.lm_head``,
  ``vae.model.*``: upstream ``tokenrig.py`` and the port's ``model.rs``, which reads the real file). The head
  is stored beside the embeddings, equal (the port: "the checkpoint stores both, equal"). A few weights of
  the parts inference never builds (``vae.model.encoder``, ``quant``, ``FSQ.project_in``) are written too,
  in the shapes upstream's classes give them, so the loader's leaving-out is exercised; the real file has
  all of the skin encoder's, which are not copied here.
* ``models/Qwen3-0.6B/config.json``: Qwen3-0.6B's own configuration (its published ``config.json``),
  unchanged, as upstream's folder holds it; TokenRig overrides its sizes, which the loader reads from the
  weights instead.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from ...models.replica_common import parameters
from ...models.specs import ModelReplica
from .config import CHECKPOINT_FILE, FULL, QWEN_CONFIG_FILE, TINY, SkinTokensConfig
from .model import TokenRig
from .weights import convert_once

QWEN3_06B_CONFIG = {
    "architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
    "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu", "hidden_size": 1024,
    "initializer_range": 0.02, "intermediate_size": 3072, "max_position_embeddings": 40960,
    "max_window_layers": 28, "model_type": "qwen3", "num_attention_heads": 16, "num_hidden_layers": 28,
    "num_key_value_heads": 8, "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 1000000,
    "sliding_window": None, "tie_word_embeddings": True, "torch_dtype": "bfloat16", "use_cache": True,
    "use_sliding_window": False, "vocab_size": 151936,
}


def random_state(config: SkinTokensConfig, seed: int = 0) -> dict[str, torch.Tensor]:
    """TokenRig's state with random weights (each module's own initialisation), bf16, plus unused parts."""
    torch.manual_seed(seed)
    state = {k: v.detach().to(torch.bfloat16) for k, v in TokenRig(config).state_dict().items()}
    state["transformer.lm_head.weight"] = state["transformer.model.embed_tokens.weight"].clone()
    vae = config.vae
    state["vae.model.encoder.proj_in.weight"] = torch.randn(vae.width, vae.in_features + 1).to(torch.bfloat16)
    state["vae.model.quant.weight"] = torch.randn(vae.latent, vae.width).to(torch.bfloat16)
    state["vae.model.quant.bias"] = torch.zeros(vae.latent, dtype=torch.bfloat16)
    state["vae.model.FSQ.project_in.weight"] = torch.randn(len(vae.levels), vae.latent).to(torch.bfloat16)
    state["vae.model.FSQ.project_in.bias"] = torch.zeros(len(vae.levels), dtype=torch.bfloat16)
    return state


def write_replica(folder: Path, config: SkinTokensConfig = TINY, seed: int = 0) -> Path:
    """A SkinTokens folder with random weights of ``config``'s sizes; returns ``folder``."""
    folder = Path(folder)
    checkpoint = folder / CHECKPOINT_FILE
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    lightning = {"epoch": 0, "global_step": 1400, "pytorch-lightning_version": "2.5.0",
                 "hyper_parameters": {"model_config": {"tokens_per_skin": config.tokens_per_joint,
                                                       "tokens_skin_cond": config.vae.cond_queries}},
                 "state_dict": random_state(config, seed)}
    torch.save(lightning, checkpoint)
    qwen = folder / QWEN_CONFIG_FILE
    qwen.parent.mkdir(parents=True, exist_ok=True)
    qwen.write_text(json.dumps(QWEN3_06B_CONFIG, indent=2), encoding="utf-8")
    return folder


def _construct() -> dict[str, Any]:
    return {"model": TokenRig(FULL)}


def _build(folder: Path, size: str) -> tuple[dict[str, Any], int]:
    """The checkpoint (bf16, as upstream's) and Qwen3's config in the hub's layout, at ``size`` ("tiny" or
    "full"); then the production loader's one-time safetensors copy beside it, as the first rig makes it, so
    a check's load is every later one."""
    seed = 0
    write_replica(folder, FULL if size == "full" else TINY, seed)
    started = time.perf_counter()
    convert_once(Path(folder) / CHECKPOINT_FILE)
    convert_seconds = round(time.perf_counter() - started, 1)
    with torch.device("meta"):
        params = {part: parameters(module) for part, module in _construct().items()}
    return {"class": "TokenRig", "dtype": "bfloat16", "params": params, "convert_seconds": convert_seconds}, seed


# No parameter count is published; the checkpoint is 1.1 GB in bf16 (the skin VAE's unused encoder in it).
REPLICA = ModelReplica(build=_build, construct=_construct, published_params={"total": 5.5e8})
