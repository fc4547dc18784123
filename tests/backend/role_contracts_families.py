"""The shape and paint families' contracts (``role_contracts`` says what every role's holds): every model family
(``families.family.Family``, one of the protocol's ``MODEL_FAMILIES``) inherits them by giving its name and the
root of its tiny replicas (``family_subject``, a class-scoped fixture), as the test-only second family
(tests/backend/second_family/) does too.

Each family is held to what a job relies on, through what a job uses: its tiny set (``catalog.tiny_model_set``)
registered by the engine (``jobs.context.EngineContext``: the engine's loaders, the family's), its shape stage and
its paint step called as the job calls them, the paint step handed a real Generate run as its ``StepContext``.

- ``ShapeFamilyContract``: its rows are the protocol's and its own (its family row's shape model is one of its
  rows, each row's kind the protocol's row of that name); its shape models state their licence; its shape model is
  read from its replica's files once; one mesh per cut-out, in order, each heard as soon as it exists, triangles
  inside the box every family decodes in (glTF's frame, normalised: which way is up only a known answer tells,
  the second family's test); its progress under ``shape``; its figures for the preflight; a cut-out with nothing
  in it refused in one sentence before any work; a cancel a cancel.
- ``PaintFamilyContract``: its paint rows are the texture models its sets get; they state their licence; its paint
  step loads them through the manager, keeps the mesh's own UVs and its frame, paints a base colour texture of the
  asked size, keeps its views in the run folder and bakes images of those views at the texture's size, says its
  progress; a mesh with no faces and a fully transparent cut-out refused in one sentence, nothing written; a
  cancel a cancel.

The runs the tests compare are made once per class (``shaped``, ``painted``): a few seconds a family on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import trimesh
from img23d_protocol import (MODEL_FAMILIES, SHAPE_MODELS, ErrorCode, GenerateRequest, JobOptions, Progress,
                             ProtocolError)
from PIL import Image, ImageDraw

from img23d_backend import catalog
from img23d_backend.catalog import DEFAULT_PAINT, PAINT_ROLES, model_set, tiny_model_set
from img23d_backend.env.job_control import CancelToken
from img23d_backend.families.table import FAMILIES, facts_of, family_of
from img23d_backend.jobs import EngineSettings, Job
from img23d_backend.jobs.context import EngineContext
from img23d_backend.jobs.kinds.generate import GenerateRun
from img23d_backend.models.preflight import PaintModel
from img23d_backend.models.shape_memory import ShapeMemory
from img23d_backend.models.specs import ModelSpec
from img23d_backend.runs.folders import Manifest, RunFolder, TargetRecord
from img23d_backend.mesh.shapes import ShapeSettings
from role_contracts import one_sentence

BOX = 1.01          # every family's meshes lie in [-1.01, 1.01]^3 (hy3dgen's box_v; the others decode within it)
OCTREE = 32         # a coarse grid: a tiny replica's mesh in a tenth of a second
TEXTURE = 64        # the texture side a painted mesh is asked for
PAINTING = JobOptions(texture_size=TEXTURE, render_size=TEXTURE, paint_steps=1, delight_steps=1, materials=False)


@dataclass(frozen=True)
class FamilySubject:
    name: str     # its key in img23d_protocol.MODEL_FAMILIES
    root: Path    # the root its tiny replicas are under, written there by its own replica code


@dataclass
class ShapeRun:
    meshes: list[Any]
    heard: list[tuple[int, Any]] = field(default_factory=list)      # on_mesh's calls, in order
    said: list[tuple[str, int, int]] = field(default_factory=list)  # (stage, step, total) of each progress


@dataclass
class PaintRun:
    run: GenerateRun
    record: TargetRecord
    mesh: trimesh.Trimesh     # what was painted: a ball with its own UVs
    painted: Any              # families.family.Painted
    events: list[Any]


def cutouts() -> list[Image.Image]:
    """Two cut-outs as matting leaves them: a disc, and a box off-centre in a wider picture."""
    disc = Image.new("RGBA", (96, 128), (0, 0, 0, 0))
    ImageDraw.Draw(disc).ellipse((20, 20, 76, 108), fill=(200, 60, 40, 255))
    box = Image.new("RGBA", (160, 96), (0, 0, 0, 0))
    box.paste((40, 120, 220, 255), (30, 20, 110, 80))
    return [disc, box]


def ball() -> trimesh.Trimesh:
    """A ball carrying its own (spherical) UVs, as an artist's mesh would."""
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.6)
    x, y, z = (sphere.vertices / 0.6).T
    uv = np.stack([0.5 + np.arctan2(x, z) / (2 * np.pi), 0.5 + np.arcsin(np.clip(y, -1, 1)) / np.pi], axis=1)
    return trimesh.Trimesh(sphere.vertices, sphere.faces, visual=trimesh.visual.TextureVisuals(uv=uv), process=False)


def _tiny_set(subject: FamilySubject) -> Any:
    return tiny_model_set(subject.root, family=subject.name)


def _settings(spec: ModelSpec) -> ShapeSettings:
    kind = spec.shape_kind
    assert kind is not None
    return ShapeSettings(steps=min(kind.steps, 2), octree_resolution=OCTREE, guidance_scale=kind.guidance,
                         batch_size=0)


def _generate_run(engine: EngineContext, folder: Path, events: list[Any], cancel: CancelToken | None = None
                  ) -> GenerateRun:
    request = GenerateRequest(id="contract", image="picture.png", targets=["ball"], options=PAINTING)
    run_folder = RunFolder.create(folder, "contract", Manifest(job_id="contract", kind="generate",
                                                                backend_version="test", targets=["ball"]))
    return GenerateRun(engine, request, Job(id="contract", emit=events.append, cancel=cancel or CancelToken()),
                       run_folder)


def _refused(call: Any) -> ProtocolError:
    with pytest.raises(ProtocolError) as refused:
        call()
    return refused.value


class _FamilyContract:
    """What both contracts are given: the subject's tiny set registered by an engine of its own."""

    @pytest.fixture(scope="class")
    @classmethod
    def family_engine(cls, family_subject: FamilySubject, tmp_path_factory: pytest.TempPathFactory
                      ) -> EngineContext:
        return EngineContext(EngineSettings(models=_tiny_set(family_subject), device="cpu",
                                            runs_dir=tmp_path_factory.mktemp("family-runs")))


# --- shape ----------------------------------------------------------------------------------------------------

class ShapeFamilyContract(_FamilyContract):
    @pytest.fixture(scope="class")
    @classmethod
    def shaped(cls, family_engine: EngineContext) -> ShapeRun:
        spec = family_engine.manager.spec("shape")
        run = ShapeRun([])
        with family_engine.manager.use("shape") as model:
            run.meshes = family_of(spec).sample_shapes(
                model, cutouts(), [1, 2], _settings(spec), cancel=CancelToken(),
                progress=lambda stage, step, total, message: run.said.append((stage, step, total)),
                on_mesh=lambda index, mesh: run.heard.append((index, mesh)))
        return run

    def test_its_rows_are_the_protocols_and_its_own(self, family_subject: FamilySubject) -> None:
        name, row, facts = family_subject.name, MODEL_FAMILIES[family_subject.name], facts_of(family_subject.name)
        assert FAMILIES[name].name == facts.name == name and FAMILIES[name].facts is facts
        assert row.shape in facts.rows["shape"], "its family row names a shape model it does not have"
        for shape, spec in facts.rows["shape"].items():
            assert spec.shape_kind == SHAPE_MODELS[shape] and spec.family == name, shape
        tiny = _tiny_set(family_subject).shape
        assert tiny.shape_kind == SHAPE_MODELS[row.tiny_shape] and tiny.family == name
        # The catalog offers it: --family's choices, and its own shape model in its default set.
        assert name in catalog.FAMILY_FACTS
        assert model_set("default", family=name).shape == facts.rows["shape"][row.shape]

    def test_its_shape_models_state_their_licence(self, family_subject: FamilySubject) -> None:
        rows = facts_of(family_subject.name).rows["shape"].values()
        for spec in rows:
            assert spec.licence is not None and one_sentence(spec.licence.licence.summary()), spec.display
        tiny = _tiny_set(family_subject).shape.licence
        assert tiny is not None and tiny.replicates in {spec.repo_id for spec in rows}

    def test_its_shape_model_is_read_from_its_files_once(self, family_subject: FamilySubject,
                                                         family_engine: EngineContext, shaped: ShapeRun) -> None:
        manager = family_engine.manager
        assert family_of(manager.spec("shape")).name == family_subject.name
        assert manager.counters()["shape"].loads_from_disk == 1
        with manager.use("shape"):   # a second use reads nothing again
            pass
        assert manager.counters()["shape"].loads_from_disk == 1

    def test_it_makes_one_mesh_per_cutout_in_order_in_the_box(self, shaped: ShapeRun) -> None:
        assert len(shaped.meshes) == 2 and [index for index, _ in shaped.heard] == [0, 1]
        assert all(heard is made for (_, heard), made in zip(shaped.heard, shaped.meshes))
        for mesh in shaped.meshes:
            vertices, faces = np.asarray(mesh.vertices), np.asarray(mesh.faces)
            assert faces.ndim == 2 and faces.shape[1] == 3 and len(faces) > 0 and faces.max() < len(vertices)
            assert np.isfinite(vertices).all() and np.abs(vertices).max() <= BOX + 1e-6

    def test_it_says_its_progress_under_the_shape_stage(self, shaped: ShapeRun) -> None:
        assert shaped.said and {stage for stage, _, _ in shaped.said} == {"shape"}
        assert all(0 <= step <= total for _, step, total in shaped.said)
        assert shaped.said[-1][1] == shaped.said[-1][2], "its last progress is not its whole"

    def test_it_gives_the_preflight_its_figures(self, family_subject: FamilySubject,
                                               family_engine: EngineContext) -> None:
        family = FAMILIES[family_subject.name]
        memory = family.shape_memory(family.shape_precision(family_engine.device), 1_000_000)
        assert isinstance(memory, ShapeMemory) and memory.dit_per_image > 0
        assert min(memory.host_per_point, memory.device_per_point) >= 0

    def test_an_empty_cutout_is_refused_in_one_sentence_before_any_work(self, family_engine: EngineContext) -> None:
        spec, heard = family_engine.manager.spec("shape"), []
        empty = Image.new("RGBA", (64, 64), (255, 255, 255, 0))
        with family_engine.manager.use("shape") as model:
            refused = _refused(lambda: family_of(spec).sample_shapes(
                model, [cutouts()[0], empty], [0, 0], _settings(spec), cancel=CancelToken(),
                progress=lambda *said: None, on_mesh=lambda index, mesh: heard.append(index)))
        assert refused.code is ErrorCode.BAD_REQUEST and one_sentence(refused.message) and "2 of 2" in refused.message
        assert heard == []

    def test_a_cancel_stops_it_with_the_cancel(self, family_engine: EngineContext) -> None:
        spec, cancel = family_engine.manager.spec("shape"), CancelToken()
        cancel.cancel()
        with family_engine.manager.use("shape") as model:
            stopped = _refused(lambda: family_of(spec).sample_shapes(model, cutouts(), [0, 0], _settings(spec),
                                                                     cancel=cancel, progress=lambda *said: None))
        assert stopped.code is ErrorCode.CANCELLED


# --- paint ----------------------------------------------------------------------------------------------------

class PaintFamilyContract(_FamilyContract):
    @pytest.fixture(scope="class")
    @classmethod
    def painted(cls, family_engine: EngineContext, tmp_path_factory: pytest.TempPathFactory) -> PaintRun:
        events: list[Any] = []
        run = _generate_run(family_engine, tmp_path_factory.mktemp("painted"), events)
        record, mesh = TargetRecord(target="ball", stem="ball", seed=3), ball()
        spec = family_engine.manager.spec("paint")
        painted = family_of(spec).paint_target(run, record, mesh, cutouts()[0], None)
        painted.complete()   # the atlas's fill, where the family leaves it to the job's tail
        return PaintRun(run, record, mesh, painted, events)

    def test_its_paint_rows_are_its_sets_texture_models(self, family_subject: FamilySubject) -> None:
        name, facts = family_subject.name, facts_of(family_subject.name)
        assert MODEL_FAMILIES[name].paints and facts.rows["paint"]
        for choice in facts.paint_choices or (DEFAULT_PAINT,):
            delight, paint = facts.texture(choice)
            assert paint in facts.rows["paint"].values() and paint.family == name, choice
            assert delight is None or delight.family == name
        default = model_set("default", family=name)
        assert (default.delight, default.paint) == facts.texture(DEFAULT_PAINT)
        assert _tiny_set(family_subject).paint.family == name

    def test_it_gives_the_preflight_its_paint_figures(self, family_subject: FamilySubject,
                                                     family_engine: EngineContext) -> None:
        spec = family_engine.manager.spec("paint")
        counted = FAMILIES[family_subject.name].paint_model(spec, family_engine.device)
        # None: the preflight's own paint figures cover it (measured with Hunyuan3D-Paint loaded).
        assert counted is None or (isinstance(counted, PaintModel) and min(counted.weights, counted.sampling) > 0)

    def test_its_paint_models_state_their_licence(self, family_subject: FamilySubject) -> None:
        rows = facts_of(family_subject.name).rows
        real = [spec for role in PAINT_ROLES for spec in rows.get(role, {}).values()]
        for spec in real:
            assert spec.licence is not None and one_sentence(spec.licence.licence.summary()), spec.display
        tiny = _tiny_set(family_subject).paint.licence
        assert tiny is not None and tiny.replicates in {spec.repo_id for spec in real}

    def test_its_texture_models_are_read_from_their_files_once(self, family_engine: EngineContext,
                                                               painted: PaintRun) -> None:
        counters = family_engine.manager.counters()
        roles = [role for role in PAINT_ROLES if role in family_engine.manager.roles]
        assert "paint" in roles and {counters[role].loads_from_disk for role in roles} == {1}

    def test_the_mesh_keeps_its_uvs_and_frame_and_gets_a_texture_of_the_asked_size(self, painted: PaintRun) -> None:
        mesh = painted.painted.mesh
        np.testing.assert_allclose(np.asarray(mesh.visual.uv), np.asarray(painted.mesh.visual.uv), atol=1e-6)
        np.testing.assert_allclose(np.asarray(mesh.vertices), np.asarray(painted.mesh.vertices), atol=1e-6)
        texture = mesh.visual.material.baseColorTexture
        assert isinstance(texture, Image.Image) and texture.size == (TEXTURE, TEXTURE)
        assert np.asarray(texture.convert("RGB")).std() > 0, "a flat texture: nothing was painted"

    def test_its_views_are_kept_and_baked_at_the_textures_size(self, painted: PaintRun) -> None:
        views = painted.painted.views
        assert views and all(isinstance(view, Image.Image) for view in views)
        folder = painted.run.run_folder.root / "views" / painted.record.stem
        assert {f"view_{index}.png" for index in range(len(views))} <= {path.name for path in folder.iterdir()}
        baked = painted.painted.bake([Image.new("RGB", view.size, (0, 200, 0)) for view in views])
        assert baked.size == (TEXTURE, TEXTURE)

    def test_it_says_its_progress_under_the_paint_stage(self, painted: PaintRun) -> None:
        said = [(event.step, event.total) for event in painted.events
                if isinstance(event, Progress) and event.stage == "paint"]
        assert said and all(0 <= step <= total for step, total in said)
        assert any(step == total and step > 0 for step, total in said[1:]), "it never said it was done"

    def test_its_bad_input_is_one_sentence_and_writes_nothing(self, family_engine: EngineContext,
                                                              painted: PaintRun) -> None:
        paint = family_of(family_engine.manager.spec("paint")).paint_target
        no_faces = trimesh.Trimesh(np.eye(3), np.zeros((0, 3), np.int64), process=False)
        clear = Image.new("RGBA", (64, 64), (255, 255, 255, 0))
        for index, (mesh, cutout) in enumerate(((no_faces, cutouts()[0]), (ball(), clear))):
            record = TargetRecord(target=f"bad {index}", stem=f"bad_{index}", seed=0)
            refused = _refused(lambda: paint(painted.run, record, mesh, cutout, None))
            assert refused.code is ErrorCode.BAD_REQUEST and one_sentence(refused.message), refused.message
            assert not (painted.run.run_folder.root / "views" / record.stem).exists()

    def test_a_cancel_stops_it_with_the_cancel(self, family_engine: EngineContext, painted: PaintRun,
                                               tmp_path: Path) -> None:
        cancel = CancelToken()
        cancel.cancel()
        run = _generate_run(family_engine, tmp_path, [], cancel)
        paint = family_of(family_engine.manager.spec("paint")).paint_target
        stopped = _refused(lambda: paint(run, TargetRecord(target="ball", stem="ball", seed=0), ball(),
                                         cutouts()[0], None))
        assert stopped.code is ErrorCode.CANCELLED
