"""The family interface (backend/img23d_backend/families/): one table of families, the protocol's;
every model a family brings is found its family by its spec; a job's shape stage and its loaders go
through the family, never through a branch on its name."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import img23d_protocol as protocol
from img23d_installer import cli as installer_cli
from img23d_protocol import MODEL_FAMILIES
from img23d_backend import catalog
from img23d_backend.catalog import SHAPE, TEXTURE_MODELS, TINY_SETS, model_set, tiny_model_set
from img23d_backend.families.facts import FamilyFacts
from img23d_backend.families.family import FAMILY_ROLES, FamilyReplicas
from img23d_backend.families.hunyuan3d import paint_step as hunyuan_step
from img23d_backend.families.hunyuan3d import shape as hunyuan_shape
from img23d_backend.families.step1x.geometry import stage as step1x_stage
from img23d_backend.families.step1x.texture import paint_step as clean_step
from img23d_backend.families.table import (FACTS_MODULES, FAMILIES, FAMILY_FOLDERS, FamilyTable, facts_of,
                                            family_named, family_of)
from img23d_backend.jobs import loaders
from img23d_backend.models.dtypes import Precision
from img23d_backend.mesh.shapes import ShapeSettings


def test_the_families_are_the_protocols_and_each_brings_its_shape_and_paint_loaders() -> None:
    assert list(FAMILIES) == list(MODEL_FAMILIES)
    for name, family in FAMILIES.items():
        assert family.name == name and {"shape", "paint"} <= set(family.loaders) <= set(FAMILY_ROLES)
    with pytest.raises(ValueError, match="no model family 'other'"):
        family_named("other")
    # The registry's tables a family fills: one entry per family, no more.
    assert list(TEXTURE_MODELS) == list(MODEL_FAMILIES) and list(TINY_SETS) == list(MODEL_FAMILIES)


@pytest.mark.parametrize("family", list(MODEL_FAMILIES))
def test_every_model_a_family_brings_is_found_its_family_and_the_shared_ones_none(family: str,
                                                                                  tiny_root: Path) -> None:
    for models in (model_set("default", family=family), tiny_model_set(tiny_root, family=family)):
        for role in FAMILY_ROLES:
            spec = getattr(models, role)
            if spec is not None:
                assert family_of(spec).name == family, (models.name, role)
        for role in ("grounding", "matting", "depth", "materials", "editor"):
            assert getattr(models, role).family is None
            with pytest.raises(ValueError, match="every family shares it"):
                family_of(getattr(models, role))


def test_the_table_imports_a_family_only_when_it_is_asked_for(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in family's module that says when it is imported.
    (tmp_path / "stand_in_family.py").write_text(
        "import os\nopen(os.environ['STAND_IN_MARK'], 'w').close()\n"
        "from img23d_backend.families.table import FAMILIES\nimport dataclasses\n"
        "FAMILY = dataclasses.replace(FAMILIES['clean'], name='stand-in')\n"
        "WRONG = dataclasses.replace(FAMILY, name='other')\n")
    mark = tmp_path / "imported"
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("STAND_IN_MARK", str(mark))
    monkeypatch.delitem(sys.modules, "stand_in_family", raising=False)
    table = FamilyTable({"stand-in": "stand_in_family"})
    assert list(table) == ["stand-in"] and len(table) == 1 and "stand-in" in table and "other" not in table
    assert not mark.exists(), "naming, counting or finding a family imported it"
    assert table["stand-in"].name == "stand-in" and mark.exists()
    with pytest.raises(KeyError):
        table["other"]
    monkeypatch.setattr(sys.modules["stand_in_family"], "FAMILY", sys.modules["stand_in_family"].WRONG)
    with pytest.raises(TypeError, match="is not the family 'stand-in'"):
        table["stand-in"]


def test_every_shape_model_belongs_to_the_family_its_kind_names() -> None:
    for name, spec in SHAPE.items():
        assert family_of(spec).name == spec.shape_kind.family, name


def test_a_family_without_a_shape_or_paint_loader_or_with_an_unknown_role_is_refused() -> None:
    family = FAMILIES["clean"]
    for loaders_ in ({"shape": family.loaders["shape"]}, {**family.loaders, "grounding": family.loaders["shape"]}):
        with pytest.raises(ValueError, match="needs shape and paint"):
            dataclasses.replace(family, name="broken", loaders=loaders_)


def test_each_family_runs_its_own_shape_sampler() -> None:
    calls: list[str] = []
    settings = ShapeSettings(steps=2, octree_resolution=64, guidance_scale=5.0, batch_size=0,
                             symmetry="x", sharpness="sharp")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hunyuan_shape, "generate_shapes", lambda *a, **k: calls.append("hunyuan3d") or [])
        patch.setattr(step1x_stage, "generate_geometry",
                      lambda model, images, seeds, geometry, **k: calls.append(f"clean {geometry.label}") or [])
        for family in FAMILIES.values():
            family.sample_shapes(object(), [], [], settings, cancel=None, progress=lambda *a: None)
    assert calls == ["hunyuan3d", "clean LabelChoice(symmetry='x', sharpness='sharp')"]


def test_the_shape_stages_precision_and_memory_are_the_familys() -> None:
    cpu = torch.device("cpu")
    assert FAMILIES["hunyuan3d"].shape_precision(cpu) is None  # its loader's own rule
    precision = FAMILIES["clean"].shape_precision(cpu)
    assert isinstance(precision, Precision) and precision.dtype_name == "float32"  # Step1X-3D on a CPU
    assert FAMILIES["clean"].shape_memory(precision, 1_000).dit_per_image != \
        FAMILIES["hunyuan3d"].shape_memory(None, 1_000).dit_per_image


@pytest.mark.parametrize("family", list(MODEL_FAMILIES))
def test_the_engines_loaders_are_the_familys(family: str, tiny_root: Path) -> None:
    models = tiny_model_set(tiny_root, family=family)
    for role in FAMILY_ROLES:
        spec = getattr(models, role)
        if spec is not None:
            built = loaders.LOADERS[role](spec)
            expected = FAMILIES[family].loaders[role](spec)
            assert getattr(built, "__qualname__", None) == getattr(expected, "__qualname__", None), role


def test_the_paint_weights_the_preflight_counts_are_the_familys(tiny_root: Path) -> None:
    clean = tiny_model_set(tiny_root, family="clean").paint
    hunyuan = tiny_model_set(tiny_root, family="hunyuan3d").paint
    assert FAMILIES["clean"].paint_model(clean, torch.device("cpu")).weights == 2 * clean.size_bytes  # float32 on a CPU
    assert FAMILIES["clean"].paint_model(clean, torch.device("meta")).weights == clean.size_bytes
    assert FAMILIES["hunyuan3d"].paint_model(hunyuan, torch.device("cpu")) is None  # measured in the preflight


def test_each_familys_paint_step_is_its_own() -> None:
    assert FAMILIES["hunyuan3d"].paint_target is hunyuan_step.paint_target
    assert FAMILIES["clean"].paint_target is clean_step.paint_clean


def test_the_table_imports_no_familys_replicas_until_a_build_asks() -> None:
    # The builders import torch, diffusers and each family's networks: every backend start imports
    # the table and must not wait for them.
    probe = ("import sys, img23d_backend.families.table\n"
             "print(sorted(m for m in sys.modules if m.startswith('img23d_backend.') and 'replica' in m))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"imported with the table: {done.stdout.strip()}"
    for family in FAMILIES.values():
        replicas = family.replicas()
        assert isinstance(replicas, FamilyReplicas) and replicas.tiny_folders and replicas.full_size, family.name


# --- each family's facts, and the catalog composed from them (issue 56) ----------------------------------

def test_each_familys_facts_are_its_rows_and_the_catalog_composes_them() -> None:
    assert list(FACTS_MODULES) == list(FAMILIES) == list(MODEL_FAMILIES)
    for name in FAMILIES:
        facts = facts_of(name)
        assert isinstance(facts, FamilyFacts) and FAMILIES[name].facts is facts
        # Every shape row of the family is its own, and the catalog offers each under the same name.
        assert all(spec.shape_kind is not None and spec.shape_kind.family == name for spec in facts.rows["shape"].values())
        assert {n: catalog.SHAPE[n] for n in facts.rows["shape"]} == dict(facts.rows["shape"])
        assert set(facts.paint_choices) <= set(catalog.PAINT)
    assert set(catalog.SHAPE) == {n for name in FAMILIES for n in facts_of(name).rows["shape"]}


def test_a_familys_facts_come_without_its_code() -> None:
    # A fresh interpreter: asking the catalog for the model list imports no family's code, only its facts.
    code = ("import json, sys\nfrom img23d_backend import catalog\n"
            "listed = [name for _, table in catalog.MODEL_TABLES for name in table]\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('img23d_backend.families.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    loaded = set(json.loads(out.stdout))
    assert {"img23d_backend.families.hunyuan3d.specs", "img23d_backend.families.step1x.specs"} <= loaded
    code_modules = {m for m in loaded if m.rpartition(".")[2] in ("family", "shape", "paint_step", "loader", "raster")}
    assert code_modules == set(), code_modules


def test_a_third_familys_facts_reach_the_catalog_through_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    # A family the protocol gains after the catalog's import, its facts where the table looks: families/third/.
    third = dataclasses.replace(facts_of("clean"), name="third")
    monkeypatch.setitem(sys.modules, "img23d_backend.families.third.specs", type(sys)("third_family_specs"))
    sys.modules["img23d_backend.families.third.specs"].FACTS = third
    for name in ("third", "fourth"):
        monkeypatch.setitem(MODEL_FAMILIES, name, dataclasses.replace(MODEL_FAMILIES["clean"], name=name))
    monkeypatch.setitem(FAMILY_FOLDERS, "fourth", "third")   # a folder whose facts are another family's
    assert facts_of("third") is third and catalog.FAMILY_FACTS["third"] is third and "third" in catalog.TINY_SETS
    with pytest.raises(TypeError, match="not the family 'fourth'"):
        facts_of("fourth")


def test_the_installers_and_the_addons_lists_are_the_protocols_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    # The backend offers the editors and families the protocol names, under the same defaults.
    assert list(catalog.EDITORS) == list(protocol.IMAGE_EDITORS)
    assert catalog.DEFAULT_EDITOR == protocol.DEFAULT_IMAGE_EDITOR
    family = next(a for a in installer_cli.build_parser()._actions if a.dest == "family")
    assert list(family.choices) == list(MODEL_FAMILIES) and family.default == protocol.DEFAULT_FAMILY
    # A family added to the protocol's rows is offered by the installer with no other change.
    third = dataclasses.replace(MODEL_FAMILIES[protocol.CLEAN], name="third", label="A third family",
                                pip_packages=("third-models==1.0",))
    monkeypatch.setitem(MODEL_FAMILIES, "third", third)
    family = next(a for a in installer_cli.build_parser()._actions if a.dest == "family")
    assert "third" in family.choices and "third-models==1.0 installed for it only" in family.help
