"""Pinned host memory is an accounted resource: given back on eviction, bounded, in the manifest.

No GPU is needed to check the bookkeeping: the device "meta" stands in for CUDA, and a counting
host memory stands in for page-locked memory. Its blocks are real CPU buffers, rounded up to a
power of two as torch's caching host allocator rounds them, and a block counts as freed only
when its storage is really gone (a finalizer on the buffer), so a model that keeps a reference to
its pinned copy shows up as memory not given back.
"""

from __future__ import annotations

import json
import weakref
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from img23d_backend.jobs.base import JobRun
from img23d_backend.jobs.engine import Job
from img23d_backend.models import placement
from img23d_backend.models.manager import ModelManager
from img23d_backend.models.placement import LoadedModel
from img23d_backend.models.registry import ModelSpec
from img23d_backend.runs.folders import RunFolder
from img23d_protocol import GenerateRequest, JobOptions

MB = 1 << 20
BLOCK = 4 * MB  # a 3 MB model's pinned copy, as the allocator holds it (the next power of two)


class CountingHost(placement.HostMemory):
    """Pinned memory on a machine without CUDA: counts what is allocated, freed and given back."""

    def __init__(self) -> None:
        self.allocated = 0
        self.freed = 0
        self.emptied: list[int] = []  # at each empty_cache call: the bytes still in use (what it cannot give back)
        self.most_live = 0
        self.pageable = 0       # bytes copied to ordinary RAM instead

    def applies(self, source: Any, target: Any) -> bool:
        return "meta" in (target.type, getattr(source, "type", ""))

    def pinned_copy(self, tensor: Any) -> Any:
        held = self.held_bytes(tensor)
        buffer = np.empty(held, dtype=np.uint8)
        weakref.finalize(buffer, self._free, held)  # runs when the last tensor on it is gone
        self.allocated += held
        self.most_live = max(self.most_live, self.live)
        size = tensor.numel() * tensor.element_size()
        # The weights' values stay on "meta": what is counted here is memory, not data.
        return torch.from_numpy(buffer)[:size].view(tensor.dtype).view(tensor.shape)

    def pageable_copy(self, tensor: Any) -> Any:
        self.pageable += tensor.numel() * tensor.element_size()
        return torch.empty(tensor.shape, dtype=tensor.dtype, device="cpu")

    def _free(self, held: int) -> None:
        self.freed += held

    def wait(self) -> None:
        pass

    def empty_cache(self) -> None:
        self.emptied.append(self.live)

    @property
    def live(self) -> int:
        # No collection here: a block that only a garbage collection would free is still held, as
        # page-locked memory would be (the backend collects where it gives memory back,
        # placement.release_cached_memory); a full collection per look cost seconds in a large process.
        return self.allocated - self.freed


def _spec(role: str) -> ModelSpec:
    return ModelSpec(role=role, repo_id=f"test/{role}", local_path=Path("/nowhere"), size_bytes=3 * MB)


def _loader(folder: Path, device: Any) -> LoadedModel:
    """3 MB of fp32 weights on the stand-in device."""
    module = torch.nn.Linear(256, 3 * MB // 4 // 256, bias=False, device="meta")
    return LoadedModel(obj=module, modules=[module])


def _manager(roles: str, budget_mb: int, **options: Any) -> tuple[ModelManager, CountingHost]:
    host = CountingHost()
    manager = ModelManager(torch.device("meta"), budget_bytes=budget_mb * MB, host=host,
                           resolve=lambda spec, **kw: Path("/nowhere"), **options)
    for role in roles:
        manager.register(_spec(role), _loader)
    return manager, host


def _use(manager: ModelManager, *roles: str) -> None:
    for role in roles:
        with manager.use(role):
            pass


def _pinned(manager: ModelManager) -> dict[str, int]:
    return {role: model["pinned_bytes"] for role, model in manager.snapshot()["models"].items()}


def test_a_model_moved_back_to_the_device_gives_its_pinned_memory_back() -> None:
    manager, host = _manager("abc", budget_mb=7)
    _use(manager, "a", "b", "c")  # 9 MB > 7: "a" goes to RAM, pinned
    assert _pinned(manager) == {"a": BLOCK, "b": 0, "c": 0} and host.live == BLOCK
    assert manager.snapshot()["pinned_bytes"] == BLOCK
    _use(manager, "a")  # back to the device; "b" is now the oldest and goes to RAM
    assert _pinned(manager) == {"a": 0, "b": BLOCK, "c": 0}
    assert host.live == BLOCK, "a's pinned copy was not freed when it went back to the device"
    assert host.emptied[-1] == BLOCK, "the allocator's cache was not emptied after a's copy was let go"


def test_a_model_dropped_from_ram_frees_its_pinned_memory() -> None:
    manager, host = _manager("abc", budget_mb=7)
    _use(manager, "a", "b", "c")
    assert host.live == BLOCK
    manager.unload_all()
    assert manager.pinned_bytes() == 0 and host.live == 0
    assert host.emptied[-1] == 0  # emptied once nothing was left in use


def test_pinned_memory_stays_within_its_budget_and_the_rest_is_pageable() -> None:
    manager, host = _manager("abcde", budget_mb=4, pinned_budget_bytes=2 * BLOCK)
    _use(manager, "a", "b", "c", "d", "e")  # one fits the device: four go to RAM, two can be pinned
    tiers = {role: model["tier"] for role, model in manager.snapshot()["models"].items()}
    assert tiers == {"a": "ram", "b": "ram", "c": "ram", "d": "ram", "e": "device"}
    assert _pinned(manager) == {"a": BLOCK, "b": BLOCK, "c": 0, "d": 0, "e": 0}
    for _ in range(3):  # round and round: every model goes back and forth
        _use(manager, "a", "b", "c", "d", "e")
        assert manager.pinned_bytes() <= 2 * BLOCK and host.live == manager.pinned_bytes()
    assert host.most_live <= 2 * BLOCK and host.pageable > 0
    assert manager.snapshot()["pinned_budget_bytes"] == 2 * BLOCK


def test_the_pinned_budget_is_the_ram_budget_when_one_is_set() -> None:
    manager, _ = _manager("a", budget_mb=4, ram_budget_bytes=123 * MB)
    assert manager.pinned_budget() == 123 * MB


class _Shuffle(JobRun):
    """A job that only uses models, in the order it is given."""

    kind = "generate"
    order = ""

    def body(self) -> dict[str, Any]:
        _use(self.manager, *self.order)
        return {}


def _job(manager: ModelManager, tmp_path: Path, order: str) -> dict[str, Any]:
    engine = SimpleNamespace(manager=manager, device=torch.device("cpu"), runtime_record=lambda role: {},
                             settings=SimpleNamespace(runs_dir=tmp_path, accepted_licences=frozenset()))
    request = GenerateRequest(id="t", image=str(tmp_path / "picture.png"), targets=[], options=JobOptions())
    job = Job(id="t", emit=lambda event: None)
    run = _Shuffle(engine, request, job, _Shuffle.make_folder(engine, request, job))  # type: ignore[arg-type]
    run.order = order
    run.run()
    folder: RunFolder = run.run_folder
    return json.loads(folder.path("manifest.json").read_text())


def test_the_manifest_records_each_jobs_pinned_peak_and_what_is_left(tmp_path: Path) -> None:
    manager, _ = _manager("abc", budget_mb=7)
    first = _job(manager, tmp_path, "abc")        # "a" is offloaded, pinned
    assert first["pinned_host_bytes"] == {"peak": BLOCK, "end": BLOCK}
    second = _job(manager, tmp_path, "a")         # "b" is pinned before "a"'s copy is let go
    assert second["pinned_host_bytes"] == {"peak": 2 * BLOCK, "end": BLOCK}


@pytest.mark.parametrize("size, held", [(1, 1), (3 * MB, 4 * MB), (4 * MB, 4 * MB), (4 * MB + 4, 8 * MB)])
def test_pinned_sizes_are_counted_as_the_allocator_holds_them(size: int, held: int) -> None:
    assert placement.CUDA_HOST.held_bytes(torch.empty(size, dtype=torch.uint8, device="meta")) == held
