"""The matting stage's memory, for the preflight: BiRefNet's activations grow with the side it reads
crops at (1024, or 2048 for BiRefNet_HR: four times the pixels), so a job whose matting model cannot
hold even one crop on its device is refused before it starts, in one sentence that names the
smaller model.

BiRefNet's README gives about 5.5 GB of GPU memory for inference at 1024 x 1024 in fp16; less its
0.45 GB of weights, about 4,800 bytes per input pixel. Swin's windowed attention and the
convolutional decoder both grow in proportion to the pixels, so 2048 x 2048 is taken as four times
that. An estimate from the README and the architecture, not measured here (no GPU). On a CPU the
weights are float32 (twice); the activations are taken at the same figure, since the README's total
also holds the CUDA context and the caching allocator's slack, which a CPU does not have. A replica
of another size (the tiny one) is counted in proportion to its weights, as ``step_costs`` counts models.

Crops are matted in batches as large as the memory free beside the loaded model holds
(``matting_batch``): all of a job's crops in one batch put 8 GB of activations on the device for 8
names, more than a small GPU has beside the models, and the out-of-memory retry then mattes one at
a time after a failed try.
"""

from __future__ import annotations

from typing import Any

from img23d_protocol import ErrorCode, ProtocolError

from .birefnet.model import INPUT_SIDES, input_side
from ..models import preflight
from ..models.preflight import GB, RESERVE_BYTES, Need, Room
from ..models.specs import ModelSpec

BYTES_PER_INPUT_PIXEL = 4_800
BIREFNET_BYTES = int(0.45 * GB)  # the real checkpoints' weights in fp16 (BiRefNet and BiRefNet_HR alike)
# Each crop more in one batch. Measured on an H100 with BiRefNet's full-size stand-in
# (matting/birefnet/replica.py: its parameters, input and cost) in fp16 at 1024 x 1024: the matting stage
# peaked at 12.07 GB with 3 crops in its batch and 17.24 GB with 8, the other models resident
# (bench/results/chain-managed-gpu-h100.json): 1.03 GB a crop, 986 bytes per input pixel. On a CPU
# the activations are float32, taken as twice that (derived, not measured: no CPU run of the
# full-size stand-in batches crops).
BATCH_BYTES_PER_INPUT_PIXEL = 986


def matting_need(side: int, weights: int, on_gpu: bool, scale: float = 1.0) -> Need:
    """One crop through the matting model read at ``side`` x ``side``, beside its ``weights`` (in the
    dtype it runs in: fp16 on a GPU, ``dtypes.matting_dtype``); ``scale``: its size beside BiRefNet's."""
    activations = int(BYTES_PER_INPUT_PIXEL * side * side * scale)
    return Need(host=0, device=weights + activations) if on_gpu else Need(host=weights + activations)


def matting_batch(spec: ModelSpec, device: Any, crops: int, room: Room | None = None) -> int:
    """How many of ``crops`` one batch through the matting model ``spec`` holds in ``room`` (the
    memory free now, the model loaded): at least one, at most all of them."""
    on_gpu = getattr(device, "type", str(device)) == "cuda"
    room = room or preflight.free_room(device)
    side = input_side(spec)
    per_crop = int(BATCH_BYTES_PER_INPUT_PIXEL * side * side * _beside_birefnet(spec) * (1 if on_gpu else 2))
    for batch in range(crops, 1, -1):
        activations = batch * per_crop
        if room.fits(Need(host=0, device=activations) if on_gpu else Need(host=activations)):
            return batch
    return 1


def _beside_birefnet(spec: ModelSpec) -> float:
    """``spec``'s size beside BiRefNet's: a replica of another size works in proportion."""
    return spec.size_bytes / BIREFNET_BYTES


def check_matting(spec: ModelSpec, device: Any, room: Room | None = None) -> None:
    """``out_of_memory`` when the matting model and one crop at its side cannot fit in what ``device``
    holds at all (``room``: the machine's, the other models evicted)."""
    on_gpu = getattr(device, "type", str(device)) == "cuda"
    room = room or preflight.total_room(device)
    side = input_side(spec)
    weights = spec.size_bytes * (1 if on_gpu else 2)
    need = matting_need(side, weights, on_gpu, _beside_birefnet(spec))
    if room.fits(need):
        return
    needed, available = (need.device, room.device) if on_gpu and not room.shared else (need.host + need.device,
                                                                                         room.host)
    smaller = [name for name, other in INPUT_SIDES.items() if other < side]
    advice = f": choose {smaller[0]} (it reads crops at {INPUT_SIDES[smaller[0]]})" if smaller else ""
    memory = "GPU memory" if on_gpu and not room.shared else "memory"
    raise ProtocolError(ErrorCode.OUT_OF_MEMORY,
                        f"matting with {spec.repo_id} reads each crop at {side} x {side} and needs about "
                        f"{(needed + RESERVE_BYTES) / GB:.1f} GB of {memory}, and this machine has "
                        f"{available / GB:.1f} GB{advice}",
                        f"host {need.host} B, device {need.device} B; room: host {room.host} B, device {room.device} B")
