"""The model manager's policy with stand-in models: loads, LRU eviction, tiers, counters.

A real GPU is not needed to test the policy: the device "meta" stands in for an
accelerator, with ``placement.move`` replaced by one that only records where a model is
(so the policy's every tier is exercised), and the loaders are small nn.Linear models
whose sizes are known exactly.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

from img23d_backend.models import placement
from img23d_backend.models.manager import ModelCounters, ModelManager, PartLoaders, Tier
from img23d_backend.models.placement import LoadedModel
from img23d_backend.models.registry import ModelSpec

MB = 1 << 20


def _spec(role: str, size: int) -> ModelSpec:
    return ModelSpec(role=role, repo_id=f"test/{role}", local_path=Path("/nowhere"), size_bytes=size)


def _linear_loader(megabytes: int, log: list[str], role: str):
    """A loader whose model holds exactly ``megabytes`` of fp32 weights."""

    def load(folder: Path, device: Any) -> LoadedModel:
        log.append(role)
        features = megabytes * MB // 4 // 256
        module = torch.nn.Linear(256, features, bias=False)
        return LoadedModel(obj=module, modules=[module])

    return load


@pytest.fixture(autouse=True)
def fake_accelerator(monkeypatch: pytest.MonkeyPatch) -> None:
    def move(loaded: LoadedModel, device: Any, **options: Any) -> int:
        target = torch.device(device)
        if loaded.device is not None and torch.device(loaded.device) == target:
            return 0
        loaded.device = target
        return placement.weight_bytes(loaded)

    monkeypatch.setattr(placement, "move", move)


def _manager(device: str, budget_mb: int, sizes: dict[str, int], ram_budget_mb: int | None = None):
    log: list[str] = []
    manager = ModelManager(torch.device(device), budget_bytes=budget_mb * MB,
                           ram_budget_bytes=None if ram_budget_mb is None else ram_budget_mb * MB,
                           resolve=lambda spec, **kw: Path("/nowhere"))
    for role, size in sizes.items():
        manager.register(_spec(role, size * MB), _linear_loader(size, log, role))
    return manager, log


def _tiers(manager: ModelManager) -> dict[str, str]:
    return {role: model["tier"] for role, model in manager.snapshot()["models"].items()}


def test_each_model_is_read_from_disk_once_however_often_it_is_used() -> None:
    manager, log = _manager("cpu", 100, {"a": 4, "b": 4, "c": 4})
    for _ in range(5):
        for role in ("a", "b", "c", "a"):
            with manager.use(role):
                pass
    assert log == ["a", "b", "c"]
    assert {r: c.loads_from_disk for r, c in manager.counters().items()} == {"a": 1, "b": 1, "c": 1}


def test_measured_size_replaces_the_estimate() -> None:
    manager, _ = _manager("cpu", 100, {"a": 4})
    with manager.use("a"):
        pass
    model = manager.snapshot()["models"]["a"]
    assert model["measured"] and model["bytes"] == 4 * MB


def test_over_budget_on_an_accelerator_evicts_least_recently_used_to_ram() -> None:
    manager, log = _manager("meta", 10, {"a": 4, "b": 4, "c": 4})
    with manager.use("a"):
        pass
    with manager.use("b"):
        pass
    with manager.use("c"):  # 12 MB > 10 MB: "a" (least recently used) must leave the device
        pass
    assert _tiers(manager) == {"a": "ram", "b": "device", "c": "device"}
    with manager.use("a"):  # back from RAM: a move, not a disk read; now "b" is the oldest
        pass
    assert _tiers(manager) == {"a": "device", "b": "ram", "c": "device"}
    counters = manager.counters()
    assert log == ["a", "b", "c"]
    assert counters["a"].moves_to_ram == 1 and counters["a"].moves_to_device == 1
    assert counters["a"].bytes_moved == 8 * MB


def test_when_ram_is_short_evicted_models_are_dropped() -> None:
    manager, log = _manager("meta", 6, {"a": 4, "b": 4}, ram_budget_mb=2)
    with manager.use("a"):
        pass
    with manager.use("b"):
        pass
    assert _tiers(manager) == {"a": "dropped", "b": "device"}
    with manager.use("a"):
        pass
    assert log == ["a", "b", "a"]
    assert manager.counters()["a"].drops == 1


def test_on_cpu_eviction_drops_because_ram_is_the_device() -> None:
    manager, _ = _manager("cpu", 6, {"a": 4, "b": 4})
    with manager.use("a"):
        pass
    with manager.use("b"):
        pass
    assert _tiers(manager) == {"a": "dropped", "b": "device"}
    assert manager.counters()["a"].bytes_moved == 0


def test_a_model_in_use_is_never_evicted() -> None:
    manager, _ = _manager("meta", 6, {"a": 4, "b": 4})
    with manager.use("a"):
        with manager.use("b"):  # over budget, but "a" is busy: both stay, with a warning
            assert _tiers(manager) == {"a": "device", "b": "device"}


def test_models_that_fit_stay_between_jobs() -> None:
    manager, log = _manager("meta", 100, {"a": 4, "b": 4})
    for _ in range(3):  # three "jobs"
        with manager.use("a"):
            pass
        with manager.use("b"):
            pass
    assert log == ["a", "b"]
    assert all(c.bytes_moved == 0 for c in manager.counters().values())


def test_re_registering_a_different_model_drops_the_old_one() -> None:
    manager, log = _manager("cpu", 100, {"a": 4})
    with manager.use("a"):
        pass
    manager.register(_spec("a", 2 * MB), _linear_loader(2, log, "a2"))
    assert _tiers(manager)["a"] == "dropped"
    with manager.use("a") as module:
        assert module.weight.numel() * 4 == 2 * MB


def test_counters_minus_gives_per_job_figures() -> None:
    manager, _ = _manager("cpu", 100, {"a": 4})
    before = manager.counters()
    with manager.use("a"):
        pass
    delta = manager.counters()["a"].minus(before["a"])
    assert delta.loads_from_disk == 1 and delta.load_seconds >= 0


def test_a_loader_failure_leaves_the_model_dropped_and_retryable() -> None:
    calls = []

    def flaky(folder: Path, device: Any) -> LoadedModel:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk hiccup")
        module = torch.nn.Linear(4, 4)
        return LoadedModel(obj=module, modules=[module])

    manager = ModelManager(torch.device("cpu"), budget_bytes=100 * MB, resolve=lambda spec, **kw: Path("/x"))
    manager.register(_spec("a", MB), flaky)
    with pytest.raises(OSError):
        with manager.use("a"):
            pass
    assert _tiers(manager)["a"] == Tier.DROPPED.value
    with manager.use("a") as module:
        assert isinstance(module, torch.nn.Linear)


def test_the_seed_policy_reads_from_disk_before_every_use() -> None:
    from img23d_backend.models.manager import Policy

    log: list[str] = []
    manager = ModelManager(torch.device("cpu"), budget_bytes=100 * MB, resolve=lambda spec, **kw: Path("/x"),
                           policy=Policy.SEED)
    manager.register(_spec("a", 4 * MB), _linear_loader(4, log, "a"))
    for _ in range(3):
        with manager.use("a"):
            assert _tiers(manager)["a"] == "device"
        assert _tiers(manager)["a"] == "dropped"
    assert log == ["a", "a", "a"]


def test_the_resident_policy_ignores_the_budget() -> None:
    from img23d_backend.models.manager import Policy

    log: list[str] = []
    manager = ModelManager(torch.device("meta"), budget_bytes=1 * MB, resolve=lambda spec, **kw: Path("/x"),
                           policy=Policy.RESIDENT)
    for role in ("a", "b"):
        manager.register(_spec(role, 4 * MB), _linear_loader(4, log, role))
    for _ in range(2):
        for role in ("a", "b"):
            with manager.use(role):
                pass
    assert _tiers(manager) == {"a": "device", "b": "device"} and log == ["a", "b"]


def _half_loader(megabytes: int, log: list[str], role: str):
    """A loader whose model holds exactly ``megabytes`` of fp16 weights."""

    def load(folder: Path, device: Any) -> LoadedModel:
        log.append(role)
        module = torch.nn.Linear(256, megabytes * MB // 2 // 256, bias=False).half()
        return LoadedModel(obj=module, modules=[module])

    return load


def test_full_precision_widens_a_model_in_use_counts_it_and_gives_it_back_unchanged() -> None:
    manager, log = _manager("meta", 10, {"other": 4})
    manager.register(_spec("shape", 4 * MB), _half_loader(4, log, "shape"))
    with manager.use("other"):
        pass
    with pytest.raises(RuntimeError, match="in use on the device"):
        with manager.full_precision("shape"):
            pass
    with manager.use("shape") as model:
        before = model.weight.clone()
        assert _tiers(manager) == {"other": "device", "shape": "device"}   # 4 + 4 MB of 10
        with manager.full_precision("shape"):
            # 8 MB in fp32 beside the other model's 4 would pass the 10 MB budget: it leaves first.
            assert model.weight.dtype == torch.float32
            assert manager.snapshot()["models"]["shape"]["bytes"] == 8 * MB
            assert _tiers(manager) == {"other": "ram", "shape": "device"}
        assert model.weight.dtype == torch.float16 and torch.equal(model.weight, before)
        assert manager.snapshot()["models"]["shape"]["bytes"] == 4 * MB
    assert log == ["other", "shape"]   # converted in place, never read from disk again


class _NoRoom(torch.nn.Linear):
    """A module whose widening runs out of memory, as a GPU short of room would."""

    def _apply(self, fn: Any, recurse: bool = True) -> Any:
        if self.weight.dtype == torch.float16 and fn(torch.zeros((), dtype=torch.float16)).dtype == torch.float32:
            raise torch.OutOfMemoryError("CUDA out of memory (stand-in)")
        return super()._apply(fn, recurse)


def test_a_widening_that_runs_out_of_memory_half_way_leaves_every_module_as_it_was() -> None:
    first, second = torch.nn.Linear(4, 4).half(), _NoRoom(4, 4).half()
    with pytest.raises(torch.OutOfMemoryError):
        with placement.cast_for_call([first, second], torch.float32):
            pass
    assert first.weight.dtype == second.weight.dtype == torch.float16


# --- a model placed as parts (the image editor's way) ------------------------------------------------

# Like the editor's: a text encoder that runs alone, then a transformer and a VAE together, then the VAE.
PARTS = {"text": 8, "denoiser": 7, "vae": 1}
PHASES = (("text",), ("denoiser", "vae"), ("vae",))


def _parted(device: str, budget_mb: int) -> tuple[ModelManager, list[str]]:
    log: list[str] = []
    manager = ModelManager(torch.device(device), budget_bytes=budget_mb * MB,
                           resolve=lambda spec, **kw: Path("/nowhere"))
    manager.register(_spec("a", 4 * MB), _linear_loader(4, log, "a"))
    loaders = PartLoaders(loaders={part: _linear_loader(size, log, part) for part, size in PARTS.items()},
                          sizes={part: size * MB for part, size in PARTS.items()})
    manager.register(_spec("editor", 16 * MB), loaders)
    return manager, log


def _run_phases(manager: ModelManager) -> list[int]:
    """One edit's phases; the bytes on the device while each ran."""
    resident = []
    for phase in PHASES:
        with manager.use("editor", phase) as held:
            assert set(held) == set(phase) and all(isinstance(m, torch.nn.Linear) for m in held.values())
            snapshot = manager.snapshot()["models"]
            on_device = [model for model in (*snapshot["editor"]["parts"].values(), snapshot["a"])
                         if model["tier"] == "device"]
            resident.append(sum(model["bytes"] for model in on_device))
    return resident


def test_parts_over_budget_move_between_phases_and_each_is_read_from_disk_once() -> None:
    manager, log = _parted("meta", 10)  # each phase fits 10 MB, all 16 MB of parts do not
    first, second = _run_phases(manager), _run_phases(manager)  # two edits, as two jobs' would be
    assert max(first + second) <= 10 * MB
    assert log == ["text", "denoiser", "vae"]  # read from disk once each, however often they ran
    parts = manager.part_counters("editor")
    assert {part: c.loads_from_disk for part, c in parts.items()} == {"text": 1, "denoiser": 1, "vae": 1}
    # The text encoder made room for the denoiser (to RAM), came back for the second edit, and the
    # denoiser (least recently used: the VAE ran after it) made room for it; the VAE fitted beside both.
    assert (parts["text"].moves_to_ram, parts["text"].moves_to_device) == (2, 1)
    assert (parts["denoiser"].moves_to_ram, parts["denoiser"].moves_to_device) == (1, 1)
    assert parts["vae"].moves_to_ram == parts["vae"].moves_to_device == 0
    total = manager.counters()["editor"]
    assert total.loads_from_disk == 3 and total.moves_to_ram == 3 and total.bytes_moved == (8 * 3 + 7 * 2) * MB
    editor = manager.snapshot()["models"]["editor"]
    assert editor["tier"] == "device" and editor["bytes"] == 16 * MB
    assert {part: model["tier"] for part, model in editor["parts"].items()} == {
        "text": "ram", "denoiser": "device", "vae": "device"}


def test_parts_within_budget_stay_put_between_phases_and_edits() -> None:
    manager, log = _parted("meta", 100)
    _run_phases(manager), _run_phases(manager)
    assert log == ["text", "denoiser", "vae"]
    assert manager.counters()["editor"] == replace(ModelCounters(), loads_from_disk=3,
                                                   load_seconds=manager.counters()["editor"].load_seconds)


def test_parts_compete_with_other_models_least_recently_used_first() -> None:
    manager, log = _parted("meta", 12)
    with manager.use("a"):
        pass
    with manager.use("editor", ("text",)):  # 4 + 8 MB fit
        pass
    with manager.use("editor", ("denoiser", "vae")):  # 8 MB more: "a" and then the text encoder leave
        pass
    tiers = {part: model["tier"] for part, model in manager.snapshot()["models"]["editor"]["parts"].items()}
    assert manager.snapshot()["models"]["a"]["tier"] == "ram" and tiers == {
        "text": "ram", "denoiser": "device", "vae": "device"}
    with manager.use("editor") as everything:  # every part at once: over budget, all in use, loaded anyway
        assert set(everything) == set(PARTS)
    assert log == ["a", "text", "denoiser", "vae"]


def test_parts_are_named_and_a_whole_model_has_none() -> None:
    manager, _ = _parted("cpu", 100)
    assert manager.parts("editor") == ("text", "denoiser", "vae") and manager.parts("a") == ()
    assert manager.part_sizes("editor") == {part: size * MB for part, size in PARTS.items()}
    with pytest.raises(ValueError, match="'editor' has no parts \\['unet'\\]"):
        with manager.use("editor", ("unet",)):
            pass
    with pytest.raises(ValueError, match="'a' has no parts"):
        with manager.use("a", ("text",)):
            pass
    with pytest.raises(ValueError, match="'editor' is placed as parts"):
        with manager.full_precision("editor"):
            pass
    with pytest.raises(ValueError, match="need names and a size each"):
        PartLoaders(loaders={"text": _linear_loader(1, [], "text")}, sizes={})


def test_preloading_a_parted_model_keeps_what_fits_the_budget() -> None:
    manager, log = _parted("meta", 10)
    manager.preload("editor")  # part after part: never all 16 MB on the device at once
    assert log == ["text", "denoiser", "vae"]
    tiers = {part: model["tier"] for part, model in manager.snapshot()["models"]["editor"]["parts"].items()}
    assert tiers == {"text": "ram", "denoiser": "device", "vae": "device"}


def test_a_model_larger_than_its_estimate_makes_room_once_measured() -> None:
    log: list[str] = []
    manager = ModelManager(torch.device("meta"), budget_bytes=10 * MB, resolve=lambda spec, **kw: Path("/nowhere"))
    manager.register(_spec("a", 4 * MB), _linear_loader(4, log, "a"))
    manager.register(_spec("b", 1 * MB), _linear_loader(8, log, "b"))  # estimated at 1 MB, 8 MB once loaded
    with manager.use("a"):
        pass
    with manager.use("b"):
        assert _tiers(manager) == {"a": "ram", "b": "device"}


def test_a_snapshot_asked_for_during_a_load_answers_at_once_with_the_last_one() -> None:
    """The service's status took the manager's lock, which a load holds to its end (a download: minutes): its
    request reader then read no cancel and no keep-alive, and an SSH backend ended itself for want of them."""
    loading, release = threading.Event(), threading.Event()
    manager, _ = _manager("cpu", 100, {"a": 4})
    before = manager.snapshot()
    slow = _linear_loader(4, [], "b")

    def held_load(folder: Path, device: Any) -> LoadedModel:
        loading.set()
        assert release.wait(timeout=30), "the test never let the load end"
        return slow(folder, device)

    manager.register(_spec("b", 4 * MB), held_load)
    loader = threading.Thread(target=lambda: manager.use("b").__enter__(), daemon=True)
    loader.start()
    try:
        assert loading.wait(timeout=30), "the load never started"
        started = time.monotonic()
        during = manager.snapshot(wait=0.2)
        assert time.monotonic() - started < 5 and during == {**before, "settling": True}
    finally:
        release.set()
        loader.join(timeout=30)
    assert "b" in manager.snapshot(wait=5)["models"]
