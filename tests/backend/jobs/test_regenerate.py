"""Regenerate: a new mesh for some objects of a Generate run, from the run's own cut-outs.

The tiny models in-process: grounding, matting and depth must not run again, the new meshes keep
their objects' stems and go to a run folder of their own inside the Generate run, which keeps its
first meshes and manifest untouched; bad requests are one sentence before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import trimesh
from PIL import Image

from testdata import FAST_OPTIONS, HOUSE
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.catalog import tiny_model_set
from img23d_protocol import (Artifact, ErrorCode, GenerateRequest, JobOptions, ProtocolError, RegenerateJobResult,
                             RegenerateRequest, decode, REQUEST_TYPES)


@pytest.fixture(scope="module")
def engine(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path_factory.mktemp("runs"),
                                 device="cpu"))


@pytest.fixture(scope="module")
def generated(engine: Engine) -> Path:
    request = GenerateRequest(id="g", image=str(HOUSE), targets=["house", "chimney", "barrel"],
                              options=JobOptions(**FAST_OPTIONS))
    data = engine.run(request, Job(id="g", emit=lambda event: None))
    return Path(data.run_dir)


def _digests(run: Path) -> dict[str, str]:
    return {str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(run.rglob("*")) if p.is_file() and "regenerated" not in p.parts}


def _regenerate(engine: Engine, run: Path, keys: list[str], **options) -> tuple[RegenerateJobResult, list]:
    events: list = []
    request = RegenerateRequest(id="r", run=str(run), keys=keys, options=JobOptions(**{**FAST_OPTIONS, **options}))
    return engine.run(request, Job(id="r", emit=events.append)), events


def test_regenerate_makes_a_new_mesh_from_the_runs_cut_out_alone(engine: Engine, generated: Path,
                                                                 monkeypatch) -> None:
    before = _digests(generated)
    used: list[str] = []
    real_use = engine.manager.use
    monkeypatch.setattr(engine.manager, "use", lambda role, *a, **k: used.append(role) or real_use(role, *a, **k))
    data, events = _regenerate(engine, generated, ["chimney"], seed=777)
    assert used == ["shape"]  # no grounding, matting or depth: only the shape model ran
    [record] = data.targets
    assert (record.target, record.stem, record.seed, record.status) == ("chimney", "chimney", 777, "done")
    folder = Path(data.run_dir)
    assert folder.parent == generated / "regenerated"
    new = trimesh.load(folder / "chimney.glb", force="mesh")
    old = trimesh.load(generated / "chimney.glb", force="mesh")
    assert len(new.faces) > 0 and (len(new.faces) != len(old.faces) or abs(new.vertices - old.vertices).max() > 1e-4)
    # The Generate run keeps its first meshes and manifest as they were: both versions exist.
    assert _digests(generated) == before
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["kind"] == "regenerate" and manifest["status"] == "finished"
    assert set(manifest["timings"]) <= {"load", "shape", "cleanup", "export"}
    assert manifest["source_run"] == str(generated.resolve())
    assert manifest["records"][0]["box"] == json.loads((generated / "manifest.json").read_text())["records"][1]["box"]
    assert manifest["records"][0]["placement"] is not None  # laid out as the run lays it out
    [mesh] = [e for e in events if isinstance(e, Artifact) and e.kind == "mesh"]
    assert (mesh.target, Path(mesh.path).stem, mesh.seed) == ("chimney", "chimney", 777)
    assert mesh.image_size == [1024, 1024] and mesh.box == record.box


def test_several_objects_regenerate_in_one_job_each_with_its_seed(engine: Engine, generated: Path) -> None:
    data, events = _regenerate(engine, generated, ["house", "barrel"], seed=5, face_budget=500)
    assert [(r.stem, r.seed, r.status) for r in data.targets] == [("house", 5, "done"), ("barrel", 6, "done")]
    assert all(r.faces <= 500 for r in data.targets)  # the new options apply
    assert len(list((generated / "regenerated").iterdir())) >= 2  # every regeneration kept


def test_regenerate_is_not_refused_for_completion_or_variations_it_never_runs(engine: Engine, generated: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The panel's Complete Hidden and Variations come with a Regenerate: on a device where completion takes 31
    minutes an object (a CPU's figure in the guide) it was refused as a long job, for an editor it never runs."""
    real = engine.step_costs
    monkeypatch.setattr(engine, "step_costs", lambda request=None: replace(
        real(request), edit_pixels=real(request).edit_pixels or 1024 * 1024, completion_fixed_s=31 * 60.0))
    data, _ = _regenerate(engine, generated, ["house", "barrel"], complete_hidden="auto", variations=3)
    assert [r.status for r in data.targets] == ["done", "done"]
    options = json.loads(Path(data.manifest).read_text(encoding="utf-8"))["options"]
    assert (options["complete_hidden"], options["variations"]) == ("never", 1)  # as it ran


@pytest.mark.parametrize("keys, run, message", [
    (["unicorn"], None, "'unicorn' is not an object of the run"),
    (["chimney"], "/nowhere/run", "the run folder '/nowhere/run' is gone"),
    (["chimney"], "not-a-run", "is not a run folder img23d can read"),
])
def test_a_bad_regenerate_request_is_one_sentence_and_writes_nothing(engine: Engine, generated: Path, tmp_path: Path,
                                                                     keys, run, message) -> None:
    if run == "not-a-run":
        run = str(tmp_path)
    before = sorted((generated / "regenerated").glob("*")) if (generated / "regenerated").exists() else []
    with pytest.raises(ProtocolError, match=message) as caught:
        _regenerate(engine, Path(run) if run else generated, keys)
    assert caught.value.code is ErrorCode.BAD_REQUEST
    after = sorted((generated / "regenerated").glob("*")) if (generated / "regenerated").exists() else []
    assert after == before


def test_an_object_whose_cut_out_is_gone_cannot_be_regenerated(engine: Engine, generated: Path,
                                                               tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(generated, copy, ignore=shutil.ignore_patterns("regenerated"))
    (copy / "mattes" / "barrel.png").unlink()
    removed = r"'barrel' has no cut-out in the run copy \(its file was removed from the run folder\)"
    with pytest.raises(ProtocolError, match=removed):  # it did not fail before matting, as it said
        _regenerate(engine, copy, ["barrel"])


def test_an_opaque_cut_out_with_a_drawn_box_regenerates_and_keeps_its_box_the_artists(engine: Engine, generated: Path,
                                                                                     tmp_path: Path) -> None:
    """Matting that takes the whole crop (a close-up) writes an RGBA cut-out opaque everywhere: Regenerate refused
    it as "not one Generate wrote". And the new record dropped ``artist_box``."""
    copy = tmp_path / "copy"
    shutil.copytree(generated, copy, ignore=shutil.ignore_patterns("regenerated"))
    with Image.open(copy / "mattes" / "chimney.png") as cutout:
        opaque = cutout.convert("RGBA")
    opaque.putalpha(255)
    opaque.save(copy / "mattes" / "chimney.png")
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    for record in manifest["records"]:
        record["artist_box"] = record["stem"] == "chimney"
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    data, _ = _regenerate(engine, copy, ["chimney"])
    [record] = json.loads(Path(data.manifest).read_text(encoding="utf-8"))["records"]
    assert (record["stem"], record["status"], record["artist_box"]) == ("chimney", "done", True)


@pytest.mark.parametrize("keys", [["../house"], ["a/b"], [".hidden"], ["x", "X"], [], ["a\nb"]])
def test_keys_that_could_leave_the_run_folder_are_refused_on_arrival(keys: list[str]) -> None:
    line = json.dumps({"v": 1, "type": "regenerate", "id": "r", "run": "/tmp/run", "keys": keys})
    with pytest.raises(ProtocolError) as caught:
        decode(line, REQUEST_TYPES)
    assert caught.value.code is ErrorCode.BAD_REQUEST
