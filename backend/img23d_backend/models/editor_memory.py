"""The image editor's memory: what it needs where, and which placement makes it fit a card.

FLUX.2 [klein] 4B is three networks run one after the other (the text encoder reads the
instruction once, the transformer denoises, the VAE encodes the crop and decodes the result:
diffusers' ``Flux2KleinPipeline.model_cpu_offload_seq`` is "text_encoder->transformer->vae"). With
every part on the GPU it needs their sum, 15.96 GB in bfloat16, beside its activations: more than a
12 GB card has. With model offloading (one part on the GPU at a time, the others waiting in RAM) it
needs the largest part, the 8.04 GB text encoder, beside them. ``editor_placement`` says which of
the two fits a machine, or, when neither does, which setting to lower.

The activations are an estimate, not measured (no GPU here, and the full-size replica in float32
needs 32 GB of RAM this machine does not have to spare): a fixed part for the text encoder's 512
instruction tokens and allocator slack, and bytes per edited pixel for the transformer's tokens (the
noise and the crop's latents, one token per 16 x 16 pixels each, 3,072 wide, the single blocks'
fused 27,648-wide projection the largest tensor) and the VAE's full-resolution feature maps (128
channels a pixel at the last decoder stage, several alive at once), in bfloat16. One public report
bounds it: the same model at this revision in fp16 at 512 x 384 with model offloading peaked at
7.987 GiB on a 12 GB card, 0.5 GiB above its text encoder's weights (a 2026-07-31 commissioning
probe of FLUX.2 [klein] 4B, "sequential CPU offload ... 0.968 GiB; model CPU offload also fit, at
7.987 GiB peak").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from img23d_protocol import ErrorCode, ProtocolError

from .preflight import GB, MIB, RESERVE_BYTES, Need, Room, free_room, total_room

# Activations of one edit, in 16-bit values (an estimate: the module docstring says how).
EDITOR_FIXED_BYTES = 512 * MIB
EDITOR_BYTES_PER_PIXEL = 2_000
# The card the issue asks the editor to fit ("it must fit a 12 GB card with offloading"): such cards
# (an RTX 3060 12 GB, a 4070) hold 12 GiB.
SMALL_CARD_BYTES = 12 << 30


class EditorPlacement(str, Enum):
    """Where the editor's parts sit while it runs."""

    RESIDENT = "resident"           # every part on the device
    OFFLOADED = "model offloading"  # one part on the device at a time, the others in RAM


@dataclass(frozen=True)
class EditorFit:
    """The placement that fits, and what it needs."""

    placement: EditorPlacement
    need: Need


def editor_activations(pixels: int, bytes_per_value: int = 2) -> int:
    """One edit's activations at ``pixels`` (the area a crop is edited at) in values of ``bytes_per_value``."""
    return EDITOR_FIXED_BYTES + int(EDITOR_BYTES_PER_PIXEL * pixels * bytes_per_value / 2)


def editor_need(parts: dict[str, int], pixels: int, bytes_per_value: int = 2, on_gpu: bool = False,
                placement: EditorPlacement = EditorPlacement.RESIDENT) -> Need:
    """The editor's need: its ``parts``' weights (bytes each, in the dtype it runs in) and one edit's
    activations, where they sit. On a CPU everything is host memory and offloading changes nothing."""
    activations = editor_activations(pixels, bytes_per_value)
    weights = sum(parts.values())
    if not on_gpu:
        return Need(host=weights + activations)
    if placement is EditorPlacement.RESIDENT:
        return Need(host=0, device=weights + activations)
    largest = max(parts.values())
    return Need(host=weights - largest, device=largest + activations)


def editor_placement(parts: dict[str, int], pixels: int, device: Any, bytes_per_value: int = 2,
                     room: Room | None = None) -> EditorFit:
    """The first placement, resident then offloaded, whose need fits ``room`` (what the machine
    holds at all, by default); ``out_of_memory`` in one sentence naming the setting to lower when
    neither does."""
    room = room or total_room(device)
    on_gpu = getattr(device, "type", str(device)) == "cuda"
    for placement in (EditorPlacement.RESIDENT, EditorPlacement.OFFLOADED):
        need = editor_need(parts, pixels, bytes_per_value, on_gpu, placement)
        if room.fits(need):
            return EditorFit(placement, need)
        if not on_gpu:
            break
    short = "GPU memory" if on_gpu and need.device + RESERVE_BYTES > room.device else "memory"
    needed = need.device if short == "GPU memory" else need.host + (need.device if room.shared else 0)
    available = room.device if short == "GPU memory" else room.host
    raise ProtocolError(
        ErrorCode.OUT_OF_MEMORY,
        f"the image editor needs about {(needed + RESERVE_BYTES) / GB:.1f} GB of {short}"
        + (" with model offloading (one part on the GPU at a time)" if on_gpu else "")
        + f" to edit at {pixels:,} pixels, and this machine has {available / GB:.1f} GB: lower the editing "
          "size, or use a machine with more memory",
        f"host {need.host} B, device {need.device} B; room: host {room.host} B, device {room.device} B")


def check_editor_activations(pixels: int, bytes_per_value: int, device: Any, room: Room | None = None) -> None:
    """``out_of_memory`` when one edit's activations at ``pixels`` cannot fit in ``room`` (free now)
    beside the loaded editor."""
    room = room or free_room(device)
    activations = editor_activations(pixels, bytes_per_value)
    need = Need(host=0, device=activations) if not room.shared else Need(host=activations)
    if room.fits(need):
        return
    available = room.host if room.shared else room.device
    raise ProtocolError(ErrorCode.OUT_OF_MEMORY,
                        f"it needs about {(activations + RESERVE_BYTES) / GB:.1f} GB to edit at {pixels:,} pixels, "
                        f"and {available / GB:.1f} GB are free now",
                        f"activations {activations} B; room: host {room.host} B, device {room.device} B")
