"""The image editor's and the material model's contracts (``role_contracts`` says what every role's holds):
the roles that work on pictures, each inheriting its tests by giving its tiny replica (``editor_subject``,
``material_subject``, class-scoped fixtures)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from img23d_protocol import IMAGE_EDITORS, ErrorCode, ProtocolError, model_licence

from img23d_backend.catalog import EDITORS, MATERIALS, tiny_model_set
from img23d_backend.editors.costs import completion_costs
from img23d_backend.editors.driver import EditRequest, edit_images
from img23d_backend.editors.parts import editor_loader
from img23d_backend.env.job_control import CancelToken
from img23d_backend.materials.costs import materials_seconds
from img23d_backend.materials.driver import material_maps, materials_loader
from img23d_backend.models.manager import ModelManager, Tier
from img23d_backend.models.specs import ModelSpec
from role_contracts import LARGE, CancelAt, one_sentence, resident_bytes


# --- image editors ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EditorSubject:
    name: str     # its --editor name (editors/table.py)
    root: Path    # the tiny set's root


def crops() -> list[EditRequest]:
    """Two small crops, one noise and one flat, as the completion sends them."""
    noise = Image.fromarray(np.random.default_rng(11).integers(0, 256, (40, 32, 3), dtype=np.uint8), "RGB")
    instruction = "Complete the hidden parts of the object; keep everything else."
    return [EditRequest(noise, instruction, seed=3), EditRequest(Image.new("RGB", (48, 24), (30, 90, 200)),
                                                                 instruction, seed=5)]


def _editor_manager(spec: ModelSpec, budget: int = LARGE) -> ModelManager:
    manager = ModelManager(torch.device("cpu"), budget_bytes=budget)
    manager.register(spec, editor_loader(spec))
    return manager


@dataclass
class EditRun:
    spec: ModelSpec
    manager: ModelManager
    pictures: list[np.ndarray]


class EditorContract:
    @pytest.fixture(scope="class")
    @classmethod
    def edit_run(cls, editor_subject: EditorSubject) -> EditRun:
        spec = tiny_model_set(editor_subject.root, editor=editor_subject.name).editor
        manager = _editor_manager(spec)
        return EditRun(spec, manager, [np.asarray(p) for p in edit_images(manager, crops(), CancelToken())])

    def test_it_loads_through_the_production_loader(self, editor_subject: EditorSubject, edit_run: EditRun) -> None:
        assert edit_run.spec.options["editor"] == editor_subject.name and edit_run.spec.options.get("replica") != \
            "full-size"
        counters = edit_run.manager.part_counters("editor")
        assert len(counters) == 3 and {c.loads_from_disk for c in counters.values()} == {1}
        assert [p.shape[:2] for p in edit_run.pictures] == [(40, 32), (24, 48)]

    def test_a_budget_below_its_parts_sum_runs_it_in_phases(self, edit_run: EditRun) -> None:
        small = _editor_manager(edit_run.spec, sum(edit_run.manager.part_sizes("editor").values()) - 1)
        again = [np.asarray(p) for p in edit_images(small, crops(), CancelToken())]
        assert all(np.array_equal(a, b) for a, b in zip(again, edit_run.pictures))
        assert sum(c.drops + c.moves_to_ram for c in small.part_counters("editor").values()) >= 1
        assert resident_bytes(small) <= small.budget()

    def test_it_states_its_licence(self, editor_subject: EditorSubject, edit_run: EditRun) -> None:
        assert editor_subject.name in IMAGE_EDITORS   # the protocol's row the add-on offers it from
        published = EDITORS[editor_subject.name]
        assert published.licence is not None and one_sentence(published.licence.licence.summary())
        assert edit_run.spec.licence is not None and edit_run.spec.licence.replicates == published.repo_id

    def test_an_empty_instruction_is_one_sentence(self, edit_run: EditRun) -> None:
        with pytest.raises(ProtocolError) as refused:
            edit_images(edit_run.manager, [replace(crops()[0], instruction="  ")], CancelToken())
        assert refused.value.code is ErrorCode.BAD_REQUEST and one_sentence(refused.value.message)

    def test_it_says_its_time_before_it_starts(self, edit_run: EditRun) -> None:
        costs = completion_costs(edit_run.spec, "cpu")
        assert costs and all(np.isfinite(s) and s >= 0 for s in costs.values()) and sum(costs.values()) > 0

    def test_a_cancel_mid_run_stops_it_with_the_cancel(self, edit_run: EditRun) -> None:
        cancel = CancelAt(2)   # the first phase begun
        with pytest.raises(ProtocolError) as stopped:
            edit_images(edit_run.manager, crops(), cancel)
        assert stopped.value.code is ErrorCode.CANCELLED and cancel.checks >= 2


# --- material models -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MaterialSubject:
    name: str     # its --materials name (materials/table.py)
    root: Path


def views() -> list[Image.Image]:
    noise = Image.fromarray(np.random.default_rng(7).integers(0, 256, (24, 20, 3), dtype=np.uint8), "RGB")
    return [noise, Image.new("RGB", (20, 24), (180, 40, 30))]


@dataclass
class MaterialRun:
    spec: ModelSpec
    manager: ModelManager
    maps: list[Any]


class MaterialContract:
    @pytest.fixture(scope="class")
    @classmethod
    def material_run(cls, material_subject: MaterialSubject) -> MaterialRun:
        spec = tiny_model_set(material_subject.root).materials
        manager = ModelManager(torch.device("cpu"), budget_bytes=LARGE)
        manager.register(spec, materials_loader(spec))
        return MaterialRun(spec, manager, material_maps(manager, views(), CancelToken()))

    def test_it_loads_through_the_production_loader(self, material_subject: MaterialSubject,
                                                    material_run: MaterialRun) -> None:
        assert material_run.spec.options["material"] == material_subject.name
        assert material_run.manager.counters()["materials"].loads_from_disk == 1
        assert [m.roughness.shape for m in material_run.maps] == [(24, 20), (24, 20)]

    def test_a_budget_that_holds_it_alone_moves_the_other_model_out(self, material_run: MaterialRun) -> None:
        spec = material_run.spec
        manager = ModelManager(torch.device("cpu"), budget_bytes=material_run.manager.part_sizes("materials")[""] + 1)
        manager.register(replace(spec, role="another"), materials_loader(spec))
        manager.register(spec, materials_loader(spec))
        with manager.use("another"):
            pass
        again = material_maps(manager, views(), CancelToken())
        assert all(np.array_equal(a.roughness, b.roughness) for a, b in zip(again, material_run.maps))
        assert manager.snapshot()["models"]["another"]["tier"] == Tier.DROPPED.value

    def test_it_states_its_licence(self, material_subject: MaterialSubject, material_run: MaterialRun) -> None:
        published = MATERIALS[material_subject.name]
        assert published.licence is not None and one_sentence(published.licence.licence.summary())
        assert model_licence(published.repo_id) == published.licence
        assert material_run.spec.licence is not None and material_run.spec.licence.replicates == published.repo_id

    def test_a_view_with_no_pixels_is_one_sentence(self, material_run: MaterialRun) -> None:
        with pytest.raises(ProtocolError) as refused:
            material_maps(material_run.manager, [Image.new("RGB", (0, 0))], CancelToken())
        assert refused.value.code is ErrorCode.BAD_REQUEST and one_sentence(refused.value.message)

    def test_it_says_its_time_before_it_starts(self, material_run: MaterialRun) -> None:
        seconds = materials_seconds(material_run.spec, "cpu", 24)
        assert np.isfinite(seconds) and seconds > 0

    def test_a_cancel_mid_run_stops_it_with_the_cancel(self, material_run: MaterialRun) -> None:
        cancel = CancelAt(2)   # the first view begun
        with pytest.raises(ProtocolError) as stopped:
            material_maps(material_run.manager, views(), cancel)
        assert stopped.value.code is ErrorCode.CANCELLED and cancel.checks >= 2
