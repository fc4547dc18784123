"""Reading one image-editor part's weights into its network built on the meta device: a diffusers
network's single file or its shards by their index, a transformers network's shards by theirs. What
every editor's part readers (``<editor>/parts.py``: FLUX.2 [klein]'s,
Qwen-Image-Edit-2511's) share, kept here so that no editor imports another.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..models import placement
from ..models.meta_weights import diffusers_key_fixes, read_safetensors, transformers_state


@dataclass
class TextEncoder:
    """A text encoder as its reader returns it: the network, the tokenizer its pipeline holds, and
    (Qwen-Image-Edit-2511's) the processor that reads the picture and the instruction into it."""

    module: Any
    tokenizer: Any = None
    processor: Any = None


def json_file(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def index_shards(folder: Path, index_name: str) -> tuple[list[Path], set[str]]:
    """The shards an index names (each once, in order) and the keys it names."""
    weight_map = json_file(folder / index_name)["weight_map"]
    return [folder / shard for shard in sorted(set(weight_map.values()))], set(weight_map)


def _check_index(named: set[str], state: dict[str, Any], part: str) -> None:
    missing = sorted(named - set(state))
    if missing:
        raise ValueError(f"the {part}'s shards lack {', '.join(missing[:3])}, which its index names")


def assign_diffusers(module: Any, folder: Path, files: tuple[str, ...], device: Any, dtype: Any,
                     index_name: str | None = None) -> Any:
    """A diffusers network's weights assigned in place: its one file, or its shards as ``index_name``
    names them (as ``ModelMixin.from_pretrained`` reads a sharded checkpoint), with diffusers' own renames."""
    folder = Path(folder)
    if index_name is None:
        [name] = files
        state = read_safetensors(folder / name, device, dtype)
    else:
        shards, named = index_shards(folder, index_name)
        state = {}
        for shard in shards:
            state.update(read_safetensors(shard, device, dtype))
        _check_index(named, state, folder.name)
    placement.assign_weights(module, diffusers_key_fixes(module, state), device, dtype)
    return module.eval().requires_grad_(False)


def transformers_shards(model: Any, folder: Path, device: Any, dtype: Any) -> dict[str, Any]:
    """A transformers model's weights from the shards its ``model.safetensors.index.json`` names, as
    ``from_pretrained`` reads them: legacy names renamed by the model's own hook, then by its
    ``_checkpoint_conversion_mapping`` (Qwen2.5-VL's files say ``model.layers.*`` and ``visual.*``, its
    modules ``model.language_model.*`` and ``model.visual.*``)."""
    shards, named = index_shards(Path(folder), "model.safetensors.index.json")
    state: dict[str, Any] = {}
    for shard in shards:
        state.update({_mapped(model, key): tensor
                      for key, tensor in transformers_state(model, shard, device, dtype).items()})
    # The index names keys as the file holds them; compare after the same renames.
    _check_index({_mapped(model, model._fix_state_dict_key_on_load(key)[0]) for key in named}, state, "text encoder")
    return state


def _mapped(model: Any, key: str) -> str:
    """``key`` renamed by the first of the model's conversion patterns that matches it, as
    ``PreTrainedModel._get_key_renaming_mapping`` does with ``from_pretrained``'s default mapping."""
    for pattern, replacement in (getattr(model, "_checkpoint_conversion_mapping", None) or {}).items():
        key, count = re.subn(pattern, replacement, key)
        if count:
            break
    return key
