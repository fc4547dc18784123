"""Every kind of job on the licence-clean family (Step1X-3D's tiny replica), in one engine: variations,
Regenerate, boxes by hand; each shape made by Step1X-3D's own sampler, never hy3dgen's pipeline.
(Generate on the command line without hy3dgen: test_clean_family.py; batch and remote jobs run this
same engine behind their transports.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import trimesh

from testdata import FAST_OPTIONS, HOUSE
from img23d_backend.families.step1x.geometry import generate as step1x_generate
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.catalog import tiny_model_set
from img23d_protocol import GenerateJobResult, GenerateRequest, JobOptions, RegenerateRequest

# Chimney and door boxes in pixels of the example house picture (any box inside it serves).
BOXES = {"chimney": [600.0, 80.0, 760.0, 600.0], "door": [365.0, 600.0, 460.0, 840.0]}


@pytest.fixture(scope="module")
def engine(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return Engine(EngineSettings(models=tiny_model_set(tiny_root, family="clean"),
                                 runs_dir=tmp_path_factory.mktemp("runs"), device="cpu"))


@pytest.fixture
def sampled(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many images each call of Step1X-3D's sampler denoised."""
    calls: list[int] = []
    real = step1x_generate.denoise
    monkeypatch.setattr(step1x_generate, "denoise",
                        lambda model, images, seeds, *a, **k: calls.append(len(images)) or real(model, images, seeds,
                                                                                               *a, **k))
    return calls


def _meshes(data: GenerateJobResult) -> dict[str, trimesh.Trimesh]:
    run = Path(data.run_dir)
    return {r.stem: trimesh.load(run / r.mesh, force="mesh") for r in data.targets if r.status == "done"}


def test_variations_and_a_regenerated_candidate_come_from_step1x(engine: Engine, sampled: list[int]) -> None:
    request = GenerateRequest(id="v", image=str(HOUSE), targets=["chimney"], boxes={"chimney": BOXES["chimney"]},
                              options=JobOptions(**FAST_OPTIONS, variations=2, seed=60))
    data = engine.run(request, Job(id="v", emit=lambda event: None))
    assert [(r.stem, r.seed) for r in data.targets] == [("chimney", 60), ("chimney-v2", 61)]
    meshes = _meshes(data)
    assert len(meshes) == 2 and all(len(m.faces) > 0 for m in meshes.values())
    assert sum(sampled) == 2
    again = engine.run(RegenerateRequest(id="r", run=data.run_dir, keys=["chimney-v2"],
                                         options=JobOptions(**FAST_OPTIONS, seed=9)),
                       Job(id="r", emit=lambda event: None))
    [record] = again.targets
    assert (record.stem, record.status, record.seed) == ("chimney-v2", "done", 9)
    assert sum(sampled) == 3


def test_boxes_by_hand_load_no_grounding_model_and_shape_with_step1x(engine: Engine, sampled: list[int]) -> None:
    request = GenerateRequest(id="b", image=str(HOUSE), targets=["chimney", "door"], boxes=BOXES,
                              options=JobOptions(**FAST_OPTIONS))
    data = engine.run(request, Job(id="b", emit=lambda event: None))
    assert [r.status for r in data.targets] == ["done", "done"]
    assert engine.manager.counters()["grounding"].loads_from_disk == 0
    assert sum(sampled) == 2 and set(_meshes(data)) == {"chimney", "door"}
