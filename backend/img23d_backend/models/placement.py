"""The mechanism: the only code that moves model weights between RAM and a device, or frees them.

It knows nothing about budgets or which model should go where (that is ``manager``'s
policy); it moves what it is told and reports how many bytes crossed.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class LoadedModel:
    """A model as a stage uses it, plus the torch modules that hold its weights.

    ``obj`` is what the stage calls (a pipeline, a (model, processor) pair...). ``modules``
    are moved together; ``on_moved`` lets wrappers that cache their device (hy3dgen's
    pipelines keep ``self.device``) follow along.
    """

    obj: Any
    modules: list[Any]
    on_moved: Callable[[Any], None] | None = None
    device: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def weight_bytes(loaded: LoadedModel) -> int:
    """Bytes held by the model's parameters and buffers (shared tensors counted once)."""
    seen: set[int] = set()
    total = 0
    for module in loaded.modules:
        for tensor in list(module.parameters()) + list(module.buffers()):
            key = tensor.data_ptr()
            if key in seen:
                continue
            seen.add(key)
            total += tensor.numel() * tensor.element_size()
    return total


def move(loaded: LoadedModel, device: Any) -> int:
    """Move every module of ``loaded`` to ``device``; return the bytes that crossed (0 if none)."""
    import torch

    target = torch.device(device)
    if loaded.device is not None and torch.device(loaded.device) == target:
        return 0
    moved = weight_bytes(loaded)
    for module in loaded.modules:
        module.to(target)
    loaded.device = target
    if loaded.on_moved is not None:
        loaded.on_moved(target)
    return moved


def drop(loaded: LoadedModel) -> None:
    """Release the weights; the caller must drop its own references too."""
    loaded.modules.clear()
    loaded.obj = None
    loaded.on_moved = None
    release_cached_memory()


def release_cached_memory() -> None:
    """Give freed memory back: Python's cycles first, then the device caching allocators."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    mps = getattr(torch, "mps", None)
    if mps is not None and torch.backends.mps.is_available():
        mps.empty_cache()
