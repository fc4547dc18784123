"""The dtype each model runs in on each device: half precision where the device runs it fast and
well (``working_dtype``), whether a device computes bf16 itself (``bf16_native``), and a family's precision
record; a model with a rule of its own keeps it in its folder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# A CUDA GPU computes bf16 itself from compute capability 8.0 on (Ampere); before that torch
# emulates it, slowly.
BF16_CAPABILITY = (8, 0)
_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


def working_dtype(device: Any) -> Any:
    """Half precision where the device runs it fast and well; fp32 on CPU.

    The rule for most models; a model that fp16 breaks on some devices has its own, in its folder.
    """
    import torch

    kind = getattr(device, "type", str(device))
    if kind in ("cuda", "mps"):
        return torch.float16
    return torch.float32


def bf16_native(device: Any) -> bool:
    """True where the device computes in bf16 itself rather than emulating it (or not at all)."""
    import torch

    kind = getattr(device, "type", str(device))
    if kind == "cuda":
        if torch.version.hip:
            return True
        # Not torch.cuda.is_bf16_supported(): by default it also says yes for pre-Ampere GPUs,
        # which only emulate bf16, and it asks about the current device, not this one.
        return torch.cuda.get_device_capability(device)[0] >= 8
    if kind == "mps":
        return torch.backends.mps.is_macos_or_newer(14, 0)  # bf16 on Metal needs macOS 14
    return False


@dataclass(frozen=True)
class DeviceKind:
    """What decides a model's precision on a device: its type and, on CUDA, its compute capability.

    Built from a torch device by ``device_kind``; tests build one by hand for devices this machine
    does not have.
    """

    type: str                                  # "cuda", "mps", "cpu"
    capability: tuple[int, int] | None = None  # CUDA's (major, minor); None elsewhere
    hip: bool = False                          # a ROCm build: AMD GPUs behind torch's "cuda"


def device_kind(device: Any) -> DeviceKind:
    """``device`` described for a family's precision rule (asks torch about its CUDA capability)."""
    import torch

    kind = getattr(device, "type", str(device)).split(":")[0]
    if kind != "cuda":
        return DeviceKind(kind)
    major, minor = torch.cuda.get_device_capability(device)
    return DeviceKind(kind, (major, minor), hip=bool(torch.version.hip))


@dataclass(frozen=True)
class Precision:
    """The dtype a model's weights and activations are in, and whether its output is checked.

    ``checked``: half precision that can overflow (fp16's largest number is 65504): a target whose
    latents or decoded field are not finite is made again with the weights in fp32.
    """

    dtype_name: str        # "bfloat16", "float16" or "float32"
    checked: bool = False

    @property
    def dtype(self) -> Any:
        import torch

        return getattr(torch, self.dtype_name)

    @property
    def bytes_per_parameter(self) -> int:
        return _BYTES[self.dtype_name]

    @property
    def retry_bytes_per_parameter(self) -> int:
        """What the fp32 retry adds to each parameter while it runs (0 where there is no retry)."""
        return _BYTES["float32"] - self.bytes_per_parameter if self.checked else 0

