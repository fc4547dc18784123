"""Reading AutoPartGen's checkpoints: ``torch.load(..., weights_only=True)`` (tensors only, never
pickled code), the release's ``{"model": ...}`` wrapper taken off, the older DiT naming renamed.

Facts from the release's loader (facebookresearch/AutoPartGen, ``autopartgen.py``'s
``_load_module_state_dict`` and the DiT's ``load_state_dict``, read only): a file holds either the
state dict or ``{"model": state_dict, ...}``; a DiT file in TripoSG's original layout is recognised by
any key containing ``attn_cross.0.`` and renamed ``attn_cross.0.`` -> ``attn2.``, ``norm_cross.0`` ->
``norm2``, ``.norm3.`` -> ``.norm_ff.`` (in that layout ``norm3`` is the feed-forward's). The release
then loads strictly; so does img23d (``models.placement.assign_weights``). The rename maps every
``.norm3.`` to the feed-forward's, as the release's does: such a file can hold no part cross-attention's
norm, so only a complete file in the release's own naming loads strictly (an older one is refused
with the keys it lacks, as the release refuses it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

WRAPPER_KEY = "model"
OLD_CROSS = "attn_cross.0."


def read_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """The state dict in ``path`` (wrapped or not), memory-mapped: ``ValueError`` for anything else."""
    loaded = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
    state: Any = loaded.get(WRAPPER_KEY, loaded) if isinstance(loaded, dict) else loaded
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{Path(path).name} holds no state dict of tensors")
    return state


def renamed_dit_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` in the release's naming: TripoSG's older layout renamed (module docstring), else as is."""
    if not any(OLD_CROSS in key for key in state):
        return state
    renamed = {}
    for key, tensor in state.items():
        key = key.replace(OLD_CROSS, "attn2.").replace("norm_cross.0", "norm2")
        key = key.replace(".norm3.", ".norm_ff.")
        renamed[key] = tensor
    return renamed

