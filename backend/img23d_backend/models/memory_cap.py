"""A cap on the device memory one backend uses (``--memory-cap-gb``), and what it costs a job, said before it starts.

Under a cap of N GB the process stays within N GB of the device as a whole, models and each stage's working
memory together. On CUDA, ``torch.cuda.set_per_process_memory_fraction`` makes the caching allocator refuse
memory past the cap (an out-of-memory error, which the stages' retries at smaller sizes handle), whatever the
card holds; on a CPU nothing enforces it, and it bounds the models alone. The managed policy's budget for the
models is the cap less the working memory of the stage that needs most beside its models (a textured job's paint
stage at the default texture and render sizes: ``preflight.paint_need``) and a reserve, so that the models fit
beside it; models that do not fit together are moved to RAM and back between stages, a textured job's delight,
paint and material models once a target each when the budget holds only one of them.

``plan`` replays the managed policy's decisions (the least recently used model out first, as
``ModelManager._make_room`` does) over the models a job uses, in order, with their declared sizes: the moves it
will make and the bytes they move. ``MOVE_BYTES_PER_S`` turns those bytes into seconds, which the Generate's
estimate (``jobs.kinds.job_estimate``) says as a stage of its own before the job's first stage.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence


from img23d_protocol import BUDGET_GB_MAX, BUDGET_GB_MIN, ErrorCode, JobOptions, ProtocolError

from . import preflight
from .preflight import RESERVE_BYTES

GIB = 1 << 30
MIN_MODELS_BUDGET = 256 << 20
# Host <-> device copies of weights: pinned memory over PCIe 4.0 x16 moves about 20 GB/s each way, pageable
# memory about half that; the RAM tier holds models in pinned memory within its pinned budget. 10 GB/s is the
# slower of the two, so that the sentence is not optimistic. Not yet measured on a lent GPU.
MOVE_BYTES_PER_S = 10e9
# A model dropped (a CPU has no RAM tier below its device) is read from disk again: the full-size replicas read at
# about 2 GB/s on a lent H200's host (bench/results/full-size-load-gpu-h200.json: 4.26 GB in 2.17 s, 7.66 GB in
# 3.68 s), and their loading about doubles that time.
RELOAD_BYTES_PER_S = 1e9


@dataclass(frozen=True)
class Cap:
    """The device memory one backend may use, in bytes."""

    bytes: int

    @classmethod
    def from_gb(cls, gb: float | None) -> "Cap | None":
        return None if gb is None else cls(int(gb * GIB))

    def working(self, on_gpu: bool) -> int:
        """The most a stage needs beside its models at the default sizes: a textured job's paint stage."""
        options = JobOptions()
        need = preflight.paint_need(options.texture_size, options.bake_render_size(), on_gpu=on_gpu)
        return need.device if on_gpu else need.host

    def models_budget(self, on_gpu: bool, budget: int | None = None) -> int:
        """The managed policy's budget under the cap: the cap less ``working`` and a reserve (and no more than
        ``budget``, a budget also given)."""
        under = max(self.bytes - self.working(on_gpu) - RESERVE_BYTES, MIN_MODELS_BUDGET)
        return under if budget is None else min(under, budget)

    def device_room(self, room: preflight.Room) -> preflight.Room:
        """``room`` with the device (the host, on a CPU) no larger than the cap: what a preflight holds a job
        against under it."""
        if room.shared:
            return preflight.Room(host=min(room.host, self.bytes), shared=True)
        return preflight.Room(host=room.host, device=min(room.device, self.bytes), shared=False)

    def sentence(self) -> str:
        return f"{self.bytes / GIB:g} GB cap"


def check_cap_gb(value: float | None) -> float | None:
    """``--memory-cap-gb`` (the Python API's ``Models.memory_cap_gb``), checked: a number in the budget's range
    (GB), one sentence otherwise."""
    if value is None:
        return None
    # The Python API's value arrives unread (the command line's is a float already, so this sentence names the
    # API's field): a text ("8") raised a TypeError from math, and True (an int to Python) was a 1 GB cap.
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"memory_cap_gb={value!r} is not a number: it must be "
                            f"{BUDGET_GB_MIN:g} to {BUDGET_GB_MAX:g} (GB)")
    try:
        gb = float(value)
    except OverflowError:  # a whole number past any float's range
        gb = math.inf
    if not (math.isfinite(gb) and BUDGET_GB_MIN <= gb <= BUDGET_GB_MAX):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"--memory-cap-gb {gb:g} is out of range: it must be "
                            f"{BUDGET_GB_MIN:g} to {BUDGET_GB_MAX:g} (GB)")
    return gb


def apply_fraction(cap: Cap, device: Any) -> float | None:
    """On CUDA, cap the caching allocator of this process at ``cap`` (the share of the card it is); None
    elsewhere, where nothing enforces it."""
    if getattr(device, "type", str(device)) != "cuda":
        return None
    import torch

    total = torch.cuda.get_device_properties(device).total_memory
    fraction = min(1.0, cap.bytes / total)
    torch.cuda.set_per_process_memory_fraction(fraction, device)
    return fraction


@dataclass
class Plan:
    """What the managed policy does over a job's uses within a budget."""

    moves: int = 0                 # models moved back to the device from RAM, or read again once dropped
    bytes_moved: int = 0           # both ways: device -> RAM when evicted, RAM -> device when used again
    bytes_reloaded: int = 0        # models dropped (on a CPU) and read from disk again
    loads: int = 0                 # models read from disk the first time
    over: list[str] = field(default_factory=list)  # models larger than the budget alone: loaded past it

    @property
    def seconds(self) -> float:
        return self.bytes_moved / MOVE_BYTES_PER_S + self.bytes_reloaded / RELOAD_BYTES_PER_S


def job_uses(roles: Sequence[str], targets: int, texture: bool, materials: bool) -> list[tuple[str, ...]]:
    """The models a Generate uses, in order, each use the models it holds together: grounding, matting,
    depth and shape once, then for each target its paint models together (Hunyuan3D's delight and paint
    model: ``stages.skips.texture_models``) and its material model. ``roles``: the job's (``roles_used``)."""
    uses: list[tuple[str, ...]] = [(role,) for role in ("grounding", "matting", "depth", "shape") if role in roles]
    painting = tuple(role for role in ("delight", "paint") if role in roles) if texture else ()
    for _ in range(max(1, targets) if painting else 0):
        uses.append(painting)
        if materials and "materials" in roles:
            uses.append(("materials",))
    return uses


def plan(sizes: dict[str, int], uses: Iterable[tuple[str, ...]], budget: int, resident: Iterable[str] = (),
         drops: bool = False) -> Plan:
    """Replay the managed policy over ``uses`` with each model's ``sizes`` (declared, or measured) within
    ``budget``: a model not on the device makes room for itself (the least recently used model not in the
    use goes to RAM first, or is dropped with ``drops``: a CPU's) and comes back from RAM, or from disk. Models
    of one use that do not fit together are used one after the other (``stages.skips.texture_models``).
    ``resident``: the models on the device before the first use (a warm job's)."""
    result = Plan()
    on_device: dict[str, int] = {role: -1 for role in resident}  # role -> when last used
    evicted: set[str] = set()
    singles = (group for use in uses for group in
               ([use] if sum(sizes[role] for role in use) <= budget else [(role,) for role in use]))
    for clock, use in enumerate(singles):
        for role in use:
            if role not in on_device:
                while sum(sizes[r] for r in on_device) + sizes[role] > budget:
                    evictable = [r for r in on_device if r not in use]
                    if not evictable:
                        result.over.append(role)  # loaded anyway, past the budget (the manager logs it)
                        break
                    victim = min(evictable, key=lambda r: on_device[r])
                    del on_device[victim]
                    evicted.add(victim)
                    result.bytes_moved += 0 if drops else sizes[victim]
                if role in evicted:
                    evicted.discard(role)
                    result.moves += 1
                    if drops:
                        result.bytes_reloaded += sizes[role]
                    else:
                        result.bytes_moved += sizes[role]
                else:
                    result.loads += 1
            on_device[role] = clock
    return result


def cap_text(cap: Cap, plan_: Plan) -> str:
    """The estimate's stage name for the moves under ``cap``: "models moved under the 8 GB cap (6 times, 55.6 GB)"."""
    gb = (plan_.bytes_moved + plan_.bytes_reloaded) / 1e9
    return f"models moved under the {cap.sentence()} ({plan_.moves} times, {gb:.1f} GB)"
