"""Variations: N candidates of each name, each from its own seed, from one grounding, matting and depth pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trimesh

from cli_inprocess import RunCli
from testdata import FAST_OPTIONS, HOUSE
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.catalog import tiny_model_set
from img23d_backend.matting import driver as matting
from img23d_protocol import Artifact, GenerateRequest, JobOptions, OptionError, RegenerateRequest


@pytest.fixture(scope="module")
def engine(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path_factory.mktemp("runs"),
                                 device="cpu"))


def test_three_variations_of_two_names_share_one_cut_out_each(engine: Engine, monkeypatch) -> None:
    matted: list[int] = []
    real_matte = matting.matte
    monkeypatch.setattr(matting, "matte", lambda model, crops, **kw: matted.append(len(crops)) or
                        real_matte(model, crops, **kw))
    events: list = []
    request = GenerateRequest(id="v", image=str(HOUSE), targets=["chimney", "barrel", "unicorn"],
                              options=JobOptions(**FAST_OPTIONS, variations=3, seed=100))
    data = engine.run(request, Job(id="v", emit=events.append))
    assert matted == [2]  # one matting pass, one crop per name: not one per candidate
    records = data.targets
    done = [(r.target, r.variation, r.stem, r.seed) for r in records if r.status == "done"]
    assert done == [("chimney", 1, "chimney", 100), ("chimney", 2, "chimney-v2", 101), ("chimney", 3, "chimney-v3", 102),
                    ("barrel", 1, "barrel", 103), ("barrel", 2, "barrel-v2", 104), ("barrel", 3, "barrel-v3", 105)]
    # A name that was not found has no candidates: it fails once.
    assert [(r.target, r.status) for r in records if r.target == "unicorn"] == [("unicorn", "failed")]
    run = Path(data.run_dir)
    meshes = {r.stem: trimesh.load(run / r.mesh, force="mesh") for r in records if r.status == "done"}
    assert len(meshes) == 6 and all(len(m.faces) > 0 for m in meshes.values())
    assert meshes["chimney"].vertices.shape != meshes["chimney-v2"].vertices.shape or \
        abs(meshes["chimney"].vertices - meshes["chimney-v2"].vertices).max() > 1e-4  # another seed, another shape
    chimneys = [r for r in records if r.target == "chimney"]
    assert {r.matte for r in chimneys} == {"mattes/chimney.png"} and {r.crop for r in chimneys} == {
        "crops/chimney.png"}
    assert [r.candidate_of for r in chimneys] == [None, "chimney", "chimney"]
    # Only first candidates are measured for the layout: every candidate stands at its target's place.
    assert [r.depth is not None for r in chimneys] == [True, False, False]
    artifacts = [(e.target, e.variation, e.seed) for e in events if isinstance(e, Artifact) and e.kind == "mesh"]
    assert ("barrel", 3, 105) in artifacts and len(artifacts) == 6


def test_a_candidate_can_be_regenerated_from_its_shared_cut_out(engine: Engine) -> None:
    request = GenerateRequest(id="v", image=str(HOUSE), targets=["barrel"],
                              options=JobOptions(**FAST_OPTIONS, variations=2))
    run = Path(engine.run(request, Job(id="v", emit=lambda e: None)).run_dir)
    again = engine.run(RegenerateRequest(id="r", run=str(run), keys=["barrel-v2"],
                                         options=JobOptions(**FAST_OPTIONS, seed=9)),
                       Job(id="r", emit=lambda e: None))
    [record] = again.targets
    assert (record.stem, record.status, record.seed) == ("barrel-v2", "done", 9)


@pytest.mark.parametrize("count", [0, 9])
def test_variations_out_of_range_name_the_range(count: int) -> None:
    with pytest.raises(OptionError, match="variations=.* it must be 1 to 8"):
        JobOptions(variations=count).validate()


def test_the_command_line_writes_n_meshes_per_name_with_their_seeds(cli: RunCli, tmp_path: Path) -> None:
    out = cli("generate", str(HOUSE), "--targets", "chimney", "--models", "tiny", "--device", "cpu", "--out",
              str(tmp_path), "--steps", "3", "--octree-resolution", "32", "--no-texture", "--variations", "2",
              "--seed", "40")
    assert out.returncode == 0, out.stderr
    [run] = list(tmp_path.iterdir())
    assert f"chimney (variation 1, seed 40): {run / 'chimney.glb'}" in out.stdout
    assert f"chimney (variation 2, seed 41): {run / 'chimney-v2.glb'}" in out.stdout
    manifest = json.loads((run / "manifest.json").read_text())
    assert [(r["stem"], r["seed"]) for r in manifest["records"]] == [("chimney", 40), ("chimney-v2", 41)]
    assert manifest["options"]["variations"] == 2
    bad = cli("generate", str(HOUSE), "--models", "tiny", "--out", str(tmp_path / "bad"), "--variations", "12")
    assert bad.returncode == 2 and "--variations 12 is out of range: it must be 1 to 8" in bad.stderr
