"""The mechanism: the only code that moves model weights between RAM and a device, puts weights
read from disk in place (``assign_weights``), or frees them.

It knows nothing about budgets or which model should go where (that is ``manager``'s
policy); it moves what it is told and reports how many bytes crossed.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator


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
    pinned_bytes: int = 0  # page-locked host memory its weights hold (0 unless offloaded pinned)


def weight_bytes(loaded: LoadedModel, dtype: Any = None) -> int:
    """Bytes held by the model's parameters and buffers (shared tensors counted once); with
    ``dtype``, what they would hold with the floating-point ones in it (as ``cast_for_call`` makes them)."""
    seen: set[int] = set()
    total = 0
    for module in loaded.modules:
        for tensor in list(module.parameters()) + list(module.buffers()):
            key = tensor.data_ptr()
            if key in seen:
                continue
            seen.add(key)
            size = dtype.itemsize if dtype is not None and tensor.is_floating_point() else tensor.element_size()
            total += tensor.numel() * size
    return total


class HostMemory:
    """How weights that leave a CUDA device are held in RAM: page-locked (pinned) copies.

    Pinned copies make the way back one DMA transfer per tensor that the GPU queues by itself,
    but they cannot be paged out, and torch's caching host allocator rounds each one up to a
    power of two and keeps the blocks after the tensors are gone, for reuse, until its cache is
    emptied. So the mechanism counts what it pinned (``LoadedModel.pinned_bytes``, as the
    allocator holds it) and empties that cache whenever pinned copies are let go; how much may
    be pinned at all is the manager's policy. Tests put a counting stand-in in its place.
    """

    def applies(self, source: Any, target: Any) -> bool:
        """True when a move between these devices goes through this host memory."""
        import torch

        return torch.cuda.is_available() and "cuda" in (target.type, getattr(source, "type", ""))

    def pinned_copy(self, tensor: Any) -> Any:
        """A page-locked host copy of ``tensor``, by a non-blocking copy (``wait`` completes it)."""
        import torch

        pinned = torch.empty(tensor.shape, dtype=tensor.dtype, device="cpu", pin_memory=True)
        pinned.copy_(tensor, non_blocking=True)
        return pinned

    def pageable_copy(self, tensor: Any) -> Any:
        """An ordinary (pageable) host copy of ``tensor``: for weights past the pinned budget."""
        return tensor.to("cpu")

    def held_bytes(self, tensor: Any) -> int:
        """The host memory a pinned copy of ``tensor`` takes: the allocator's power-of-two block
        (its default; ``pinned_max_round_threshold`` in ``PYTORCH_ALLOC_CONF`` changes it)."""
        size = tensor.numel() * tensor.element_size()
        return 1 << (size - 1).bit_length() if size > 1 else size

    def wait(self) -> None:
        import torch

        torch.cuda.synchronize()

    def empty_cache(self) -> None:
        """Give the allocator's cached pinned blocks that no tensor uses back to the system."""
        import torch

        if not torch.cuda.is_available():
            return
        accelerator = getattr(torch, "accelerator", None)
        if hasattr(accelerator, "empty_host_cache"):  # public since torch 2.9
            accelerator.empty_host_cache()
        elif hasattr(torch._C, "_host_emptyCache"):
            torch._C._host_emptyCache()


CUDA_HOST = HostMemory()


def pinned_size(loaded: LoadedModel, host: HostMemory | None = None) -> int:
    """The pinned bytes moving ``loaded`` to RAM would hold (each tensor's block, as held)."""
    host = host or CUDA_HOST
    return sum(host.held_bytes(tensor) for module in loaded.modules
               for tensor in [*module.parameters(), *module.buffers()])


def move(loaded: LoadedModel, device: Any, *, pin: bool = True, host: HostMemory | None = None) -> int:
    """Move every module of ``loaded`` to ``device``; return the bytes that crossed (0 if none).

    Between a CUDA device and RAM the weights go, with ``pin``, through pinned (page-locked) host
    memory with non-blocking copies: evicted weights land in pinned RAM, so moving them back is
    one DMA transfer per tensor that the GPU queues without the CPU staging each one. One
    synchronisation at the end makes the move complete before anyone uses the weights. Without
    ``pin`` they land in ordinary pageable RAM. Pinned copies let go (the weights went back to
    the device) are given back to the system at once. Elsewhere (CPU, MPS) a plain ``.to``.
    """
    import torch

    host = host or CUDA_HOST
    target = torch.device(device)
    if loaded.device is not None and torch.device(loaded.device) == target:
        return 0
    moved = weight_bytes(loaded)
    source = torch.device(loaded.device) if loaded.device is not None else None
    through_host = host.applies(source, target)
    pinned = [0]

    def copy(tensor: Any) -> Any:
        if tensor.device == target:
            return tensor
        if target.type != "cpu":
            return tensor.to(target, non_blocking=tensor.is_pinned())
        if not pin:
            return host.pageable_copy(tensor)
        pinned[0] += host.held_bytes(tensor)
        return host.pinned_copy(tensor)

    for module in loaded.modules:
        if through_host:
            # _apply is what Module.to uses: it swaps parameters, their grads and buffers alike.
            module._apply(copy)
        else:
            module.to(target)
    if through_host:
        host.wait()
    let_go, loaded.pinned_bytes = loaded.pinned_bytes, pinned[0]
    loaded.device = target
    if let_go:
        host.empty_cache()
    if loaded.on_moved is not None:
        loaded.on_moved(target)
    return moved


@contextmanager
def cast_for_call(modules: list[Any], dtype: Any) -> Iterator[None]:
    """The modules' floating-point weights in ``dtype`` for the block, then back as they were.

    For a call that half precision cannot compute (it gave NaN or inf): the weights are cast in
    place, one tensor at a time, so the model briefly takes its fp32 size (twice its fp16 one),
    not both. fp16 -> fp32 -> fp16 is exact: the model the manager keeps is unchanged after.
    """
    before = [_floating_dtype(module) for module in modules]
    try:
        # Inside the try: running out of memory half way must not leave some modules widened.
        for module in modules:
            module.to(dtype=dtype)
        yield
    finally:
        for module, original in zip(modules, before):
            if original is not None:
                module.to(dtype=original)


def _floating_dtype(module: Any) -> Any:
    return next((p.dtype for p in module.parameters() if p.is_floating_point()), None)


def to_device(tensor: Any, device: Any, dtype: Any) -> Any:
    """One checkpoint tensor on ``device``; floating-point ones in ``dtype`` (integers keep theirs)."""
    if tensor.is_floating_point() and tensor.dtype != dtype:
        return tensor.to(device=device, dtype=dtype)
    return tensor.to(device=device)


def assign_weights(module: Any, state: dict[str, Any], device: Any, dtype: Any) -> int:
    """Put ``state`` in place of ``module``'s (meta) weights, then move its buffers along.

    Every key must match (a missing one would leave a weight on the meta device). Tensors
    are assigned, not copied into existing ones, so nothing is allocated twice. The buffers
    built with the module (not in the checkpoint) are cast and moved as hy3dgen's own
    ``.to(device, dtype)`` would; returns the bytes assigned.
    """
    import torch

    module.load_state_dict(state, strict=True, assign=True)
    module.to(device=torch.device(device), dtype=dtype)
    left = [name for name, tensor in [*module.named_parameters(), *module.named_buffers()] if tensor.is_meta]
    if left:
        raise ValueError(f"no weights were read for {', '.join(left[:5])}")
    return sum(t.numel() * t.element_size() for t in state.values())


def drop(loaded: LoadedModel, host: HostMemory | None = None) -> None:
    """Release the weights (pinned copies included); the caller must drop its own references too."""
    loaded.modules.clear()
    loaded.obj = None
    loaded.on_moved = None
    loaded.pinned_bytes = 0
    release_cached_memory(host)


def release_cached_memory(host: HostMemory | None = None) -> None:
    """Give freed memory back: Python's cycles first, then the device and host caching allocators."""
    import torch

    gc.collect()
    (host or CUDA_HOST).empty_cache()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    mps = getattr(torch, "mps", None)
    if mps is not None and torch.backends.mps.is_available():
        mps.empty_cache()
