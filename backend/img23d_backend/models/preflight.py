"""Memory preflight: will a stage fit, with these settings, in the memory there is?

Running out of RAM is not a ``MemoryError``: the operating system kills the process without a
word, the manifest stays ``running`` and the out-of-memory retry never runs. So before the
shape and paint stages, their peak is estimated from the settings and compared with the free
memory: the shape stage runs in smaller batches (down to one target) when that fits, and a
stage that cannot fit even alone is refused with ``out_of_memory`` naming the setting to lower,
before anything is allocated. A job whose settings exceed what the machine holds at all is
refused before it starts, and the backend's hello says the largest settings that fit
(``limits``), so the add-on can refuse them before sending.

The shape stage's peak comes from hy3dgen's dense volume decoding: (octree + 1)^3 grid points,
a float32 coordinate grid built in numpy (three meshgrid copies and their stack), one float32
logit per point and target (kept in chunks, then concatenated), then marching cubes on one
target's volume at a time. Measured with ``bench/preflight_calibration.py`` (tiny models, CPU,
peak resident set above the loaded models): see the constants below and README "Memory
preflight". The DiT's own activations and the paint models' cannot be measured without a GPU and
real-size weights; those constants are estimates from the architectures, marked as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from img23d_protocol import DETAILED_TEXTURE_SIZE, ErrorCode, JobOptions, ProtocolError

from .dtypes import Precision
from .memory import device_memory, ram_available, ram_total
from .shape_memory import DENSE_GRID_MEMORY, DIT_BYTES_PER_IMAGE, MIB, ShapeMemory  # noqa: F401

GB = 1e9

# -- shape: models/shape_memory.py (ShapeMemory, the dense grid's figures) ----------------------------
# Besides the stage's own peak: the interpreter, allocator slack, other threads.
RESERVE_BYTES = 512 * MIB


# -- paint (rasterised views, back-projection, the texture), bytes per pixel ----------------------
# Measured on the CPU, the penguin with the tiny paint models (bench/preflight_calibration.py
# --texture-sizes): the stage's peak above the loaded models grows with the texture's texels
# and the rendered views' pixels (render size^2 x 6 cameras).
PAINT_BYTES_PER_TEXEL = 60
PAINT_BYTES_PER_RENDER_PIXEL = 40
# The multiview UNet's activations at its view size (512 px, six views, fp16): an estimate.
PAINT_DIFFUSION_BYTES = 2048 * MIB

OCTREE_STEPS = (64, 96, 128, 160, 192, 256, 320, 384, 448, 512, 640, 768, 896, 1024)
TEXTURE_STEPS = (256, 512, 1024, 2048, 4096, 8192)


@dataclass(frozen=True)
class Need:
    """Bytes a stage needs in host RAM and on the device (the same memory on a CPU)."""

    host: int
    device: int = 0


@dataclass(frozen=True)
class Room:
    """Bytes available in host RAM and on the device; ``shared`` when the device is the CPU
    (or Apple's unified memory): then both needs come out of the one ``host``."""

    host: int
    device: int = 0
    shared: bool = True

    def fits(self, need: Need) -> bool:
        if self.shared:
            return need.host + need.device + RESERVE_BYTES <= self.host
        return need.host + RESERVE_BYTES <= self.host and need.device + RESERVE_BYTES <= self.device

    def short(self, need: Need) -> tuple[int, int, str]:
        """The memory that is short for ``need``, named for a sentence: (bytes needed, bytes
        available, its name). On a GPU that is the device's or the RAM, not their sum."""
        if self.shared:
            return need.host + need.device, self.host, "memory"
        if need.device + RESERVE_BYTES > self.device:
            return need.device, self.device, "GPU memory"
        return need.host, self.host, "RAM"


def free_room(device: Any) -> Room:
    """What is free now: RAM, and the device's memory when it has its own."""
    if getattr(device, "type", str(device)) == "cuda":
        return Room(host=ram_available(), device=device_memory(device).free, shared=False)
    return Room(host=ram_available())


def total_room(device: Any) -> Room:
    """What the machine holds at all (nothing else running): for refusing impossible settings."""
    ram = ram_total()
    if getattr(device, "type", str(device)) == "cuda":
        return Room(host=ram, device=device_memory(device).total, shared=False)
    return Room(host=ram)


def shape_need(octree: int, batch: int, guidance: bool = True, on_gpu: bool = False,
               memory: ShapeMemory = DENSE_GRID_MEMORY) -> Need:
    """What the shape stage needs beside the loaded model (a float32 retry apart: ``retry_need``)."""
    points = (octree + 1) ** 3
    dit = batch * (2 if guidance else 1) * memory.dit_per_image
    host = int(memory.host_per_point * points + batch * memory.target_per_point * points)
    if not on_gpu:
        return Need(host=host + max(dit, memory.decoder_call))
    return Need(host=host, device=int(memory.device_per_point * points
                                      + batch * memory.device_target_per_point * points) + max(dit, memory.decoder_call))


def retry_need(octree: int, guidance: bool = True, on_gpu: bool = False,
               memory: ShapeMemory = DENSE_GRID_MEMORY) -> Need | None:
    """One target made again in float32 beside the loaded model (a checked precision's retry): its
    float32 run and the 2 bytes per parameter its weights grow by meanwhile; None without a retry.

    Not part of ``shape_need``: the retry happens only where float16 overflowed, and counting it up
    front would refuse older GPUs jobs that usually fit. ``check_retry`` holds it against the
    machine when it is about to happen.
    """
    if memory.retry is None:
        return None
    again = shape_need(octree, 1, guidance, on_gpu, memory.retry)
    if on_gpu:
        return Need(host=again.host, device=again.device + memory.retry_weights)
    return Need(host=again.host + memory.retry_weights)


def check_retry(octree: int, device: Any, memory: ShapeMemory, loaded_weights: int, guidance: bool = True,
                room: Room | None = None) -> None:
    """Before a target is made again in float32: ``out_of_memory`` in one sentence when that cannot
    fit in what the machine holds beside the model's ``loaded_weights`` (the other models can be
    evicted, so all of it counts, not what is free now)."""
    need = retry_need(octree, guidance, _on_gpu(device), memory)
    room = _beside(room or total_room(device), loaded_weights)
    if need is None or room.fits(need):
        return
    needed, available, short = room.short(need)
    raise ProtocolError(
        ErrorCode.OUT_OF_MEMORY,
        f"making it again in float32 needs about {(needed + RESERVE_BYTES) / GB:.1f} GB of {short} beside the "
        f"model, and this machine has {available / GB:.1f} GB: lower the octree resolution, or use a GPU with "
        "bfloat16 (NVIDIA Ampere or newer)",
        f"host {need.host} B, device {need.device} B; room: host {room.host} B, device {room.device} B")


def paint_need(texture_size: int, render_size: int, views: int = 6, on_gpu: bool = False) -> Need:
    pixels = PAINT_BYTES_PER_TEXEL * texture_size ** 2 + PAINT_BYTES_PER_RENDER_PIXEL * views * render_size ** 2
    return Need(host=pixels + PAINT_DIFFUSION_BYTES) if not on_gpu else Need(host=pixels, device=pixels
                                                                                 + PAINT_DIFFUSION_BYTES)


@dataclass(frozen=True)
class PaintModel:
    """A paint model whose memory a family counts itself (where the preflight's own paint figures,
    measured with Hunyuan3D-Paint loaded, do not cover it): its name in a sentence, its weights in the
    dtype it runs in on the job's device, and its sampling's activations."""

    label: str
    weights: int
    sampling: int


def own_paint_need(model: PaintModel, texture_size: int, render_size: int, on_gpu: bool = False) -> Need:
    """Such a paint stage: the model's weights, its sampling and the bake's views and texture (the
    bake is measured as Hunyuan's, the same sizes)."""
    pixels = PAINT_BYTES_PER_TEXEL * texture_size ** 2 + PAINT_BYTES_PER_RENDER_PIXEL * 6 * render_size ** 2
    if not on_gpu:
        return Need(host=model.weights + pixels + model.sampling)
    return Need(host=pixels, device=model.weights + pixels + model.sampling)


def check_own_paint(options: JobOptions, device: Any, model: PaintModel, room: Room | None = None) -> None:
    """Before a job that paints with ``model`` starts: ``out_of_memory`` in one sentence when the
    model and one object's views cannot fit in what the machine holds at all."""
    room = room or total_room(device)
    weights = model.weights
    need = own_paint_need(model, options.texture_size, options.bake_render_size(), on_gpu=_on_gpu(device))
    if room.fits(need):
        return
    short = "GPU memory" if not room.shared and need.device + RESERVE_BYTES > room.device else "memory"
    needed = need.host + need.device if room.shared else max(need.host, need.device)
    available = room.host if room.shared or short == "memory" else room.device
    raise ProtocolError(
        ErrorCode.OUT_OF_MEMORY,
        f"texturing with {model.label} needs about {(needed + RESERVE_BYTES) / GB:.1f} GB of {short} "
        f"(its weights {weights / GB:.1f} GB and one object's views), and this machine has "
        f"{available / GB:.1f} GB in all: turn texture off, or use a machine with more memory",
        f"host {need.host} B, device {need.device} B; room: host {room.host} B, device {room.device} B")


def _on_gpu(device: Any) -> bool:
    return getattr(device, "type", str(device)) == "cuda"


def shape_batch(options: JobOptions, targets: int, device: Any, room: Room | None = None,
                guidance: bool = True, memory: ShapeMemory = DENSE_GRID_MEMORY) -> int:
    """The largest batch (at most the one asked for) whose shape stage fits in ``room`` (free
    memory now); ``out_of_memory`` naming the octree resolution when not even one target fits.
    ``guidance``: the shape model runs classifier-free guidance (its kind says; hy3dgen then
    doubles the DiT's batch whatever the guidance scale, 0 included)."""
    room = room or free_room(device)
    asked = min(targets, options.shape_batch or targets)
    for batch in range(max(asked, 1), 0, -1):
        if room.fits(shape_need(options.octree_resolution, batch, guidance, _on_gpu(device), memory)):
            return batch
    raise _too_big("octree resolution", options.octree_resolution,
                   shape_need(options.octree_resolution, 1, guidance, _on_gpu(device), memory), room,
                   largest_octree(room, guidance, _on_gpu(device), memory), "free now")


def check_paint(options: JobOptions, device: Any, room: Room | None = None) -> None:
    """``out_of_memory`` naming the texture size when painting one mesh cannot fit in ``room``."""
    room = room or free_room(device)
    need = paint_need(options.texture_size, options.bake_render_size(), on_gpu=_on_gpu(device))
    if not room.fits(need):
        raise _too_big("texture size", options.texture_size, need, room,
                       largest_texture(room, _on_gpu(device)), "free now")


def check_job(options: JobOptions, device: Any, room: Room | None = None, shape: bool = True,
              guidance: bool = True, memory: ShapeMemory = DENSE_GRID_MEMORY, own_paint: PaintModel | None = None,
              shape_weights: int = 0) -> None:
    """Before a job starts: refuse settings that one target cannot fit in even on an idle machine
    (``shape``: the job makes shapes; re-texturing only paints; ``guidance`` as in ``shape_batch``;
    ``own_paint``: a paint model its family counts (``PaintModel``), which must fit beside its views;
    ``shape_weights``: the shape model's weights in the dtype it runs in, which its grid must fit beside)."""
    room = room or total_room(device)
    if options.texture and own_paint is not None:
        check_own_paint(options, device, own_paint, room)
    shape_room = _beside(room, shape_weights)
    need = shape_need(options.octree_resolution, 1, guidance, _on_gpu(device), memory)
    if shape and not shape_room.fits(need):
        raise _too_big("octree resolution", options.octree_resolution, need, shape_room,
                       largest_octree(shape_room, guidance, _on_gpu(device), memory),
                       "in all beside the shape model's weights" if shape_weights else "in all")
    if options.texture:
        need = paint_need(options.texture_size, options.bake_render_size(), on_gpu=_on_gpu(device))
        if not room.fits(need):
            raise _too_big("texture size", options.texture_size, need, room, largest_texture(room, _on_gpu(device)),
                           "in all")


def largest_octree(room: Room, guidance: bool = True, on_gpu: bool = False,
                   memory: ShapeMemory = DENSE_GRID_MEMORY) -> int:
    """The largest of the usual octree resolutions that one target fits in ``room`` with (0: none)."""
    fitting = [r for r in OCTREE_STEPS if room.fits(shape_need(r, 1, guidance, on_gpu, memory))]
    return fitting[-1] if fitting else 0


def largest_texture(room: Room, on_gpu: bool = False) -> int:
    fitting = [t for t in TEXTURE_STEPS if room.fits(paint_need(t, min(t, DETAILED_TEXTURE_SIZE), on_gpu=on_gpu))]
    return fitting[-1] if fitting else 0


def limits(device: Any, shape_models_bytes: int = 0, paint_models_bytes: int | None = None,
           guidance: bool = True, memory: ShapeMemory = DENSE_GRID_MEMORY, room: Room | None = None) -> dict[str, int]:
    """For the hello: the largest octree resolution and texture size this machine holds for one
    target while that stage's models are loaded (the manager evicts the other stages' models
    first); ``paint_models_bytes`` None: no texture models, so no texture limit. A setting that
    fits not even at its smallest step is left out: the job's own refusal then explains."""
    total = room or total_room(device)
    found = {"octree_resolution": largest_octree(_beside(total, shape_models_bytes), guidance, _on_gpu(device), memory)}
    if paint_models_bytes is not None:
        found["texture_size"] = largest_texture(_beside(total, paint_models_bytes), on_gpu=_on_gpu(device))
    return {name: value for name, value in found.items() if value}


def _beside(total: Room, models_bytes: int) -> Room:
    """The room left when ``models_bytes`` of models sit where the device computes."""
    if total.shared:
        return Room(host=max(0, total.host - models_bytes))
    return Room(host=total.host, device=max(0, total.device - models_bytes), shared=False)


def _too_big(setting: str, value: int, need: Need, room: Room, largest: int, when: str) -> ProtocolError:
    needed, available, memory = room.short(need)
    advice = f"lower the {setting} (at most {largest} fits)" if largest else f"lower the {setting}"
    return ProtocolError(
        ErrorCode.OUT_OF_MEMORY,
        f"{setting} {value} needs about {(needed + RESERVE_BYTES) / GB:.1f} GB of {memory} for one object, and "
        f"{available / GB:.1f} GB are {when}: {advice}, or close other programs",
        f"host {need.host} B, device {need.device} B; room: host {room.host} B, device {room.device} B")


@dataclass(frozen=True)
class Phase:
    """One phase of a model run in phases (a parts model's conditioning, drawing, decoding): its name in a
    sentence and what it needs (the weights it holds on the device and its activations)."""

    name: str
    need: Need


def check_phases(what: str, phases: tuple[Phase, ...], device: Any, advice: str, room: Room | None = None) -> Phase:
    """Before a run of ``what`` in ``phases`` starts: its peak phase; ``out_of_memory`` in one sentence when
    that phase cannot fit in what the machine holds at all (``room``; the manager evicts the other models
    first), with ``advice``: the setting that makes it smaller."""
    room = room or total_room(device)
    # The peak in the memory the device computes in; a phase that does not fit is the one the sentence names.
    peak = max(phases, key=lambda phase: phase.need.host + phase.need.device if room.shared else phase.need.device)
    peak = next((phase for phase in phases if not room.fits(phase.need)), peak)
    if room.fits(peak.need):
        return peak
    needed, available, memory = room.short(peak.need)
    raise ProtocolError(
        ErrorCode.OUT_OF_MEMORY,
        f"{what} needs about {(needed + RESERVE_BYTES) / GB:.1f} GB of {memory} {peak.name}, and this machine has "
        f"{available / GB:.1f} GB: {advice}",
        f"host {peak.need.host} B, device {peak.need.device} B; room: host {room.host} B, device {room.device} B")
