"""The image editor's memory: what each phase of an edit needs where, and which placement fits.

FLUX.2 [klein] 4B is three networks run one after the other, and ``driver`` runs an
edit in three phases through the model manager (``EDITOR_PHASES``), each holding only its parts on
the device: the text encoder reads the instructions; the VAE encodes the crops and the transformer
denoises; the VAE decodes. The manager places the parts within its budget (``manager.PartLoaders``):
when the budget holds every part (15.96 GB in bfloat16) they all stay, and nothing moves between
phases (``RESIDENT``); when it holds only each phase's parts, the least recently used part goes to
RAM to make room for the next phase's (``PHASED``). Phased, the peak is the larger of the text
encoder (8.04 GB) with the instruction's activations and the transformer with the VAE (7.92 GB)
with the picture's: at the default 1024 x 1024 area the second, about 10.5 GB, so the editor fits a
12 GiB card, with 8 GB of parts waiting in RAM. ``editor_placement`` picks the placement from the
budget and the card, or says in one sentence which setting makes it fit.

Qwen-Image-Edit-2511 (``--editor qwen-image-edit-2511``) runs through the same phases: its
transformer alone is 40.9 GB in bfloat16 (its text encoder 16.6 GB, its VAE 0.25 GB), so its
denoising phase needs a card of about 48 GB and every part resident about 60 GB (an 80 GB card); on
a 12 GB card no area fits and the sentence offers ``--editor flux2-klein-4b``. Its activations are
taken from the same estimate (its 1024 x 1024 edit has twice klein's tokens, the crop's latents
beside the noise, but beside 41 GB of weights the estimate's error does not change a verdict).

The activations are an estimate, not measured (no GPU here, and the full-size replica in float32
needs 32 GB of RAM this machine does not have to spare): a fixed part for the text encoder's 512
instruction tokens and allocator slack, the whole of the encoding phase's, and for the other two
phases bytes per edited pixel besides for the transformer's tokens (the noise and the crop's latents,
one token per 16 x 16 pixels each, 3,072 wide, the single blocks' fused 27,648-wide projection the
largest tensor) and the VAE's full-resolution feature maps (128 channels a pixel at the last decoder
stage, several alive at once), in bfloat16. One public report bounds it: the same model at this
revision in fp16 at 512 x 384 with model offloading peaked at 7.987 GiB on a 12 GB card (a
2026-07-31 commissioning probe of FLUX.2 [klein] 4B, "sequential CPU offload ... 0.968 GiB; model
CPU offload also fit, at 7.987 GiB peak"); the estimate here for that run is 7.99 GiB in the
encoding phase and 8.2 GiB in the denoising one.

Each more picture of the object given beside the crop (its views, issue 55: ``EditRequest.references``)
adds its latents to the transformer's sequence, one token per 16 x 16 pixels of its canvas (about the
edit's area), and nothing to the VAE's peak (the pipeline encodes the pictures one after another):
``REFERENCE_BYTES_PER_PIXEL`` a pixel of the edit for each, in the denoising phase. Per token the
largest tensors a single block holds at once are its fused projection (27,648 values) and the
attention's and the MLP's outputs beside the residual stream (about 4 x 3,072): some 40,000 16-bit
values, 80 kB, over 256 pixels. Qwen-Image-Edit-2511's text encoder also reads each picture (at
384 x 384's area, about 190 more tokens each beside the instruction's): within the encoding phase's
fixed part, so not counted apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any

from img23d_protocol import ErrorCode, ProtocolError

from ..models.memory import RESERVE_BYTES as BUDGET_RESERVE_BYTES
from ..models.preflight import GB, MIB, RESERVE_BYTES, Need, Room, free_room, total_room

# Activations of one edit, in 16-bit values (an estimate: the module docstring says how).
EDITOR_FIXED_BYTES = 512 * MIB
EDITOR_BYTES_PER_PIXEL = 2_000
REFERENCE_BYTES_PER_PIXEL = 40_000 * 2 // 256  # one more picture's tokens (the module docstring says how)
# The card the issue asks the editor to fit ("it must fit a 12 GB card with offloading"): such cards
# (an RTX 3060 12 GB, a 4070) hold 12 GiB.
SMALL_CARD_BYTES = 12 << 30
GIB = 1 << 30
# The editing areas the one sentence may offer when a smaller one would fit (square sides, in pixels).
EDIT_SIDES = (1024, 896, 768, 640, 512, 384, 256)


@dataclass(frozen=True)
class EditorPhase:
    """One phase of an edit: the parts it holds on the device, and whether its activations grow with
    the edited area (the transformer's tokens, the VAE's feature maps) or not (the instruction's)."""

    name: str
    parts: tuple[str, ...]
    per_pixel: bool


ENCODE = EditorPhase("encoding the instructions", ("text_encoder",), per_pixel=False)
DENOISE = EditorPhase("denoising", ("transformer", "vae"), per_pixel=True)
DECODE = EditorPhase("decoding", ("vae",), per_pixel=True)
EDITOR_PHASES = (ENCODE, DENOISE, DECODE)  # the order an edit runs them in


class EditorPlacement(str, Enum):
    """Where the editor's parts sit while it runs."""

    RESIDENT = "resident"  # every part on the device: nothing moves between phases
    PHASED = "phased"      # each phase's parts on the device, the others in RAM


@dataclass(frozen=True)
class EditorFit:
    """The placement that fits, its peak phase and what that phase needs."""

    placement: EditorPlacement
    peak: EditorPhase
    need: Need

    def sentence(self) -> str:
        """What the log says of it."""
        where = "every part on the device" if self.placement is EditorPlacement.RESIDENT else "in phases"
        return (f"the image editor runs {where}; it peaks {self.peak.name} at about "
                f"{(self.need.device or self.need.host) / GB:.1f} GB")


def editor_activations(pixels: int, bytes_per_value: int = 2, phase: EditorPhase = DENOISE,
                       references: int = 0) -> int:
    """One phase's activations at ``pixels`` (the area a crop is edited at) in values of ``bytes_per_value``,
    with ``references`` more pictures beside the crop (their tokens count while denoising)."""
    if not phase.per_pixel:
        return EDITOR_FIXED_BYTES
    per_pixel = EDITOR_BYTES_PER_PIXEL + (REFERENCE_BYTES_PER_PIXEL * references if phase is DENOISE else 0)
    return EDITOR_FIXED_BYTES + int(per_pixel * pixels * bytes_per_value / 2)


def phase_weights(parts: dict[str, int], phase: EditorPhase, placement: EditorPlacement) -> int:
    """The weights on the device while ``phase`` runs: its parts', or every part's when resident."""
    if placement is EditorPlacement.RESIDENT:
        return sum(parts.values())
    return sum(parts[name] for name in phase.parts)


def editor_need(parts: dict[str, int], pixels: int, bytes_per_value: int = 2, on_gpu: bool = False,
                placement: EditorPlacement = EditorPlacement.RESIDENT,
                phase: EditorPhase | None = None, references: int = 0) -> Need:
    """The editor's need while ``phase`` runs (None: its peak phase) with ``references`` more pictures beside
    each crop: the weights on the device and the phase's activations; phased on a GPU, the other parts wait
    in RAM. On a CPU everything is host memory."""
    if phase is None:
        return max((editor_need(parts, pixels, bytes_per_value, on_gpu, placement, one, references)
                    for one in EDITOR_PHASES), key=lambda need: _on(need, on_gpu))
    weights = phase_weights(parts, phase, placement)
    activations = editor_activations(pixels, bytes_per_value, phase, references)
    if not on_gpu:
        return Need(host=weights + activations)
    return Need(host=sum(parts.values()) - weights, device=weights + activations)


def editor_placement(parts: dict[str, int], pixels: int, device: Any, bytes_per_value: int = 2,
                     room: Room | None = None, budget: int | None = None,
                     smaller_editor: str | None = None, references: int = 0) -> EditorFit:
    """The first placement, resident then phased, whose weights on the device fit the manager's
    ``budget`` (None: what it takes on an idle machine, the device's memory less its reserve) and whose
    peak fits ``room`` (what the machine holds at all, by default); ``out_of_memory`` in one sentence
    naming the setting that makes it fit when neither does (``smaller_editor``: the ``--editor`` choice
    to offer when no smaller area can make this one fit, as for Qwen-Image-Edit-2511 on a 12 GB card;
    ``references``: the most pictures beside one crop)."""
    room = room or total_room(device)
    on_gpu = getattr(device, "type", str(device)) == "cuda"
    budget = budget if budget is not None else (room.device if on_gpu else room.host) - BUDGET_RESERVE_BYTES
    for placement in (EditorPlacement.RESIDENT, EditorPlacement.PHASED):
        peak = max(EDITOR_PHASES, key=lambda phase: _on(editor_need(parts, pixels, bytes_per_value, on_gpu,
                                                                    placement, phase, references), on_gpu))
        need = editor_need(parts, pixels, bytes_per_value, on_gpu, placement, peak, references)
        largest = max(phase_weights(parts, phase, placement) for phase in EDITOR_PHASES)
        if largest <= budget and room.fits(need):
            return EditorFit(placement, peak, need)
    raise _does_not_fit(parts, pixels, bytes_per_value, on_gpu, room, budget, largest, peak, need, smaller_editor,
                        references)


def _does_not_fit(parts: dict[str, int], pixels: int, bytes_per_value: int, on_gpu: bool, room: Room,
                  budget: int, largest: int, peak: EditorPhase, need: Need,
                  smaller_editor: str | None, references: int) -> ProtocolError:
    """The one sentence when even phased does not fit: the budget to raise, a smaller area to edit, or
    the machine that it takes."""
    available = room.device if on_gpu else room.host
    memory = "GPU memory" if on_gpu else "memory"
    if largest > budget and largest + EDITOR_FIXED_BYTES + RESERVE_BYTES <= available:
        settable = math.ceil(largest / GIB * 10) / 10  # --budget-gb counts GiB
        advice = (f"its largest phase holds {largest / GIB:.1f} GiB of weights on the device, more than the "
                  f"{budget / GIB:.1f} GiB budget: set --budget-gb to at least {settable:.1f}")
    else:
        sides = [side for side in EDIT_SIDES if side * side < pixels and room.fits(
            editor_need(parts, side * side, bytes_per_value, on_gpu, EditorPlacement.PHASED,
                        references=references))]
        # Which memory is short: a GPU's phases keep the other parts in RAM, and a card that holds the peak beside
        # too little RAM was told "GPU memory ... use a machine with more GPU memory".
        needed, have, memory = room.short(need) if on_gpu and not room.shared else (_on(need, on_gpu), available,
                                                                                    memory)
        shortfall = f"it needs about {(needed + RESERVE_BYTES) / GB:.1f} GB of {memory} {peak.name} " \
                    f"at {pixels:,} pixels, and this machine has {have / GB:.1f} GB"
        if sides:
            advice = f"{shortfall}: edit at a smaller size (--edit-size {sides[0]} or less fits)"
        elif smaller_editor is not None:
            advice = (f"{shortfall}: choose --editor {smaller_editor}, which runs in phases on a 12 GB card, "
                      f"or use a machine with more {memory}")
        else:
            advice = f"{shortfall}: use a machine with more {memory}"
    return ProtocolError(ErrorCode.OUT_OF_MEMORY, f"the image editor does not fit even in phases: {advice}",
                         f"parts {parts}; peak {peak.name}: host {need.host} B, device {need.device} B; "
                         f"budget {budget} B; room: host {room.host} B, device {room.device} B")


def _on(need: Need, on_gpu: bool) -> int:
    """The part of ``need`` in the memory the device computes in."""
    return need.device if on_gpu else need.host


def check_editor_activations(pixels: int, bytes_per_value: int, device: Any, room: Room | None = None,
                             phase: EditorPhase = DENOISE, references: int = 0) -> None:
    """``out_of_memory`` when ``phase``'s activations at ``pixels`` (with ``references`` more pictures
    beside a crop) cannot fit in ``room`` (free now) beside the parts the manager holds."""
    room = room or free_room(device)
    activations = editor_activations(pixels, bytes_per_value, phase, references)
    need = Need(host=0, device=activations) if not room.shared else Need(host=activations)
    if room.fits(need):
        return
    available = room.host if room.shared else room.device
    raise ProtocolError(ErrorCode.OUT_OF_MEMORY,
                        f"it needs about {(activations + RESERVE_BYTES) / GB:.1f} GB {phase.name} at {pixels:,} "
                        f"pixels, and {available / GB:.1f} GB are free now",
                        f"activations {activations} B; room: host {room.host} B, device {room.device} B")
