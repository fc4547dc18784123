"""Completion inside a Generate with the tiny models: a disc that a block covers, and a lamp on its
own. ``auto`` completes the disc (the block stands in front of it) and leaves the block and the lamp
alone; the run keeps both cut-outs and says why; a damaged editor keeps the job going with one sentence.

The picture is drawn and the grounding and matting are deterministic stand-ins (the tiny replicas'
random weights would box and cut out noise), so which target is covered is known. The editor is the
tiny FLUX.2 [klein] replica through the production stage (``stages.editing``), or, where the test is
about what happens to a good completion, a deterministic editor through the job's one seam
(``completing._editor_call``): the tiny editor's random weights paint noise."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pytest
from PIL import Image

from completion_scene import BLUE, RED, editor_draws_whole_shapes, picture, stand_in_scene
from testdata import FAST_OPTIONS
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.jobs.steps import completing
from img23d_backend.catalog import tiny_model_set
from img23d_backend.jobs.steps.completion import fill
from img23d_protocol import GenerateJobResult, GenerateRequest, JobOptions, RegenerateRequest


def _damaged_editor(tiny_root: Path, folder: Path) -> Path:
    """A copy of the tiny editor whose transformer weights are not a safetensors file (links to the
    rest: never write through them)."""
    shutil.copytree(tiny_model_set(tiny_root).editor.local_path, folder, copy_function=os.symlink)
    weights = folder / "transformer" / "diffusion_pytorch_model.safetensors"
    weights.unlink()
    weights.write_bytes(b"\x00not a safetensors file" * 64)
    return folder


@pytest.fixture()
def run_job(tiny_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest):
    image = picture(tmp_path / "scene.png")
    stand_in_scene(monkeypatch)
    models = tiny_model_set(tiny_root)
    if request.node.get_closest_marker("damaged_editor"):
        damaged = _damaged_editor(tiny_root, tmp_path / "editor")
        models = dataclasses.replace(models, editor=dataclasses.replace(models.editor, local_path=damaged))
    engine = Engine(EngineSettings(models=models, runs_dir=tmp_path / "runs", device="cpu"))
    events: list[Any] = []

    def run(mode: str, off: list[str] | None = None, regenerate: str = "") -> tuple[Any, Path, list[Any]]:
        if regenerate:  # the disc of the run ``regenerate`` made again, from its cut-out
            request = RegenerateRequest(id="r", run=regenerate, keys=["disc"], options=JobOptions(**FAST_OPTIONS))
            result = engine.run(request, Job(id="r", emit=events.append))
            return result, Path(result.run_dir), []
        events.clear()
        request = GenerateRequest(id="c", image=str(image), targets=["disc", "block", "lamp"],
                                  options=JobOptions(**FAST_OPTIONS, complete_hidden=mode), completion_off=off or [])
        result = engine.run(request, Job(id="c", emit=events.append))
        return result, Path(result.run_dir), list(events)

    return run


def _blue(pixels: np.ndarray) -> np.ndarray:
    """Which of ``pixels`` (RGB or RGBA rows) have the block's colour."""
    return np.all(np.abs(pixels[..., :3].astype(int) - BLUE) < 30, axis=-1)


def _block_in_crop(run: Path) -> np.ndarray:
    """The block's pixels in the disc's crop, as the run kept the crop."""
    return _blue(np.asarray(Image.open(run / "crops" / "disc.png").convert("RGB")))


def _by_name(result: GenerateJobResult) -> dict[str, Any]:
    return {t.target: t for t in result.targets}


def test_auto_completes_the_covered_disc_and_leaves_the_block_and_the_lamp_alone(run_job, monkeypatch) -> None:
    asked: list[str] = []
    given: list[Image.Image] = []

    def editor(run: Any) -> fill.Edit:
        def edit(asks: Sequence[fill.EditAsk]) -> list[Image.Image]:
            asked.extend(ask.instruction for ask in asks)
            given.extend(ask.image for ask in asks)
            return editor_draws_whole_shapes(asks)
        return edit

    monkeypatch.setattr(completing, "_editor_call", editor)
    result, run, events = run_job("auto")
    targets = _by_name(result)
    assert all(t.status == "done" for t in targets.values())
    # The block is named as the one to take away, and the disc's crop (its box and margin, 168 px square
    # at (46, 46)) grows right and down toward it, up to the block's box and the margin past it.
    assert asked == [fill.instruction("disc", ("block",))] and "remove the block in front of the disc" in asked[0]
    [(width, height)] = [image.size for image in given]
    assert abs(width - (260 + 14 - 46)) <= 2 and abs(height - (250 + 14 - 46)) <= 2  # (grounding's grid rounds)
    crop = np.asarray(Image.open(run / "crops" / "disc.png").convert("RGB"))
    assert np.array_equal(np.asarray(given[0])[:crop.shape[0], :crop.shape[1]], crop)
    disc, block, lamp = targets["disc"].completion, targets["block"].completion, targets["lamp"].completion
    assert (disc.completed, disc.reason, disc.cutout) == (True, "covered by 'block'", "completed/disc.png")
    # The stand-in matting takes in every dark thing in a crop, as BiRefNet does: the block's matte
    # holds the disc past its edges, which lie in the disc's box and so are the disc, not a sign.
    assert (block.completed, block.reason) == (False, "nothing covers it and its matte stays inside its box")
    assert (lamp.completed, lamp.reason, lamp.cutout) == (False, block.reason, None)
    # Both cut-outs are kept: the one as seen in mattes/, the completed one in completed/.
    assert (run / "mattes" / "disc.png").is_file() and (run / "mattes" / "lamp.png").is_file()
    assert sorted(p.name for p in (run / "completed").iterdir()) == ["disc.png"]
    seen = np.asarray(Image.open(run / "mattes" / "disc.png").getchannel("A"))
    grown = np.asarray(Image.open(run / "completed" / "disc.png").getchannel("A"))
    assert grown.shape == (height, width)
    whole = grown[:seen.shape[0], :seen.shape[1]]  # the crop's own part of the grown one
    assert (whole >= seen).all() and np.count_nonzero(whole >= 128) > np.count_nonzero(seen >= 128)
    # The stand-in matting cut the block out in the disc's crop too (the cut-out as seen shows it);
    # the completed disc holds none of it: the block was not pasted back over the editor's disc.
    block_here = _block_in_crop(run)
    assert (seen[block_here] >= 128).any()
    completed = np.asarray(Image.open(run / "completed" / "disc.png").convert("RGBA"))[:seen.shape[0], :seen.shape[1]]
    # What was seen of the disc is pasted back where it was (its colours as its cut-out has them).
    own = (seen >= 128) & ~block_here
    as_seen = np.asarray(Image.open(run / "mattes" / "disc.png").convert("RGBA")).astype(int)
    # (the stand-in's alpha is partial there, so the editor's red shows a little through it)
    assert own.sum() > 1000 and np.abs(completed[own][:, :3].astype(int) - as_seen[own][:, :3]).max() <= 8
    assert not _blue(completed[block_here & (whole >= 128)]).any()
    there = completed[block_here & (whole >= 128)]
    assert there.size and (np.abs(there[:, :3].astype(int) - RED) < 30).all()  # the editor's red there
    manifest = json.loads((run / "manifest.json").read_text())
    assert {r["target"]: r["completion"]["completed"] for r in manifest["records"]} == {
        "disc": True, "block": False, "lamp": False}
    assert "completion" in manifest["timings"]
    assert any(getattr(e, "stage", None) == "completion" and e.message == "disc completed (covered by 'block')"
               for e in events)
    # Regenerating the disc starts from the cut-out its mesh came from: the completed one.
    _, again, _ = run_job("", regenerate=str(run))
    assert np.array_equal(np.asarray(Image.open(again / "mattes" / "disc.png")),
                          np.asarray(Image.open(run / "completed" / "disc.png")))


def test_depth_is_read_where_the_picture_shows_a_completed_target(run_job, monkeypatch) -> None:
    """Over a completed cut-out's hidden part the depth map shows what hides it: a table behind a sofa was
    measured at the sofa's distance. Depth reads each target's cut-out as seen, over its crop as matted."""
    from img23d_backend.layout import scene

    measured: dict[str, Any] = {}
    real = scene.measure

    def measure(run: Any, image: Any, live: Any, rects: dict, cutouts: dict) -> Any:
        measured.update(rects=dict(rects), cutouts=dict(cutouts))
        return real(run, image, live, rects, cutouts)

    monkeypatch.setattr(scene, "measure", measure)
    monkeypatch.setattr(completing, "_editor_call", lambda run: editor_draws_whole_shapes)
    result, run, _ = run_job("auto")
    assert _by_name(result)["disc"].completion.completed
    seen = np.asarray(Image.open(run / "mattes" / "disc.png"))
    assert np.array_equal(np.asarray(measured["cutouts"]["disc"]), seen)  # not completed/disc.png
    assert measured["rects"]["disc"][2] - measured["rects"]["disc"][0] == seen.shape[1]  # its crop, not the grown


@pytest.mark.damaged_editor
def test_a_damaged_editor_keeps_the_job_going_with_one_sentence(run_job) -> None:
    # The tiny editor with a damaged transformer file: every target still gets its mesh, from its
    # cut-out as seen, and the sentence names the model and why.
    result, run, events = run_job("auto")
    targets = _by_name(result)
    assert all(t.status == "done" for t in targets.values())
    disc = targets["disc"].completion
    assert disc.completed is False and disc.reason == "covered by 'block'" and disc.cutout is None
    assert disc.skipped.startswith("'disc' was not completed: the editor model (")
    assert "could not be loaded or run" in disc.skipped and "\n" not in disc.skipped
    assert disc.skipped.endswith("; it keeps its cut-out as seen")
    assert targets["lamp"].completion.skipped is None
    assert not (run / "completed").exists()
    said = [e.message for e in events if getattr(e, "stage", None) == "completion" and "not completed" in e.message]
    assert said == [disc.skipped]


def test_the_tiny_editor_runs_in_the_step_through_the_production_stage(run_job) -> None:
    """No stand-in editor: the step loads the tiny FLUX.2 [klein] replica through the model manager and
    runs it on the covered disc's crop alone. Its random weights paint noise (seeded, so the same noise
    each run), which is a usable picture: pasted under what was seen, matted again, kept in completed/."""
    result, run, events = run_job("auto")
    targets = _by_name(result)
    assert all(t.status == "done" for t in targets.values())
    disc = targets["disc"].completion
    assert (disc.completed, disc.reason, disc.cutout, disc.skipped) == (
        True, "covered by 'block'", "completed/disc.png", None)
    seen = np.asarray(Image.open(run / "mattes" / "disc.png").getchannel("A"))
    grown = np.asarray(Image.open(run / "completed" / "disc.png").getchannel("A"))
    whole = grown[:seen.shape[0], :seen.shape[1]]  # the crop grew right and down, toward the block
    own = ~_block_in_crop(run)  # the block the disc's cut-out took in is not the disc's to keep
    assert grown.shape[0] > seen.shape[0] and grown.shape[1] > seen.shape[1] and (whole[own] >= seen[own]).all()  # what was seen of the disc stays
    assert not targets["block"].completion.completed and not targets["lamp"].completion.completed
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["models"]["editor"]["id"] == "tiny/flux2-klein-4b"


def test_never_judges_nothing_and_the_artist_can_turn_one_off(run_job, monkeypatch) -> None:
    called: list[int] = []
    monkeypatch.setattr(completing, "_editor_call",
                        lambda run: lambda asks: called.append(len(asks)) or editor_draws_whole_shapes(asks))
    result, run, _ = run_job("never")
    assert all(t.completion is None for t in result.targets) and called == []
    result, run, _ = run_job("always", off=["Disc"])
    targets = _by_name(result)
    assert targets["disc"].completion.reason == "the artist turned completion off for it"
    assert not targets["disc"].completion.completed
    assert targets["lamp"].completion.completed and targets["lamp"].completion.reason == "asked for every target"
    assert called == [2]  # block and lamp, together
