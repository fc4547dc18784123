"""A memory cap (issue 89, item 5): the managed policy's budget under it, its decisions with the models' declared
sizes, the texture models given one at a time when they cannot share the budget, and the moves said in a
Generate's estimate before it starts. The GPU's own part (the allocator held to the cap, the job finishing
under it) needs a lent GPU: ``apply_fraction`` is checked here only for what it asks of torch."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

from img23d_backend.catalog import tiny_model_set
from img23d_backend.commands.options import check_common
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.jobs.kinds.generate import GenerateRun
from img23d_backend.jobs.kinds.job_estimate import generate_estimate
from img23d_backend.models import memory_cap, placement
from img23d_backend.models.manager import ModelManager, Tier
from img23d_backend.models.placement import LoadedModel
from img23d_backend.models.registry import ModelSpec
from img23d_backend.replicas.full import full_size_model_set
from img23d_backend.stages import skips
from img23d_protocol import GenerateRequest, JobOptions, ProtocolError

GIB = 1 << 30
MB = 1 << 20
ROLES = ("grounding", "matting", "shape", "delight", "paint", "materials")
# The full-size models' declared sizes (the registry's figures: what the policy goes by before a model is measured).
FULL = full_size_model_set(Path("/nowhere"))
SIZES = {role: getattr(FULL, role).size_bytes for role in ROLES}


def test_under_an_8_gb_cap_the_paint_models_take_turns_and_three_objects_move_them_for_each_later_target() -> None:
    cap = memory_cap.Cap.from_gb(8)
    budget = cap.models_budget(on_gpu=True)
    # The models leave room for the paint stage's working memory at the default sizes, and a reserve.
    assert budget == 8 * GIB - cap.working(on_gpu=True) - memory_cap.RESERVE_BYTES
    assert SIZES["delight"] + SIZES["paint"] > budget  # they cannot be on the device together
    three = memory_cap.plan(SIZES, memory_cap.job_uses(ROLES, 3, texture=True, materials=True), budget)
    # Each target after the first brings its delight, paint and material models back from RAM.
    assert (three.moves, three.loads) == (6, 6)
    assert three.over == ["grounding"]  # the one model larger than the budget alone: loaded past it, by itself
    one = memory_cap.plan(SIZES, memory_cap.job_uses(ROLES, 1, texture=True, materials=True), budget)
    assert one.moves == 0 and 0 < one.seconds < three.seconds
    # Without the cap (a 40 GB budget) the same job moves nothing.
    free = memory_cap.plan(SIZES, memory_cap.job_uses(ROLES, 3, texture=True, materials=True), 40 * GIB)
    assert (free.moves, free.bytes_moved, free.over) == (0, 0, [])


def test_the_tiny_models_fit_under_the_cap_and_a_cpu_reads_a_dropped_model_again() -> None:
    tiny = tiny_model_set(Path("/nowhere"))
    sizes = {role: getattr(tiny, role).size_bytes for role in ROLES}
    budget = memory_cap.Cap.from_gb(8).models_budget(on_gpu=False)
    uses = memory_cap.job_uses(ROLES, 3, texture=True, materials=True)
    assert memory_cap.plan(sizes, uses, budget).seconds == 0
    on_cpu = memory_cap.plan(SIZES, uses, budget, drops=True)  # a CPU has no RAM tier: dropped, read again
    assert on_cpu.moves == 6 and on_cpu.bytes_moved == 0 and on_cpu.bytes_reloaded > 0


def _linear(megabytes: int, log: list[str], role: str) -> Any:
    def load(folder: Path, device: Any) -> LoadedModel:
        log.append(role)
        module = torch.nn.Linear(256, megabytes * MB // 4 // 256, bias=False)
        return LoadedModel(obj=module, modules=[module])

    return load


def test_the_managed_policy_gives_the_texture_models_one_at_a_time_as_the_plan_says(monkeypatch) -> None:
    """The device "meta" stands in for a GPU (``placement.move`` only records where a model is)."""
    def move(loaded: LoadedModel, device: Any, **options: Any) -> int:
        if loaded.device is not None and torch.device(loaded.device) == torch.device(device):
            return 0
        loaded.device = torch.device(device)
        return placement.weight_bytes(loaded)

    monkeypatch.setattr(placement, "move", move)
    sizes = {"delight": 4 * MB, "paint": 6 * MB}
    log: list[str] = []
    manager = ModelManager(torch.device("meta"), budget_bytes=8 * MB, resolve=lambda spec, **kw: Path("/nowhere"))
    for role, size in sizes.items():
        manager.register(ModelSpec(role=role, repo_id=f"test/{role}", local_path=Path("/nowhere"), size_bytes=size),
                         _linear(size // MB, log, role))
    x = torch.zeros(1, 256, device="meta")
    for _ in range(2):  # two targets
        with skips.texture_models(manager) as (delighter, multiview):
            assert isinstance(delighter, skips.OnCall)
            delighter(x)
            multiview(x)
            tiers = {role: model["tier"] for role, model in manager.snapshot()["models"].items()}
            assert tiers == {"delight": Tier.RAM.value, "paint": Tier.DEVICE.value}  # never both on the device
    expected = memory_cap.plan(sizes, [("delight", "paint")] * 2, 8 * MB)
    counters = manager.counters()
    assert sum(c.moves_to_device for c in counters.values()) == expected.moves == 2  # the second target's two
    assert log == ["delight", "paint"]  # each read from disk once
    manager.budget_bytes = 16 * MB  # room for both: held together for the block, as before
    with skips.texture_models(manager) as (delighter, multiview):
        assert not isinstance(delighter, skips.OnCall)


def test_a_capped_generate_says_its_model_moves_before_it_starts(tiny_root: Path, tmp_path: Path) -> None:
    """The estimate line (said before the first stage) names the moves under the cap and counts their seconds:
    the tiny set's models with the full-size models' declared sizes, nothing loaded."""
    tiny = tiny_model_set(tiny_root)
    sized = replace(tiny, **{role: replace(getattr(tiny, role), size_bytes=SIZES[role]) for role in ROLES})
    engine = Engine(EngineSettings(models=sized, runs_dir=tmp_path, device="cpu", memory_cap_bytes=8 * GIB))
    assert engine.manager.budget() == memory_cap.Cap(8 * GIB).models_budget(on_gpu=False)
    assert engine.total_room().host <= 8 * GIB  # the preflight holds a job against the cap
    request = GenerateRequest(id="cap", image="house.png", targets=["house", "chimney", "barrel"],
                              options=JobOptions(texture=True, materials=True))
    run = GenerateRun(engine, request, Job(id="cap", emit=lambda event: None), None)
    estimate = generate_estimate(run)
    [moves] = [stage for stage in estimate.stages if stage.stage.startswith("models moved under the 8 GB cap")]
    # A CPU drops what it evicts: each later target reads its delight, paint and material models from disk again.
    again = 2 * (SIZES["delight"] + SIZES["paint"] + SIZES["materials"])
    assert moves.stage == f"models moved under the 8 GB cap (6 times, {again / 1e9:.1f} GB)"
    assert moves.seconds == pytest.approx(again / memory_cap.RELOAD_BYTES_PER_S)
    assert "models moved under the 8 GB cap" in estimate.sentence()
    uncapped = Engine(EngineSettings(models=sized, runs_dir=tmp_path, device="cpu"))
    plain = generate_estimate(GenerateRun(uncapped, request, Job(id="free", emit=lambda event: None), None))
    assert not [stage for stage in plain.stages if "cap" in stage.stage]


def test_the_cap_holds_a_gpus_allocator_to_its_share_of_the_card(monkeypatch) -> None:
    asked: list[tuple[float, Any]] = []

    class Card:
        total_memory = 141 * 10**9

    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: Card())
    monkeypatch.setattr(torch.cuda, "set_per_process_memory_fraction", lambda f, device: asked.append((f, device)))
    fraction = memory_cap.apply_fraction(memory_cap.Cap.from_gb(8), torch.device("cuda"))
    assert fraction == pytest.approx(8 * GIB / Card.total_memory) and asked == [(fraction, torch.device("cuda"))]
    assert memory_cap.apply_fraction(memory_cap.Cap.from_gb(8), torch.device("cpu")) is None


def test_the_command_line_refuses_a_cap_out_of_range_in_one_sentence(tmp_path: Path) -> None:
    args = argparse.Namespace(budget_gb=None, memory_cap_gb=0.1, out=tmp_path)
    with pytest.raises(ProtocolError) as caught:
        check_common(args)
    assert caught.value.message == "--memory-cap-gb 0.1 is out of range: it must be 0.25 to 1024 (GB)"
