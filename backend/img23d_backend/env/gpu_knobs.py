"""Three speed knobs of a CUDA GPU, each decided in one place (the first two recorded in the run's manifest):

* **TF32 matrix products** (``torch.set_float32_matmul_precision("high")`` and cuDNN's ``allow_tf32``):
  float32 products on Ampere and newer GPUs with a 10-bit mantissa and float32's range, several times
  faster. They only touch the float32 work of a model; each role says whether its numbers allow it
  (``TF32_ROLES``, with why), and ``tf32_scope`` sets the switch for the role in use.
* **Qwen3-VL's attention implementation**, passed to ``from_pretrained(attn_implementation=...)``:
  ``flash_attention_2`` on CUDA when the ``flash_attn`` package imports, else ``sdpa`` (torch's fused
  attention) where torch has it, else ``eager``. Chosen once per device (``attention_for``).
* **No cuDNN in torch's fused attention** where the query lengths change from call to call
  (``without_cudnn_attention``): torch 2.11 tries cuDNN's attention first on Hopper and newer, and
  cuDNN builds an execution plan for every shape it has not seen (hundreds of milliseconds each).
  FlashVDM's decoding attends once per cell of the surface with as many queries as the cell holds,
  a different set of lengths for every object: on a lent H200 a new object's decoding took about
  10 s the first time and 0.7 s the second (``bench/results/shape-warmup-gpu.json``), the pattern
  of plans built per shape (modelscope/FunASR#3704 measured the same on a B200).
"""

from __future__ import annotations

import functools
import importlib
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator


@dataclass(frozen=True)
class Tf32Rule:
    allowed: bool
    why: str


# Per role: whether its float32 matrix products may run in TF32 on a CUDA GPU (TF32 exists from
# Ampere on, where every model below but the shape's runs in half precision), and why.
_HALF = "runs in half precision on the GPU: its float32 parts are rounded more finely by TF32 than its weights are"
TF32_ROLES: dict[str, Tf32Rule] = {
    "grounding": Tf32Rule(True, "Qwen3-VL runs in bfloat16 (8-bit mantissa) on TF32's GPUs: TF32's 10 bits are finer"),
    "matting": Tf32Rule(True, "BiRefNet runs in float16; its float32 retry is for float16's range (NaN/inf), "
                              "which TF32 keeps"),
    "depth": Tf32Rule(True, "Depth Anything " + _HALF),
    "delight": Tf32Rule(True, "the delight model " + _HALF),
    "paint": Tf32Rule(True, "the paint model " + _HALF),
    "materials": Tf32Rule(True, "the material model " + _HALF),
    "editor": Tf32Rule(True, "the image editor " + _HALF),
    # The mesh is read off where the decoded field crosses zero: the volume's float32 work (and
    # Step1X-3D's float32 retry of a target that overflowed) places the surface, so it keeps float32.
    "shape": Tf32Rule(False, "the surface is placed where the decoded field crosses zero: its float32 work keeps "
                             "full precision"),
    "shape_views": Tf32Rule(False, "as the shape model: the surface is placed where the decoded field crosses zero"),
}


def tf32_allowed(role: str, device: Any) -> bool:
    """Whether ``role``'s float32 products run in TF32 on ``device`` (a CUDA device only)."""
    return getattr(device, "type", str(device)) == "cuda" and TF32_ROLES.get(role, Tf32Rule(False, "")).allowed


@contextmanager
def tf32_scope(role: str, device: Any) -> Iterator[None]:
    """TF32 on (or off) as ``role`` allows while it is in use on ``device``, then as it was. Nothing
    changes off CUDA. A role used inside another's block decides for its own block."""
    if getattr(device, "type", str(device)) != "cuda":
        yield
        return
    import torch

    before = (torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32)
    allowed = tf32_allowed(role, device)
    torch.set_float32_matmul_precision("high" if allowed else "highest")
    torch.backends.cudnn.allow_tf32 = allowed
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before[0])
        torch.backends.cudnn.allow_tf32 = before[1]


@contextmanager
def without_cudnn_attention() -> Iterator[None]:
    """Torch's fused attention with its flash, memory-efficient and plain kernels only while the
    block runs (no cuDNN: see the module's docstring), then as it was. The kernels themselves
    compute the same attention; only the per-shape plan building goes."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]):
        yield


def choose_attention(device: Any) -> str:
    """Qwen3-VL's attention implementation on ``device``: ``flash_attention_2`` on CUDA when
    ``flash_attn`` imports, else ``sdpa`` when torch has fused attention, else ``eager``."""
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        try:
            importlib.import_module("flash_attn")
            return "flash_attention_2"
        except ImportError:  # not installed (or broken): the fused attention torch has
            pass
    if callable(getattr(torch.nn.functional, "scaled_dot_product_attention", None)):
        return "sdpa"
    return "eager"


@functools.lru_cache(maxsize=None)
def _attention_for(device_key: str) -> str:
    import torch

    return choose_attention(torch.device(device_key))


def attention_for(device: Any) -> str:
    """``choose_attention``, chosen once per device in this process: the loader and the manifest agree."""
    return _attention_for(str(device))
