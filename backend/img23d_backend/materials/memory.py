"""What the material step needs of memory on its views, whichever model it is: the model's weights and
its activations at the side it processes views at (a fixed part and bytes per processed pixel of each view
in the batch, each model's own figures: ``MaterialRow.memory``), and the check a job makes beside the loaded
model (``check_materials``: ``out_of_memory`` in one sentence, which the job turns into keeping the colour;
``views_at_once``: how many views one call takes).
"""

from __future__ import annotations

from typing import Any

from img23d_protocol import ErrorCode, ProtocolError

from ..models.preflight import GB, RESERVE_BYTES, Need, Room, free_room
from .material import MaterialMemory


def materials_need(memory: MaterialMemory, weights: int, resolution: int, bytes_per_value: int = 2,
                   on_gpu: bool = False, views: int = 1) -> Need:
    """The material step on ``views`` views at once: the model's ``weights`` (in the dtype it runs in, of
    ``bytes_per_value``) and its activations at ``resolution`` (the longer side views are processed at)."""
    activations = memory.fixed_bytes + views * int(memory.bytes_per_pixel * resolution ** 2 * bytes_per_value / 4)
    return Need(host=0, device=weights + activations) if on_gpu else Need(host=weights + activations)


def check_materials(memory: MaterialMemory, resolution: int, bytes_per_value: int, device: Any,
                    room: Room | None = None) -> None:
    """``out_of_memory`` when the material step's activations on one view (``resolution``: the side
    it processes views at) cannot fit in ``room`` (free now) beside its loaded model."""
    room = room or free_room(device)
    need = materials_need(memory, 0, resolution, bytes_per_value, on_gpu=getattr(device, "type", str(device)) == "cuda")
    if not room.fits(need):
        needed, available = (need.device, room.device) if need.device and not room.shared else (need.host, room.host)
        raise ProtocolError(ErrorCode.OUT_OF_MEMORY,
                            f"it needs about {(needed + RESERVE_BYTES) / GB:.1f} GB for one view at {resolution} px, "
                            f"and {available / GB:.1f} GB are free now",
                            f"host {need.host} B, device {need.device} B; "
                            f"room: host {room.host} B, device {room.device} B")


def views_at_once(memory: MaterialMemory, resolution: int, bytes_per_value: int, device: Any, views: int,
                  room: Room | None = None) -> int:
    """How many of ``views`` views one call of the material model takes: as many as their activations fit in
    ``room`` (free now) beside the loaded model, at least one; ``out_of_memory`` when not even one fits
    (``check_materials``). A painted object's six views are one batch wherever they fit."""
    room = room or free_room(device)
    check_materials(memory, resolution, bytes_per_value, device, room)
    on_gpu = getattr(device, "type", str(device)) == "cuda"
    fits = 1
    while fits < views and room.fits(materials_need(memory, 0, resolution, bytes_per_value, on_gpu, fits + 1)):
        fits += 1
    return fits
