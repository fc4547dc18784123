"""A test-only second model family (``second_family``: Silhouette, a cut-out's silhouette extruded and the picture
projected onto it from the front) keeps the shape and paint families' contracts (role_contracts_families) once
registered as a real one would be, and its meshes and textures are the ones its rule gives.

A real second family is its folder (``backend/img23d_backend/families/<its name>/``: ``family.py``, ``specs.py``,
its networks and replicas: new files), which the families' table finds by the family's name, and three existing
files, which the fixture below stands in for (``PATCHED``: the test below holds the count to them):

1. ``protocol/img23d_protocol/families.py``: its row in ``MODEL_FAMILIES`` (the add-on's family choice, the
   command line's and the installer's ``--family``);
2. ``protocol/img23d_protocol/shape_models.py``: its shape model's kind in ``SHAPE_MODELS`` (its steps, guidance
   and octree: the add-on's shape choices);
3. ``protocol/img23d_protocol/licences.py``: its repositories' and its replicas' rows in ``MODEL_LICENCES``.

(The protocol's wheel in ``wheels/`` is then rebuilt from the protocol's source, a generated file.) The fixture
also stands this test's folder where the table looks for the family's code (``sys.modules``: the folder a real
family's would be). The catalog (the model sets, the tiny set, the model lists), the engine's loaders, the shape
stage and the paint step follow with no other change.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from img23d_installer import cli as installer_cli
from img23d_protocol import GenerateRequest, JobOptions, families, licences, shape_models
from PIL import Image

import second_family
import second_family.family
import second_family.specs
from img23d_backend import catalog
from img23d_backend.catalog import model_set, tiny_model_set
from img23d_backend.env.job_control import CancelToken
from img23d_backend.families.table import FAMILIES, FAMILY_MODULES, facts_of
from img23d_backend.jobs import EngineSettings, Job
from img23d_backend.jobs.context import EngineContext
from img23d_backend.jobs.kinds.generate import GenerateRun
from img23d_backend.runs.folders import Manifest, RunFolder, TargetRecord
from img23d_backend.mesh.shapes import ShapeSettings
from role_contracts_families import FamilySubject, PaintFamilyContract, ShapeFamilyContract
from second_family.rows import LICENCES, NAME, ROW, SHAPE_KIND, SHAPE_NAME
from second_family.specs import PAINT, SHAPE
from testdata import REPO

# The existing files' tables a new family adds its lines to: (module, table, its lines by key).
PATCHED = ((families, "MODEL_FAMILIES", {NAME: ROW}), (shape_models, "SHAPE_MODELS", {SHAPE_NAME: SHAPE_KIND}),
           (licences, "MODEL_LICENCES", {licence.repo_id: licence for licence in LICENCES}))
THREE_FILES = {"protocol/img23d_protocol/families.py", "protocol/img23d_protocol/shape_models.py",
               "protocol/img23d_protocol/licences.py"}
FOLDER = f"img23d_backend.families.{NAME}"   # where the table looks for the family's code


@pytest.fixture(scope="module")
def registered() -> Iterator[None]:
    """The three existing files' lines, set for this module's tests alone, and this folder where a real family's
    would be."""
    with pytest.MonkeyPatch.context() as patch:
        for module, table, lines in PATCHED:
            for key, line in lines.items():
                patch.setitem(getattr(module, table), key, line)
        for module in (second_family, second_family.family, second_family.specs):
            patch.setitem(sys.modules, FOLDER + module.__name__.removeprefix("second_family"), module)
        yield


@pytest.fixture(scope="module")
def home(registered: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("second-family")
    FAMILIES[NAME].replicas().build_tiny(root)   # its own code writes its replicas
    return root


class TestSecondFamilyContracts(ShapeFamilyContract, PaintFamilyContract):
    @pytest.fixture(scope="class")
    @classmethod
    def family_subject(cls, home: Path) -> FamilySubject:
        return FamilySubject(NAME, home)


def test_a_new_family_is_its_folder_and_three_existing_files(registered: None) -> None:
    assert {f"protocol/{module.__name__.replace('.', '/')}.py" for module, _, _ in PATCHED} == THREE_FILES
    # Everything else is its folder, found where the table looks for a family's code.
    assert FAMILY_MODULES[NAME] == f"{FOLDER}.family"
    assert FAMILIES[NAME] is second_family.family.FAMILY and facts_of(NAME) is second_family.specs.FACTS
    assert Path(second_family.__file__).parent == REPO / "tests" / "backend" / "second_family"


def test_the_catalog_and_the_installer_offer_it(registered: None, home: Path) -> None:
    assert NAME in catalog.FAMILY_FACTS and SHAPE_NAME in catalog.SHAPE
    default = model_set("default", family=NAME)
    assert (default.shape, default.delight, default.paint) == (SHAPE, None, PAINT)
    tiny = tiny_model_set(home, family=NAME)
    assert tiny.shape.local_path == home / SHAPE_NAME and (home / SHAPE_NAME / "extruder.pt").is_file()
    family = next(action for action in installer_cli.build_parser()._actions if action.dest == "family")
    assert NAME in family.choices


@pytest.fixture(scope="module")
def engine(home: Path, tmp_path_factory: pytest.TempPathFactory) -> EngineContext:
    return EngineContext(EngineSettings(models=tiny_model_set(home, family=NAME), device="cpu",
                                        runs_dir=tmp_path_factory.mktemp("second-family-runs")))


def _shape(engine: EngineContext, picture: Image.Image) -> object:
    settings = ShapeSettings(steps=1, octree_resolution=8, guidance_scale=1.0, batch_size=0)
    with engine.manager.use("shape") as model:
        [mesh] = FAMILIES[NAME].sample_shapes(model, [picture], [0], settings, cancel=CancelToken(),
                                              progress=lambda *said: None)
    return mesh


def test_its_mesh_is_the_silhouette_extruded_in_gltfs_frame(engine: EngineContext) -> None:
    # A Γ: a bar along the picture's top, a stem down its left, each a quarter of its 40 pixels wide.
    picture = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    picture.paste((90, 90, 90, 255), (0, 0, 40, 10))
    picture.paste((90, 90, 90, 255), (0, 10, 10, 40))
    mesh = _shape(engine, picture)
    np.testing.assert_allclose(mesh.bounds, [[-0.9, -0.9, -0.15], [0.9, 0.9, 0.15]], atol=1e-9)
    # Eight cells of 0.225 a side: the bar 2 x 8, the stem 2 x 6; a closed slab 0.3 thick, wound outwards.
    assert mesh.is_watertight and mesh.volume == pytest.approx(28 * 0.225 ** 2 * 0.3)
    vertices = np.asarray(mesh.vertices)
    # glTF's frame: the picture's top is +Y (the bar spans the width there), its left is -X (the stem).
    assert vertices[vertices[:, 1] > 0.5][:, 0].max() == pytest.approx(0.9)
    assert vertices[vertices[:, 1] < 0][:, 0].max() == pytest.approx(-0.45)


def test_its_paint_projects_the_picture_onto_the_front(engine: EngineContext, tmp_path: Path) -> None:
    picture = Image.new("RGBA", (64, 32), (0, 0, 0, 0))
    picture.paste((230, 20, 20, 255), (0, 0, 32, 32))
    picture.paste((20, 20, 230, 255), (32, 0, 64, 32))
    box = _shape(engine, picture)   # a box, its front the picture's rectangle: no UVs of its own
    request = GenerateRequest(id="p", image="picture.png", targets=["box"], options=JobOptions(texture_size=128))
    folder = RunFolder.create(tmp_path, "p", Manifest(job_id="p", kind="generate", backend_version="test"))
    run = GenerateRun(engine, request, Job(id="p", emit=lambda event: None), folder)
    painted = FAMILIES[NAME].paint_target(run, TargetRecord(target="box", stem="box", seed=0), box, picture, None)
    mesh = painted.mesh
    texture = np.asarray(mesh.visual.material.baseColorTexture)
    centres = np.asarray(mesh.vertices)[mesh.faces].mean(axis=1)
    uv = np.asarray(mesh.visual.uv)[mesh.faces].mean(axis=1)
    colours = texture[((1 - uv[:, 1]) * 128).astype(int).clip(0, 127), (uv[:, 0] * 128).astype(int).clip(0, 127)]
    left, right = colours[centres[:, 0] < -0.2], colours[centres[:, 0] > 0.2]
    assert len(left) and len(right)
    assert (left[:, 0] > 200).all() and (left[:, 2] < 60).all(), "the picture's left half is red"
    assert (right[:, 2] > 200).all() and (right[:, 0] < 60).all(), "the picture's right half is blue"
    assert (folder.root / "views" / "box" / "view_0.png").is_file()
