"""Modules built with their parameters on the meta device, and safetensors read into place.

The family-neutral half of fast loading (``fast_load`` keeps hy3dgen's builders, which import
hy3dgen): the licence-clean family's loaders (``families.step1x.geometry.loader``, ``families.step1x.texture.loader``)
and the material and editor models' (``materials/<model>/pipeline.py``, ``editors.weights``) use these and nothing of
hy3dgen's, the legacy names renamed as transformers and diffusers rename them (``transformers_state``,
``diffusers_key_fixes``). Moving and casting weights is ``placement``'s.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from . import placement


@contextmanager
def empty_weights() -> Iterator[None]:
    """Build modules with their parameters on the meta device and their buffers for real.

    accelerate's context patches ``nn.Module.register_parameter`` for the duration: modules
    built on other threads meanwhile would get meta parameters too, so only loaders (which
    the model manager runs one at a time) use it.
    """
    from accelerate import init_empty_weights

    with init_empty_weights(include_buffers=False):
        yield


def read_safetensors(path: Path, device: Any, dtype: Any, prefix: str = "") -> dict[str, Any]:
    """Every tensor of ``path`` (or those under ``prefix``, with the prefix removed) on
    ``device`` in ``dtype``, read one at a time so at most one extra tensor is in RAM."""
    from safetensors import safe_open

    state: dict[str, Any] = {}
    with safe_open(str(path), framework="pt", device="cpu") as reader:
        for key in reader.keys():
            if prefix and not key.startswith(prefix):
                continue
            state[key[len(prefix):]] = placement.to_device(reader.get_tensor(key), device, dtype)
    return state


def transformers_state(model: Any, path: Path, device: Any, dtype: Any) -> dict[str, Any]:
    """A transformers model's file as ``from_pretrained`` reads it: legacy names renamed, the
    model's non-persistent buffers (kept by files of older versions) left out."""
    buffers = {name for name, _ in model.named_buffers()} - set(model.state_dict())
    state = {}
    for key, tensor in read_safetensors(path, device, dtype).items():
        key, _ = model._fix_state_dict_key_on_load(key)
        if key not in buffers:
            state[key] = tensor
    return state


def diffusers_key_fixes(model: Any, state: dict[str, Any]) -> dict[str, Any]:
    """``state`` with the renames diffusers' ``ModelMixin.from_pretrained`` makes before it loads a
    single-file checkpoint (``.bin`` and safetensors alike): the model's own
    ``_fix_state_dict_keys_on_load``, called rather than copied so the two cannot drift.

    For ``AutoencoderKL`` that hook renames the attention blocks built with
    ``_from_deprecated_attn_block`` (the mid-blocks') from the names diffusers saved before 0.14,
    ``query``/``key``/``value``/``proj_attn``, to ``to_q``/``to_k``/``to_v``/``to_out.0``. Stable
    Diffusion 2.x's VAE pickle, which the turbo paint folder ships, uses the old names. Only names
    change: the old block's projections were ``nn.Linear`` as the new ones are, so shapes match, and
    a file with other shapes is refused by the strict load as diffusers refuses it.
    """
    fixed = dict(state)
    model._fix_state_dict_keys_on_load(fixed)  # diffusers renames in place
    return fixed
