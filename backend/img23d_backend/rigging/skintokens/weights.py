"""Reading SkinTokens' Lightning checkpoint without running pickled code, once; then its safetensors copy.

``grpo_1400.ckpt`` is a Lightning pickle (DESIGN.md: bf16, 1.1 GB); its ``state_dict`` holds every weight
TokenRig needs, the skin VAE's included: upstream's ``TokenRig.__init__`` makes the VAE a submodule
(``self.vae = SkinVAEModel.load_from_system_checkpoint(...)``, whose network is its ``model``), so a
Lightning save of TokenRig writes it as ``vae.model.*``; the port (chris-straka/skintokens ``model.rs``)
reads ``vae.model``, ``mesh_encoder.encoder``, ``transformer`` and ``output_proj`` from this one file.
Names may carry ``_orig_mod.`` (``torch.compile`` wrappers; upstream's loader and the port drop it) and a
leading ``model.`` (upstream's loader drops it too).

The read is ``torch.load(weights_only=True)``: tensors, dicts, lists and plain values only. A Lightning
file's other entries (hyper-parameters, loop state) may name classes of Lightning or OmegaConf; those (and
only those, by module, ``INERT_MODULES``) are mapped to ``Inert``, a class of img23d's that accepts and
keeps nothing, so their code never runs. Any other global (``os.system``, ``builtins.eval``...) is refused
with ``CheckpointRefused``. Which globals the real file names was not checked here (no hub access).

The state is then written once, atomically, beside the checkpoint as safetensors (``converted_path``),
which later loads read directly.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from ...runs.folders import atomic_write

INERT_MODULES = ("omegaconf", "pytorch_lightning", "lightning", "lightning_fabric")
# Parts upstream builds that inference never calls (module docstrings of skin_vae.py and shape_encoder.py):
UNUSED_PREFIXES = ("vae.model.encoder.", "vae.model.quant.", "vae.model.FSQ.project_in.")
UNUSED_OUTSIDE = ("mesh_encoder.", "mesh_encoder.encoder.")  # mesh_encoder.* beyond .encoder.* (a decoder half)


class CheckpointRefused(ValueError):
    """The checkpoint names code to run, or holds no state dict of tensors."""


class Inert:
    """Stands in for a Lightning or OmegaConf object in a checkpoint's metadata: runs and keeps nothing."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __setstate__(self, state: object) -> None:
        pass

    def __setitem__(self, key: object, value: object) -> None:
        pass

    def append(self, value: object) -> None:
        pass


def _inert_globals(path: Path) -> list[tuple[type, str]]:
    names = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    return [(Inert, name) for name in names if name.split(".")[0] in INERT_MODULES]


def read_lightning_state(path: Path) -> dict[str, torch.Tensor]:
    """The checkpoint's ``state_dict`` with wrapper prefixes dropped; ``CheckpointRefused`` for pickled code."""
    path = Path(path)
    try:
        with torch.serialization.safe_globals(_inert_globals(path)):
            loaded = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointRefused(f"{path.name} names code that img23d will not run: {exc}".splitlines()[0]) from exc
    state = loaded.get("state_dict") if isinstance(loaded, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointRefused(f"{path.name} holds no state_dict of tensors")
    fixed = {}
    for key, tensor in state.items():
        key = key.replace("_orig_mod.", "")
        fixed[key[len("model."):] if key.startswith("model.") else key] = tensor
    return fixed


def is_unused(key: str) -> bool:
    """True for a weight of a part inference never builds (module docstring)."""
    if key.startswith(UNUSED_PREFIXES):
        return True
    return key.startswith(UNUSED_OUTSIDE[0]) and not key.startswith(UNUSED_OUTSIDE[1])


def converted_path(checkpoint: Path) -> Path:
    return Path(checkpoint).with_suffix(".safetensors")


def convert_once(checkpoint: Path) -> Path:
    """The safetensors copy of ``checkpoint``'s used weights, written beside it the first time (atomically)."""
    from safetensors.torch import save_file

    target = converted_path(checkpoint)
    source_bytes = str(Path(checkpoint).stat().st_size)
    if target.exists() and _metadata(target).get("source_bytes") == source_bytes:
        return target
    state = {k: v for k, v in read_lightning_state(checkpoint).items() if not is_unused(k)}
    seen: set[int] = set()
    for key, tensor in state.items():  # safetensors refuses shared storage (a tied head): copy the second
        pointer = tensor.untyped_storage().data_ptr()
        state[key] = tensor.clone().contiguous() if pointer in seen else tensor.contiguous()
        seen.add(pointer)
    atomic_write(target, lambda tmp: save_file(state, str(tmp), metadata={"format": "pt", "source_bytes": source_bytes}))
    return target


def _metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as reader:
        return reader.metadata() or {}
