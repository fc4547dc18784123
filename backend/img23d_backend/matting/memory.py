"""The matting stage's memory, for the preflight: a matting model's activations grow with the side it reads crops
at (1024, or 2048 for a high-resolution one: four times the pixels), so a job whose matting model cannot hold
even one crop on its device is refused before it starts, in one sentence that names a smaller model.

Each model's figures are its row's (``matter.MattingMemory``: bytes per input pixel for one crop and for each
crop more in a batch, and its published weights' size). On a CPU the weights are float32 (twice); the activations
are taken at the GPU's figure for one crop (a README's total also holds the CUDA context and the caching
allocator's slack, which a CPU does not have), and at twice it for each crop more in a batch (derived, not
measured). A replica of another size (the tiny one) is counted in proportion to its weights, as ``step_costs``
counts models.

Crops are matted in batches as large as the memory free beside the loaded model holds (``matting_batch``): all
of a job's crops in one batch put 8 GB of activations on the device for 8 names, more than a small GPU has beside
the models, and the out-of-memory retry then mattes one at a time after a failed try.
"""

from __future__ import annotations

from typing import Any

from img23d_protocol import ErrorCode, ProtocolError

from ..models import preflight
from ..models.preflight import GB, RESERVE_BYTES, Need, Room
from ..models.specs import ModelSpec
from .matter import MattingMemory
from .table import input_side, input_sides, row_of


def matting_need(side: int, weights: int, on_gpu: bool, memory: MattingMemory, scale: float = 1.0) -> Need:
    """One crop through a matting model read at ``side`` x ``side``, beside its ``weights`` (in the dtype it runs
    in: 16 bits on a GPU); ``scale``: its size beside the published model's."""
    activations = int(memory.bytes_per_input_pixel * side * side * scale)
    return Need(host=0, device=weights + activations) if on_gpu else Need(host=weights + activations)


def matting_batch(spec: ModelSpec, device: Any, crops: int, room: Room | None = None) -> int:
    """How many of ``crops`` one batch through the matting model ``spec`` holds in ``room`` (the
    memory free now, the model loaded): at least one, at most all of them."""
    on_gpu = getattr(device, "type", str(device)) == "cuda"
    room = room or preflight.free_room(device)
    side = input_side(spec)
    memory = row_of(spec).memory
    per_crop = int(memory.batch_bytes_per_input_pixel * side * side * _scale(spec, memory) * (1 if on_gpu else 2))
    for batch in range(crops, 1, -1):
        activations = batch * per_crop
        if room.fits(Need(host=0, device=activations) if on_gpu else Need(host=activations)):
            return batch
    return 1


def _scale(spec: ModelSpec, memory: MattingMemory) -> float:
    """``spec``'s size beside its published model's: a replica of another size works in proportion."""
    return spec.size_bytes / memory.published_bytes


def check_matting(spec: ModelSpec, device: Any, room: Room | None = None) -> None:
    """``out_of_memory`` when the matting model and one crop at its side cannot fit in what ``device``
    holds at all (``room``: the machine's, the other models evicted)."""
    on_gpu = getattr(device, "type", str(device)) == "cuda"
    room = room or preflight.total_room(device)
    side = input_side(spec)
    memory = row_of(spec).memory
    weights = spec.size_bytes * (1 if on_gpu else 2)
    need = matting_need(side, weights, on_gpu, memory, _scale(spec, memory))
    if room.fits(need):
        return
    needed, available = (need.device, room.device) if on_gpu and not room.shared else (need.host + need.device,
                                                                                         room.host)
    sides = input_sides()
    smaller = [name for name, other in sides.items() if other < side]
    advice = f": choose {smaller[0]} (it reads crops at {sides[smaller[0]]})" if smaller else ""
    memory_kind = "GPU memory" if on_gpu and not room.shared else "memory"
    raise ProtocolError(ErrorCode.OUT_OF_MEMORY,
                        f"matting with {spec.repo_id} reads each crop at {side} x {side} and needs about "
                        f"{(needed + RESERVE_BYTES) / GB:.1f} GB of {memory_kind}, and this machine has "
                        f"{available / GB:.1f} GB{advice}",
                        f"host {need.host} B, device {need.device} B; room: host {room.host} B, device {room.device} B")
