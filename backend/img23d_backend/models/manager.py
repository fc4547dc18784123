"""The policy: which model should be on the device, in RAM, or dropped, within a budget.

Each model is a handle with a loader, a size (estimated until it is loaded, then measured)
and a tier. ``use(role)`` makes that model resident on the device: it evicts the least
recently used other models first (device -> RAM when RAM has room, else dropped), and
reads from disk only when the model is not in memory at all. Models stay where they are
between jobs, so a second job that fits the budget reads nothing from disk.

A model registered as parts (``handles.PartLoaders``: the image editor's text encoder,
transformer and VAE) keeps one role, but each part is a handle of its own: ``use(role, parts)``
makes only the named parts resident, and the same least-recently-used eviction ranges over parts
as over models. So a model larger than the budget runs in phases when each phase's parts fit, and
when the budget holds every part, nothing moves between phases. Its counters are its parts' summed
(``part_counters`` has each part's).

Models offloaded from a CUDA device to RAM are held in pinned (page-locked) memory, which the
system cannot page out: the total pinned stays within a pinned budget (the RAM tier's budget
when one is set, else half the machine's RAM), and a model past it is offloaded to ordinary
pageable RAM instead (slower to move back, but it leaves the system room).

Moving weights is ``placement``'s job; this module only decides.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from img23d_protocol import ErrorCode, ProtocolError

from ..env import failpoints
from . import env_probe, placement
from .damage import damaged_model, load_errors, missing_file
from .handles import Loader, ModelCounters, ModelHandle, PartLoaders, Policy, Tier, role_record, summed_counters
from .hub import DownloadProgress, part_folders, resolve_model_dir
from .memory import RESERVE_BYTES, default_budget, ram_available, ram_total
from .registry import ModelSpec

__all__ = ["Loader", "ModelCounters", "ModelHandle", "ModelManager", "PartLoaders", "Policy", "Tier"]

log = logging.getLogger(__name__)


class ModelManager:
    """Owns every model's placement for one backend process."""

    def __init__(self, device: Any, budget_bytes: int | None = None,
                 ram_budget_bytes: int | None = None, offline: bool | None = None,
                 resolve: Callable[..., Path] = resolve_model_dir, policy: Policy = Policy.MANAGED,
                 pinned_budget_bytes: int | None = None, host: placement.HostMemory | None = None,
                 role_devices: dict[str, Any] | None = None) -> None:
        self.device = device
        # Roles placed on another device than ``device`` (--device-for grounding=cpu): loaded there and kept
        # there, outside the device's budget and its eviction; ``device_of`` is where each role's model lives.
        self.role_devices = {role: where for role, where in (role_devices or {}).items() if where != device}
        # What a role in use sets around its block (the engine's: env/gpu_knobs.tf32_scope); nothing by default.
        self.precision: Callable[[str, Any], Any] = lambda role, device: nullcontext()
        self.policy = Policy(policy)
        self.budget_bytes = budget_bytes
        self.ram_budget_bytes = ram_budget_bytes
        self.pinned_budget_bytes = pinned_budget_bytes
        self.host = host or placement.CUDA_HOST
        self.pinned_peak = 0  # the most pinned at once since ``reset_pinned_peak`` (each job's start)
        self.offline = offline
        self._resolve = resolve
        self._roles: dict[str, dict[str, ModelHandle]] = {}  # role -> part ("" : the whole model) -> handle
        self._lock = threading.RLock()
        self._last_snapshot: dict[str, Any] = {}  # what ``snapshot`` answers while the manager is held
        self.download_progress: DownloadProgress | None = None
        self.token: str | None = None
        # The restricted licences a download may proceed under (licence_gate): the backend's own
        # (--accept-licence), and during a job, those its options name as well.
        self.accepted_licences: frozenset[str] = frozenset()

    # -- registration --------------------------------------------------------------------

    def register(self, spec: ModelSpec, loader: Loader | PartLoaders) -> None:
        """Add or replace the model for ``spec.role`` (whole, or as parts); a replaced model is dropped first."""
        loaders = loader.loaders if isinstance(loader, PartLoaders) else {"": loader}
        sizes = loader.sizes if isinstance(loader, PartLoaders) else {"": spec.size_bytes}
        with self._lock:
            old = self._roles.get(spec.role, {})
            if old and old.keys() == loaders.keys() and all(handle.spec == spec for handle in old.values()):
                for name, handle in old.items():
                    handle.loader = loaders[name]
                return
            for handle in old.values():
                self._drop(handle)
            self._roles[spec.role] = {name: ModelHandle(spec=spec, loader=part_loader, part=name, size=sizes[name])
                                      for name, part_loader in loaders.items()}

    def spec(self, role: str) -> ModelSpec:
        return next(iter(self._roles[role].values())).spec

    def device_of(self, role: str) -> Any:
        """The device ``role``'s model is loaded on and runs on: its own, or the manager's."""
        return self.role_devices.get(role, self.device)

    def _on_device(self, handle: ModelHandle) -> bool:
        """Whether ``handle`` lives on the manager's device, within its budget (not on a role's own)."""
        return handle.spec.role not in self.role_devices

    @property
    def roles(self) -> list[str]:
        return list(self._roles)

    def parts(self, role: str) -> tuple[str, ...]:
        """The names of ``role``'s parts; empty for a model placed whole."""
        return tuple(name for name in self._roles[role] if name)

    def part_sizes(self, role: str) -> dict[str, int]:
        """Each part's size in bytes (measured once loaded, estimated before); ``{"": size}`` for a whole model."""
        with self._lock:
            return {name: handle.size for name, handle in self._roles[role].items()}

    def _units(self) -> Iterator[ModelHandle]:
        """Every placement unit: whole models and parts alike."""
        for handles in self._roles.values():
            yield from handles.values()

    def _held(self, role: str, parts: Sequence[str] | None) -> list[ModelHandle]:
        handles = self._roles[role]
        if parts is None:
            return list(handles.values())
        unknown = [name for name in parts if name not in handles or not name]
        if unknown or not parts:
            raise ValueError(f"{role!r} has no parts {unknown or list(parts)}; it has {list(self.parts(role))}")
        return [handles[name] for name in dict.fromkeys(parts)]

    def _whole(self, role: str) -> ModelHandle:
        handles = self._roles[role]
        if "" not in handles:
            raise ValueError(f"{role!r} is placed as parts ({', '.join(handles)}), not as one model")
        return handles[""]

    # -- the policy ----------------------------------------------------------------------

    @property
    def is_cpu(self) -> bool:
        return getattr(self.device, "type", str(self.device)) == "cpu"

    def budget(self) -> int:
        return self.budget_bytes if self.budget_bytes is not None else default_budget(self.device)

    @contextmanager
    def reserved(self) -> Iterator[None]:
        """Hold the manager for the block: no model can be loaded, moved or used meanwhile.

        The warm-up imports the heavy libraries under it: transformers' lazily filled module is
        not safe to import from two threads at once, so a job's first load waits instead.
        """
        with self._lock:
            yield

    @contextmanager
    def use(self, role: str, parts: Sequence[str] | None = None) -> Iterator[Any]:
        """Make ``role``'s model resident on the device for the ``with`` block and yield it; for a model
        registered as parts, only ``parts`` (every part when None), yielded as {part name: its object}."""
        with self._lock:
            held = self._held(role, parts)
            # Counted in use before any is made resident: making one room must not evict another of them.
            for handle in held:
                handle.in_use += 1
            try:
                for handle in held:
                    self._make_resident(handle)
                    handle.last_used = time.monotonic()
            except BaseException:
                self._release(held)
                raise
            objects = {handle.part: handle.loaded.obj for handle in held}  # type: ignore[union-attr]
        try:
            with self.precision(role, self.device_of(role)):
                yield objects[""] if "" in objects else objects
        finally:
            with self._lock:
                self._release(held)

    def _release(self, held: list[ModelHandle]) -> None:
        for handle in held:
            handle.in_use -= 1
            handle.last_used = time.monotonic()
            if self.policy is Policy.SEED and handle.in_use == 0:
                self._drop(handle)

    def preload(self, role: str) -> None:
        """Make ``role``'s model resident and leave it there; a parted one part after part, so the budget
        keeps what fits of it (all of it when it fits) rather than holding every part at once."""
        for name in self.parts(role) or ("",):
            with self.use(role, (name,) if name else None):
                pass

    @contextmanager
    def full_precision(self, role: str) -> Iterator[None]:
        """``role``'s model, in use on the device, with its weights in fp32 for the block, then back
        in its own dtype (``placement.cast_for_call``: fp16 -> fp32 -> fp16 is exact).

        For a call that half precision could not compute. Meanwhile the model counts at its fp32
        size: the other models make room for it first, least recently used out, as for a load.
        """
        import torch

        with self._lock:
            handle = self._whole(role)
            if handle.tier is not Tier.DEVICE or handle.loaded is None or handle.in_use == 0:
                raise RuntimeError(f"full_precision({role!r}) is for a model in use on the device")
            size, full = handle.size, placement.weight_bytes(handle.loaded, torch.float32)
            self._make_room(full, keep=handle)
            handle.size = full
            modules = list(handle.loaded.modules)
        log.info("%s in float32 for one call (%.1f MB)", handle.display, full / 2**20)
        try:
            with placement.cast_for_call(modules, torch.float32):
                yield
        finally:
            with self._lock:
                handle.size = size

    def _make_resident(self, handle: ModelHandle) -> None:
        if handle.tier is Tier.DEVICE:
            return
        budgeted = self._on_device(handle)  # a role on its own device takes nothing of the device's budget
        if budgeted:
            self._make_room(handle.size, keep=handle)
        if handle.tier is Tier.RAM:
            assert handle.loaded is not None
            handle.counters.bytes_moved += placement.move(handle.loaded, self.device_of(handle.spec.role),
                                                          host=self.host)
            handle.counters.moves_to_device += 1  # its pinned copy, if it had one, is given back
        else:
            self._load(handle)
            if budgeted:  # measured now: an estimate that fell short must not leave the others over the budget
                self._make_room(handle.size, keep=handle)
        handle.tier = Tier.DEVICE

    def _load(self, handle: ModelHandle) -> None:
        started = time.perf_counter()
        device = self.device_of(handle.spec.role)
        # The one place that readies the environment, before any loader runs and before any
        # download: torchvision for every loader (doing it per loader once left matting without
        # it), then the probes this model declares, so a broken build is named, not a crash.
        env_probe.ready_for_load(handle.spec, device)
        folder = self._resolve(handle.spec, offline=self.offline, progress=self.download_progress,
                               token=self.token, accepted_licences=self.accepted_licences)
        try:
            failpoints.hit(f"load.{handle.spec.role}")
            loaded = handle.loader(folder, device)
        except FileNotFoundError as exc:
            # A file of the model, not the disk: the cache lost it, or it never fully arrived.
            raise missing_file(handle.spec, folder, exc) from exc
        except load_errors() as exc:  # the types a damaged file makes loaders raise (``damage``)
            damaged = damaged_model(handle.spec, part_folders(handle.spec, folder), exc)
            if damaged is None:
                raise  # none of its files is damaged: a bug or the environment, reported as it was
            raise damaged from exc
        loaded.device = device
        handle.loaded = loaded
        handle.size = placement.weight_bytes(loaded)
        handle.measured = True
        handle.counters.loads_from_disk += 1
        handle.counters.load_seconds += time.perf_counter() - started
        log.info("loaded %s from disk (%.1f MB) in %.2fs", handle.display, handle.size / 2**20,
                 time.perf_counter() - started)

    def _make_room(self, needed: int, keep: ModelHandle) -> None:
        if self.policy is Policy.RESIDENT:
            return
        budget = self.budget()
        while self._resident_bytes(exclude=keep) + needed > budget:
            victim = self._lru_evictable(exclude=keep)
            if victim is None:
                if needed > budget:
                    log.warning("%s needs %.1f MB, more than the %.1f MB budget: loading anyway",
                                keep.display, needed / 2**20, budget / 2**20)
                return
            self._evict(victim)

    def _resident_bytes(self, exclude: ModelHandle) -> int:
        return sum(h.size for h in self._units() if h.tier is Tier.DEVICE and h is not exclude and self._on_device(h))

    def _lru_evictable(self, exclude: ModelHandle) -> ModelHandle | None:
        candidates = [h for h in self._units()
                      if h.tier is Tier.DEVICE and h is not exclude and h.in_use == 0 and self._on_device(h)]
        return min(candidates, key=lambda h: h.last_used, default=None)

    def _evict(self, handle: ModelHandle) -> None:
        """Device -> RAM when RAM has room (a later move back is cheap), else drop."""
        if self.is_cpu or not self._ram_has_room(handle.size):
            self._drop(handle)
            return
        assert handle.loaded is not None
        pin = self.pinned_bytes() + placement.pinned_size(handle.loaded, self.host) <= self.pinned_budget()
        handle.counters.bytes_moved += placement.move(handle.loaded, "cpu", pin=pin, host=self.host)
        handle.counters.moves_to_ram += 1
        handle.tier = Tier.RAM
        self.pinned_peak = max(self.pinned_peak, self.pinned_bytes())
        if not pin:
            log.info("%s offloaded to pageable RAM: pinning it would pass the %.1f MB pinned budget",
                     handle.display, self.pinned_budget() / 2**20)
        placement.release_cached_memory(self.host)

    def _ram_has_room(self, size: int) -> bool:
        if self.ram_budget_bytes is not None:
            in_ram = sum(h.size for h in self._units() if h.tier is Tier.RAM)
            return in_ram + size <= self.ram_budget_bytes
        return ram_available() - RESERVE_BYTES >= size

    def _drop(self, handle: ModelHandle) -> None:
        if handle.loaded is not None:
            placement.drop(handle.loaded, self.host)
            handle.loaded = None
            handle.counters.drops += 1
        handle.tier = Tier.DROPPED

    def pinned_budget(self) -> int:
        """How much page-locked RAM offloaded models may hold together."""
        if self.pinned_budget_bytes is not None:
            return self.pinned_budget_bytes
        if self.ram_budget_bytes is not None:
            return self.ram_budget_bytes
        return ram_total() // 2  # page-locked memory cannot be swapped: leave half of it pageable

    def pinned_bytes(self) -> int:
        """Page-locked RAM the models hold now (as the host allocator holds it, rounded up)."""
        with self._lock:
            return sum(h.loaded.pinned_bytes for h in self._units() if h.loaded is not None)

    def reset_pinned_peak(self) -> None:
        with self._lock:
            self.pinned_peak = self.pinned_bytes()

    def offload(self, role: str) -> None:
        """Move one model (every part of it not in use) off the device now (e.g. before a big stage
        that needs it all)."""
        with self._lock:
            for handle in self._roles[role].values():
                if handle.tier is Tier.DEVICE and handle.in_use == 0:
                    self._evict(handle)

    def unload_all(self) -> None:
        with self._lock:
            for handle in self._units():
                if handle.in_use == 0:
                    self._drop(handle)

    # -- reporting -----------------------------------------------------------------------

    def counters(self) -> dict[str, ModelCounters]:
        """Each role's counters (a parted model's: its parts' summed)."""
        with self._lock:
            return {role: summed_counters(handle.counters for handle in handles.values())
                    for role, handles in self._roles.items()}

    def part_counters(self, role: str) -> dict[str, ModelCounters]:
        """Each part's counters (``{"": ...}`` for a whole model)."""
        with self._lock:
            return {name: ModelCounters(**asdict(handle.counters)) for name, handle in self._roles[role].items()}

    def snapshot(self, wait: float = -1) -> dict[str, Any]:
        """Tiers, sizes and counters, JSON-ready, for ``status`` and the manifest; a parted model's
        tier is its part nearest the device, its bytes and counters its parts' summed, beside each part's.
        ``wait``: the seconds to wait while a load, download or move holds the manager (-1: until it ends);
        past them, the last snapshot taken, marked ``"settling": true``. The service's ``status`` waited out
        a whole load on its request reader, which then read no cancel and no keep-alive."""
        if not self._lock.acquire(timeout=wait):
            return {**self._last_snapshot, "settling": True}
        try:
            self._last_snapshot = {
                "device": str(self.device),
                "policy": self.policy.value,
                "budget_bytes": self.budget(),
                "pinned_bytes": self.pinned_bytes(),
                "pinned_budget_bytes": self.pinned_budget(),
                "models": {role: {**role_record(handles), **({"device": str(self.role_devices[role])}
                                                              if role in self.role_devices else {})}
                           for role, handles in self._roles.items()},
            }
            return self._last_snapshot
        finally:
            self._lock.release()

