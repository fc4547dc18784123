"""Each role's contract, inherited by every model of the role that gives its tiny replica (as diffusers'
pipeline tests inherit their mixin's): a parts model, a rigger that runs a model, an image editor and a
material model each load through the production loader (the model manager, the replica written by its own
replica code), honour the manager's budget (one that cannot hold everything still runs it, the weights moved),
state their licence (the protocol's rows), refuse their own bad input in one sentence, report progress, and
stop on a cancel with the cancel's error and nothing half-written.

A test file per model subclasses the role's ``...Contract`` and gives its subject as a class-scoped fixture
(``parts_subject``, ``rigger_subject``; the editors' and material models' are ``role_contracts_pictures``'s);
the runs the tests compare are made once per class (``..._run``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from img23d_protocol import (PARTS_MODELS, RIGGERS, ErrorCode, Manifest, MeshFile, ProtocolError, model_licence,
                             write_mesh_file)

from img23d_backend.catalog import PARTS, parts_spec_for, tiny_model_set
from img23d_backend.env.job_control import CancelToken
from img23d_backend.models.manager import ModelManager, Tier
from img23d_backend.models.registry import PARTS_ROLE
from img23d_backend.models.specs import ModelSpec
from img23d_backend.parts.part import PartProgress, PartsRequest
from img23d_backend.parts.table import generator_of, parts_loader, row_of
from img23d_backend.rigging.driver import RigInput, RigResult, model_of, model_through, register_model, rig_into
from img23d_backend.runs.folders import RunFolder

LARGE = 1 << 40   # a budget that holds every model


def one_sentence(message: str) -> bool:
    """Whether ``message`` is one sentence: words, no line break, no full stop followed by another sentence."""
    return bool(message.strip()) and "\n" not in message and not re.search(r"[.!?]\s+[A-Z]", message)


class CancelAt(CancelToken):
    """A cancel token that cancels itself at its ``at``-th check: the run is stopped mid-way, after it began."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at, self.checks = at, 0

    def check(self) -> None:
        self.checks += 1
        if self.checks >= self.at:
            self.cancel()
        super().check()


def tiers(manager: ModelManager, role: str) -> dict[str, str]:
    return {name: record["tier"] for name, record in manager.snapshot()["models"][role].get("parts", {}).items()}


def resident_bytes(manager: ModelManager) -> int:
    return sum(size for role in manager.roles for name, size in manager.part_sizes(role).items()
               if (tiers(manager, role).get(name) if name else manager.snapshot()["models"][role]["tier"])
               == Tier.DEVICE.value)


# --- parts models --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PartsSubject:
    name: str               # its choice name (parts/table.py)
    root: Path              # the tiny set's root, its replica written there by its own replica code
    request: PartsRequest   # the smallest request that makes a part
    bad: PartsRequest       # its own bad input (a mesh with no faces, an empty mask...)


@dataclass
class PartsRun:
    manager: ModelManager
    parts: list[Any]
    reports: list[PartProgress] = field(default_factory=list)


def _parts_manager(spec: ModelSpec, budget: int = LARGE) -> ModelManager:
    manager = ModelManager("cpu", budget_bytes=budget)
    manager.register(spec, parts_loader(spec))
    return manager


def _geometry(parts: list[Any]) -> list[tuple[str, list, list]]:
    return [(part.name, np.asarray(part.vertices).tolist(), np.asarray(part.faces).tolist()) for part in parts]


class PartsContract:
    @pytest.fixture(scope="class")
    @classmethod
    def parts_spec(cls, parts_subject: PartsSubject) -> ModelSpec:
        """Its spec as a parts job of the tiny set gets it (``catalog.parts_spec_for``)."""
        return parts_spec_for(tiny_model_set(parts_subject.root), parts_subject.name)

    @pytest.fixture(scope="class")
    @classmethod
    def parts_run(cls, parts_subject: PartsSubject, parts_spec: ModelSpec) -> PartsRun:
        manager = _parts_manager(parts_spec)
        run = PartsRun(manager, [])
        run.parts = generator_of(parts_spec).generate(manager, parts_subject.request, run.reports.append, CancelToken())
        return run

    def test_it_loads_through_the_production_loader(self, parts_subject: PartsSubject, parts_spec: ModelSpec,
                                                    parts_run: PartsRun) -> None:
        assert row_of(parts_spec).name == parts_subject.name and parts_spec.options.get("replica") == "tiny"
        assert parts_spec.local_path == parts_subject.root / row_of(parts_spec).tiny_folder
        # Each network a part of the manager's, each read from the replica's files once.
        counters = parts_run.manager.part_counters(PARTS_ROLE)
        assert len(counters) >= 2 and {c.loads_from_disk for c in counters.values()} == {1}
        assert parts_run.parts and all(np.asarray(part.faces).shape[1:] == (3,) for part in parts_run.parts)

    def test_a_budget_below_its_networks_sum_runs_it_in_phases(self, parts_subject: PartsSubject,
                                                               parts_spec: ModelSpec, parts_run: PartsRun) -> None:
        sizes = parts_run.manager.part_sizes(PARTS_ROLE)
        small = _parts_manager(parts_spec, sum(sizes.values()) - 1)
        again = generator_of(parts_spec).generate(small, parts_subject.request, lambda report: None, CancelToken())
        assert _geometry(again) == _geometry(parts_run.parts)
        # Moved between phases: a network left the device for another, and what stays fits the budget.
        assert sum(c.drops + c.moves_to_ram for c in small.part_counters(PARTS_ROLE).values()) >= 1
        assert Tier.DROPPED.value in tiers(small, PARTS_ROLE).values() and resident_bytes(small) <= small.budget()

    def test_it_states_its_licence(self, parts_subject: PartsSubject, parts_spec: ModelSpec) -> None:
        published = PARTS[parts_subject.name]
        row = PARTS_MODELS[parts_subject.name]   # the protocol's row the add-on builds Parts By from
        assert row.repo_id == published.repo_id and row.licence == model_licence(published.repo_id)
        assert published.licence is not None and one_sentence(published.licence.licence.summary())
        assert parts_spec.licence is not None and parts_spec.licence.replicates == published.repo_id

    def test_its_bad_input_is_one_sentence(self, parts_subject: PartsSubject, parts_spec: ModelSpec,
                                           parts_run: PartsRun) -> None:
        with pytest.raises(ProtocolError) as refused:
            generator_of(parts_spec).generate(parts_run.manager, parts_subject.bad, lambda report: None,
                                              CancelToken())
        assert refused.value.code is ErrorCode.BAD_REQUEST and one_sentence(refused.value.message)

    def test_it_reports_each_part_as_it_is_made(self, parts_run: PartsRun) -> None:
        made = [report for report in parts_run.reports if report.part > 0]
        assert [report.part for report in made] == list(range(1, len(parts_run.parts) + 1))
        assert all(b.seconds >= a.seconds for a, b in zip(made, made[1:])) and made[-1].estimate > 0

    def test_a_cancel_mid_run_stops_it_with_the_cancel(self, parts_subject: PartsSubject, parts_spec: ModelSpec,
                                                      parts_run: PartsRun) -> None:
        cancel, reports = CancelAt(2), []   # cancelled at its second check: the run has begun
        with pytest.raises(ProtocolError) as stopped:
            generator_of(parts_spec).generate(parts_run.manager, parts_subject.request, reports.append, cancel)
        assert stopped.value.code is ErrorCode.CANCELLED and cancel.checks >= 2
        # Stopped short: the last part the uncancelled run made was never reported made.
        assert not [report for report in reports if report.part >= len(parts_run.parts)]


# --- riggers that run a model ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RiggerSubject:
    weights: str      # its --weights name (rigging/table.py)
    root: Path        # the tiny set's root
    mesh: Path        # a mesh file (the add-on's .npz) it rigs


@dataclass
class RigRun:
    manager: ModelManager
    result: RigResult
    said: list[str]


def no_faces(folder: Path) -> Path:
    """A mesh file with vertices and no triangle: the bad input every rigger meets first."""
    path = folder / "no-faces.npz"
    empty = np.zeros((0, 3), np.int32)
    return write_mesh_file(path, MeshFile(positions=np.eye(3, dtype=np.float32), triangles=empty,
                                          triangle_loops=empty))


def _folder(runs: Path, name: str) -> RunFolder:
    return RunFolder.create(runs, f"{name}-rig", Manifest(job_id=name, kind="rig", backend_version="test",
                                                          targets=[name]))


def rig(subject: RiggerSubject, manager: ModelManager, folder: RunFolder, said: list[str],
        cancel: CancelToken | None = None, mesh: Path | None = None) -> RigResult:
    """A rig as the rig job makes one: the model registered on first use and run through ``manager``."""
    register_model(manager, subject.weights, "tiny", subject.root)
    return rig_into(RigInput(mesh=mesh or subject.mesh, weights=subject.weights), folder, "m",
                    said.append, model_through(manager, subject.weights, said.append), cancel)


class RiggerContract:
    @pytest.fixture(scope="class")
    @classmethod
    def rig_run(cls, rigger_subject: RiggerSubject, tmp_path_factory: pytest.TempPathFactory) -> RigRun:
        manager, said = ModelManager("cpu", budget_bytes=LARGE), []
        result = rig(rigger_subject, manager, _folder(tmp_path_factory.mktemp("rig"), "first"), said)
        return RigRun(manager, result, said)

    def test_it_loads_through_the_production_loader(self, rigger_subject: RiggerSubject, rig_run: RigRun) -> None:
        model = model_of(rigger_subject.weights)
        assert model is not None and rig_run.result.source == model.name, rig_run.result.notes
        assert rig_run.manager.spec(model.role) == model.spec("tiny", rigger_subject.root)
        assert rig_run.manager.counters()[model.role].loads_from_disk == 1
        with np.load(Path(rig_run.result.run_dir) / rig_run.result.weights) as data:
            assert data["joints"].max() < len(rig_run.result.bones)

    def test_a_budget_that_holds_it_alone_moves_the_other_model_out(self, rigger_subject: RiggerSubject,
                                                                    rig_run: RigRun, tmp_path: Path) -> None:
        model = model_of(rigger_subject.weights)
        assert model is not None
        size = rig_run.manager.part_sizes(model.role)[""]
        spec = model.spec("tiny", rigger_subject.root)
        manager = ModelManager("cpu", budget_bytes=size + 1)
        manager.register(replace(spec, role="another"), model.loader(spec))   # a model of the same size before it
        with manager.use("another"):
            pass
        result = rig(rigger_subject, manager, _folder(tmp_path, "budget"), [])
        assert result.bones == rig_run.result.bones and result.source == model.name
        assert manager.snapshot()["models"]["another"]["tier"] == Tier.DROPPED.value
        assert manager.snapshot()["models"][model.role]["tier"] == Tier.DEVICE.value

    def test_it_states_its_licence(self, rigger_subject: RiggerSubject) -> None:
        model = model_of(rigger_subject.weights)
        assert model is not None
        published = model.spec("default", rigger_subject.root)
        row = RIGGERS[rigger_subject.weights]   # the protocol's row the add-on builds Rig By from
        assert row.repo_id == published.repo_id and row.licence == model_licence(published.repo_id)
        assert published.licence is not None and one_sentence(published.licence.licence.summary())
        tiny = model.spec("tiny", rigger_subject.root).licence
        assert tiny is not None and tiny.replicates == published.repo_id

    def test_a_mesh_with_no_faces_is_one_sentence_and_writes_nothing(self, rigger_subject: RiggerSubject,
                                                                     rig_run: RigRun, tmp_path: Path) -> None:
        folder = _folder(tmp_path, "bad")
        with pytest.raises(ProtocolError) as refused:
            rig(rigger_subject, rig_run.manager, folder, [], mesh=no_faces(tmp_path))
        assert refused.value.code is ErrorCode.BAD_REQUEST and one_sentence(refused.value.message)
        assert not list(folder.root.glob("m_*"))

    def test_it_says_its_time_before_it_starts_and_its_bones_after(self, rigger_subject: RiggerSubject,
                                                                   rig_run: RigRun) -> None:
        model = model_of(rigger_subject.weights)
        assert model is not None
        [expected] = [index for index, line in enumerate(rig_run.said)
                      if line.startswith(f"{model.name} is reading the mesh: about ")]
        [bound] = [index for index, line in enumerate(rig_run.said)
                   if line.startswith(f"bound {len(rig_run.result.bones)} bones in ")]
        assert expected < bound

    def test_a_cancel_mid_run_stops_it_with_nothing_written(self, rigger_subject: RiggerSubject, rig_run: RigRun,
                                                            tmp_path: Path) -> None:
        model = model_of(rigger_subject.weights)
        assert model is not None
        cancel, folder = CancelToken(), _folder(tmp_path, "cancelled")

        class Saying(list):
            def append(self, line: str) -> None:
                super().append(line)
                if line.startswith(f"{model.name} is reading the mesh"):   # the model has begun
                    cancel.cancel()

        with pytest.raises(ProtocolError) as stopped:
            rig(rigger_subject, rig_run.manager, folder, Saying(), cancel)
        assert stopped.value.code is ErrorCode.CANCELLED
        assert not list(folder.root.glob("m_*")) and not (folder.root / "rig.json").exists()
