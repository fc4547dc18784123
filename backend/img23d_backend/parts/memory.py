"""What a parts run needs of memory, phase by phase, and the check before it starts.

A parts model runs in three phases (``models.preflight.Phase``), each holding its network on the device
(the model manager places each as a part of its own, ``generator.PartGenerator.loader``): conditioning
(the image conditioner and one picture's activations), drawing (the DiT's guided passes, with the VAE
beside it: the part loop alternates them part after part) and decoding (the VAE and the grid's points,
which grow with the cube of the grid's side). The peak is the largest; on a CPU every phase is host
memory. The figures are each model's (``PartsRow.memory``, ``PartsRow.part_bytes``), float32.
"""

from __future__ import annotations

from typing import Any

from ..models.preflight import Need, Phase, Room, check_phases
from .generator import PartsRow


def parts_phases(row: PartsRow, grid: int, on_gpu: bool) -> tuple[Phase, ...]:
    """The phases of a run decoding at ``grid``: what each holds on the device (the others wait in RAM)."""
    weights, memory = row.part_bytes, row.memory
    decode = memory.decode_fixed_bytes + int(memory.decode_bytes_per_cell * (grid + 1) ** 3)
    held = {"conditioning the picture": (("conditioner",), memory.condition_bytes),
            "drawing a part": (("dit", "vae"), memory.draw_bytes),
            "decoding a part": (("vae",), decode)}
    phases = []
    for name, (parts, activations) in held.items():
        # A model whose networks are not these (a second parts model's) is counted whole in every phase: an
        # upper bound, where its phases are not known here.
        parts = parts if set(parts) <= set(weights) else tuple(weights)
        device = sum(weights[part] for part in parts) + activations
        waiting = sum(weights.values()) - sum(weights[part] for part in parts)
        phases.append(Phase(name, Need(host=waiting, device=device) if on_gpu else Need(host=device + waiting)))
    return tuple(phases)


def check_parts(row: PartsRow, grid: int, device: Any, room: Room | None = None) -> Phase:
    """The peak phase; ``out_of_memory`` in one sentence when it cannot fit on this machine at all."""
    on_gpu = getattr(device, "type", str(device)) == "cuda"
    return check_phases("making parts", parts_phases(row, grid, on_gpu), device,
                        "decode at a smaller grid (256), or use a machine with more memory", room)
