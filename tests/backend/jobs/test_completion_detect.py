"""Detect previews completion: with ``complete_hidden`` on, each found target is cropped, matted,
judged and completed as a Generate would, the run keeps both cut-outs, and completion.png shows them
side by side with each reason; with it off, Detect stays grounding alone.

The editor is a deterministic stand-in through the job's one seam (``completing._editor_call``), so
the preview shows a known completion; the tiny FLUX.2 [klein] replica runs in Generate's completion
tests (test_completion_jobs.py) and in the add-on's Detect test (test_addon_boxes.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pytest
from PIL import Image

from completion_scene import editor_draws_whole_shapes, picture, scene_engine
from img23d_backend.jobs import Engine, Job
from img23d_backend.jobs.steps import completing
from img23d_backend.jobs.kinds.detect import DetectRun
from img23d_backend.jobs.steps.completion import fill, sheet
from img23d_protocol import Artifact, ArtifactKind, Completion, DetectJobResult, DetectRequest, JobOptions


@pytest.fixture()
def detect(tiny_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    image = picture(tmp_path / "scene.png")
    engine = scene_engine(tiny_root, tmp_path, monkeypatch)

    def run(mode: str) -> tuple[DetectJobResult, Path, list[Any], Engine]:
        events: list[Any] = []
        request = DetectRequest(id="d", image=str(image), targets=["disc", "block", "lamp"],
                                options=JobOptions(complete_hidden=mode))
        result = engine.run(request, Job(id="d", emit=events.append))
        return result, Path(result.run_dir), events, engine

    return run


def test_detect_with_auto_shows_each_cut_out_beside_its_completed_one_and_says_why(detect, monkeypatch) -> None:
    asked: list[str] = []

    def editor(run: Any) -> fill.Edit:
        def edit(asks: Sequence[fill.EditAsk]) -> list[Image.Image]:
            asked.extend(ask.instruction for ask in asks)
            return editor_draws_whole_shapes(asks)
        return edit

    monkeypatch.setattr(completing, "_editor_call", editor)
    result, run, events, engine = detect("auto")
    assert asked == [fill.instruction("disc", ("block",))]
    assert result.completion == {
        "disc": [Completion(True, "covered by 'block'", "completed/disc.png")],
        "block": [Completion(False, "nothing covers it and its matte stays inside its box")],
        "lamp": [Completion(False, "nothing covers it and its matte stays inside its box")]}
    # Both cut-outs are in the run, and the completed one holds more than the one as seen.
    assert sorted(p.name for p in (run / "mattes").iterdir()) == ["block.png", "disc.png", "lamp.png"]
    assert sorted(p.name for p in (run / "completed").iterdir()) == ["disc.png"]
    seen = np.asarray(Image.open(run / "mattes" / "disc.png").getchannel("A"))
    whole = np.asarray(Image.open(run / "completed" / "disc.png").getchannel("A"))
    assert np.count_nonzero(whole >= 128) > np.count_nonzero(seen >= 128)
    # The picture: a row per target (its cut-out left, its completed one right), announced as an artifact.
    assert result.completion_picture == str(run / "completion.png")
    shown = Image.open(run / "completion.png")
    row = sheet.CAPTION + sheet.CELL + sheet.GAP
    assert shown.size == (sheet.GAP * 3 + sheet.CELL * 2, sheet.GAP + 3 * row)
    assert [e.path for e in events if isinstance(e, Artifact) and e.kind == ArtifactKind.COMPLETION] == [
        str(run / "completion.png")]
    pixels = np.asarray(shown.convert("RGB")).astype(int)

    def red_in(cell_x: int, row_index: int) -> int:  # the disc's red, in one cell of one row
        top = sheet.GAP + row_index * row + sheet.CAPTION
        cell = pixels[top:top + sheet.CELL, cell_x:cell_x + sheet.CELL]
        return int(np.count_nonzero((cell[..., 0] > 120) & (cell[..., 1] < 60) & (cell[..., 2] < 60)))

    left, right = sheet.GAP, sheet.GAP * 2 + sheet.CELL
    assert red_in(right, 0) > red_in(left, 0) > 0   # the disc's row: completed, more of it red
    assert red_in(right, 2) == 0                    # the lamp's row: nothing completed on the right
    # The manifest keeps a record per target with its completion; the result crosses the wire whole.
    manifest = json.loads((run / "manifest.json").read_text())
    assert {r["target"]: r["completion"]["completed"] for r in manifest["records"]} == {
        "disc": True, "block": False, "lamp": False}
    assert DetectJobResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def test_detect_loads_matting_and_the_editor_only_when_completion_is_on(detect, monkeypatch) -> None:
    called: list[int] = []
    monkeypatch.setattr(completing, "_editor_call",
                        lambda run: lambda asks: called.append(len(asks)) or editor_draws_whole_shapes(asks))
    assert DetectRun.roles_used(DetectRequest(image="x", targets=["a"])) == ("grounding",)
    assert DetectRun.roles_used(DetectRequest(image="x", targets=["a"], options=JobOptions(
        complete_hidden="auto"))) == ("grounding", "matting", "editor")
    result, run, events, engine = detect("never")
    assert result.completion == {} and result.completion_picture is None and called == []
    assert not (run / "mattes").exists() and not (run / "completion.png").exists()
    assert engine.manager.counters()["matting"].loads_from_disk == 0
