"""Suggested names: grouping the grounding model's labels, the suggest job, and ``--targets auto``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_inprocess import RunCli
from testdata import FAST_OPTIONS, HOUSE
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.catalog import tiny_model_set
from img23d_protocol import Artifact, MAX_TARGETS, SuggestRequest, parted_names_from_text, validate_targets
from img23d_backend.grounding.grounder import Detection
from img23d_backend.grounding.qwen3_vl.detections import parse_detections
from img23d_backend.grounding.suggestions import clean_name, suggest_names
from img23d_backend.grounding.qwen3_vl.replica_answer import ANSWER as TINY_GROUNDING_ANSWER

HOUSE_NAMES = ["house", "chimney", "door", "tree", "barrel", "rock", "stairs"]


def _box(label: str | None, size: float, x: float = 0.0) -> Detection:
    return Detection(label=label, box=(x, 0.0, x + size, size))


def test_labels_naming_the_same_thing_become_one_name_largest_box_first() -> None:
    found = [_box("Barrel", 10), _box("tree", 5), _box("barrels", 30), _box("red_barrel", 8), _box(None, 50),
             _box("red barrel", 9), _box("  ", 4), _box("---", 6)]   # "---": no word, a name no job finds (issue 88)
    suggestions = suggest_names(found)
    assert [s.name for s in suggestions] == ["Barrel", "tree", "red_barrel"]
    assert [d.area() for d in suggestions[0].detections] == [900.0, 100.0]
    assert [d.area() for d in suggestions[2].detections] == [81.0, 64.0]


def test_names_are_ones_an_artist_can_keep_and_send() -> None:
    assert clean_name("  wooden\nbarrel,  old ") == "wooden barrel old"
    many = [_box(f"thing {i}", 5, x=i) for i in range(MAX_TARGETS + 5)]
    names = [s.name for s in suggest_names(many)]
    assert len(names) == MAX_TARGETS and validate_targets(names) == names


def test_a_suggested_name_holds_no_brackets_so_the_names_field_reads_it_as_one_name() -> None:
    """Brackets name an object's parts in the Names field: "lamp (desk)" asked the parts model for a part "desk",
    and "mug :)" made the whole field unreadable."""
    names = [clean_name("lamp (desk)"), clean_name("mug :)"), clean_name("chair")]
    assert names == ["lamp desk", "mug :", "chair"]
    assert parted_names_from_text(", ".join(names)) == (names, {})


def test_the_tiny_models_answer_suggests_each_kind_once() -> None:
    suggestions = suggest_names(parse_detections(TINY_GROUNDING_ANSWER, 1024, 1024))
    assert [s.name for s in suggestions] == HOUSE_NAMES
    assert {s.name: len(s.detections) for s in suggestions if len(s.detections) > 1} == {
        "tree": 2, "barrel": 3, "rock": 2}


def test_the_suggest_job_returns_names_boxes_and_the_overlay(tiny_root: Path, tmp_path: Path) -> None:
    engine = Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path, device="cpu"))
    events: list = []
    data = engine.run(SuggestRequest(id="s", image=str(HOUSE)), Job(id="s", emit=events.append))
    assert data.names == HOUSE_NAMES and data.all_instances is True
    assert len(data.boxes["barrel"]) == 3 and data.image_size == [1024, 1024]
    x0, y0, x1, y1 = data.boxes["house"][0]
    assert (x0, y0) == pytest.approx((185 * 1.024, 105 * 1.024), abs=1) and x1 > x0 and y1 > y0
    overlays = [e.path for e in events if isinstance(e, Artifact) and e.kind == "overlay"]
    assert len(overlays) == 1 and Path(overlays[0]).is_file()
    manifest = json.loads((Path(data.run_dir) / "manifest.json").read_text())
    assert manifest["kind"] == "suggest" and manifest["status"] == "finished" and manifest["targets"] == HOUSE_NAMES
    assert manifest["model_counters"]["grounding"]["loads_from_disk"] == 1
    assert manifest["model_counters"]["shape"]["loads_from_disk"] == 0


def test_cli_targets_auto_makes_every_instance_of_each_suggested_name(cli: RunCli, tmp_path: Path) -> None:
    flags = ["--steps", str(FAST_OPTIONS["steps"]), "--octree-resolution", str(FAST_OPTIONS["octree_resolution"]),
             "--face-budget", str(FAST_OPTIONS["face_budget"]), "--no-texture"]
    out = cli("generate", str(HOUSE), "--targets", "auto", "--models", "tiny", "--device", "cpu", "--out", str(tmp_path),
              *flags)
    assert out.returncode == 0, out.stderr
    assert f"suggested: {', '.join(HOUSE_NAMES)} (every instance)" in out.stdout
    runs = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    kinds = [json.loads((run / "manifest.json").read_text())["kind"] for run in runs]
    assert sorted(kinds) == ["generate", "suggest"]
    [generate] = [run for run, kind in zip(runs, kinds) if kind == "generate"]
    manifest = json.loads((generate / "manifest.json").read_text())
    assert manifest["targets"] == HOUSE_NAMES and manifest["options"]["keep"] == "all"
    assert len([r for r in manifest["records"] if r["status"] == "done"]) == 11
    assert (generate / "barrel-3.glb").is_file()
