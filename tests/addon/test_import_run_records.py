"""The add-on's side of a run's record (``img23d_client.run_layout``, what Import Run, Re-layout, Regenerate
and a live job read): a run from the first release lays out by its boxes, one from a newer img23d is one
sentence (``NotARun``), and the records come typed, not as dicts read by key.

The manifests are tests/wire/manifests/ (their docstring says where each shape comes from).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from img23d_client import run_layout
from img23d_protocol import TargetRecord

MANIFESTS = Path(__file__).parents[1] / "wire" / "manifests"


def _run(tmp_path: Path, name: str, **changes: object) -> Path:
    run = tmp_path / "20261122-100411-house_scene"
    run.mkdir()
    data = {**json.loads((MANIFESTS / name).read_text(encoding="utf-8")), **changes}
    (run / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    return run


def test_a_first_release_run_is_laid_out_by_its_boxes(tmp_path: Path) -> None:
    manifest = run_layout.read_manifest(_run(tmp_path, "first-release-bc1fe14.json"))
    assert all(isinstance(record, TargetRecord) for record in manifest.records)
    layout = run_layout.solve_run(manifest, run_layout.LayoutChoice(fov_degrees=40.0))
    assert set(layout.anchors) == {"house", "chimney"} and layout.camera.fov_degrees == 40.0
    assert run_layout.stems_by_target(manifest) == {("house", 1): "house", ("chimney", 1): "chimney"}


def test_a_newer_img23d_run_is_one_sentence(tmp_path: Path) -> None:
    run = _run(tmp_path, "main-f49deb6-generate.json", format=2, backend_version="9.0.0")
    with pytest.raises(run_layout.NotARun) as caught:
        run_layout.read_manifest(run / "manifest.json")
    assert str(caught.value) == (f"{run}: this run was written by img23d 9.0.0 in run format 2, which this img23d "
                                 "(run format 1) cannot read: update the add-on and the backend to open it")


@pytest.mark.parametrize("changes, sentence", [
    ({"records": [{"target": "house", "mesh": ["house.glb"]}]}, "a target record's 'mesh' is not a string"),
    ({"image": {"source": "house.png"}}, "is not an img23d run manifest with a picture (no picture size)"),
    ({"records": None}, "the run manifest has no list of records"),
    # Read by key, this one was a ValueError out of Re-layout (int("one")), and a record without a
    # target a KeyError out of Import Run.
    ({"records": [{"target": "house", "stem": "house", "instance": "one"}]},
     "a target record's 'instance' is not a whole number"),
    ({"records": [{"stem": "house", "status": "done", "mesh": "house.glb"}]}, "a target record's 'target' is missing"),
])
def test_a_damaged_run_is_one_sentence_not_a_key_error(tmp_path: Path, changes: dict, sentence: str) -> None:
    run = _run(tmp_path, "main-f49deb6-generate.json", **changes)
    with pytest.raises(run_layout.NotARun, match="^" + str(run)) as caught:
        run_layout.read_manifest(run)
    assert sentence in str(caught.value)


def test_a_metric_depth_run_is_laid_out_in_metres_as_the_backend_laid_it(tmp_path: Path) -> None:
    """Import Run and Re-layout read the run's depth kind: a metric map (MoGe-2) keeps each distance as measured,
    as the backend placed it (issue 98); the manifest's ``scale`` says which."""
    data = json.loads((MANIFESTS / "main-f49deb6-generate.json").read_text(encoding="utf-8"))
    for record, distance in zip(data["records"], (6.0, 6.5)):
        record["depth"]["disparity"] = 1 / distance
    scene = {**data["scene"], "depth": {**data["scene"]["depth"], "kind": "metric"}}
    manifest = run_layout.read_manifest(_run(tmp_path, "main-f49deb6-generate.json", records=data["records"],
                                             scene=scene))
    assert manifest.depth_metric
    layout = run_layout.solve_run(manifest, run_layout.LayoutChoice(fov_degrees=40.0, ground=False))
    assert layout.settings.metric and layout.anchors["house"].distance == pytest.approx(6.0)
    assert layout.anchors["chimney"].distance == pytest.approx(6.5)
