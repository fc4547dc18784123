"""Completion with a name's views (issue 55 item 6): a Generate whose names have views gives each
completed target's crop to the editor with its own name's views beside it (never another name's), cut
out and on white, named in the instruction; a view that cannot be read is one sentence and the job goes
on; the cost of completion grows with the views.

The scene, grounding and matting are ``test_completion_jobs.py``'s deterministic stand-ins; the editor
is replaced at ``completing.edit_images``, behind the job's own binding (``completing._editor_call``),
so what reaches the image editor is what the production stage would be given."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from completion_scene import RED, picture, scene_engine
from testdata import FAST_OPTIONS
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.jobs.steps import completing
from img23d_backend.editors.costs import completion_costs
from img23d_backend.models import step_costs
from img23d_backend.catalog import DEFAULT_EDITOR, EDITORS, tiny_model_set
from img23d_backend.jobs.steps.completion import fill, references
from img23d_backend.editors.driver import EditRequest
from img23d_protocol import GenerateRequest, JobOptions

PURPLE, ORANGE = (120, 20, 140), (150, 70, 10)


def _view(path: Path, colour: tuple[int, int, int], alpha: bool) -> Path:
    """A view: a filled circle on a grey backdrop (RGB), or on transparency (RGBA: its own cut-out)."""
    view = Image.new("RGBA" if alpha else "RGB", (120, 90), (0, 0, 0, 0) if alpha else (250, 250, 250))
    ImageDraw.Draw(view).ellipse((30, 10, 100, 80), fill=colour)
    view.save(path)
    return path


@pytest.fixture()
def generate(tiny_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    engine = scene_engine(tiny_root, tmp_path, monkeypatch)
    given: list[EditRequest] = []

    def editor(manager: Any, requests: Sequence[EditRequest], cancel: Any, edit_size: int = 0) -> list[Image.Image]:
        given.extend(requests)
        return [request.image for request in requests]  # the crop itself: a usable picture

    monkeypatch.setattr(completing, "edit_images", editor)

    def run(views: dict[str, dict[str, str]]) -> tuple[Any, list[Any], list[EditRequest]]:
        given.clear()
        events: list[Any] = []
        request = GenerateRequest(id="v", image=str(picture(tmp_path / "scene.png")), targets=["disc", "block", "lamp"],
                                  options=JobOptions(**FAST_OPTIONS, complete_hidden="always"), views=views)
        return engine.run(request, Job(id="v", emit=events.append)), events, list(given)

    return run


def _colour_share(picture: Image.Image, colour: tuple[int, int, int]) -> float:
    rgb = np.asarray(picture.convert("RGB")).astype(int)
    return float(np.all(np.abs(rgb - colour) < 30, axis=-1).mean())


def test_each_completed_name_gets_its_own_views_cut_out_and_named(generate, tmp_path: Path) -> None:
    views = {"disc": {"left": str(_view(tmp_path / "disc-left.png", RED, alpha=False)),
                      "back": str(_view(tmp_path / "disc-back.png", PURPLE, alpha=True))},
             "LAMP": {"right": str(_view(tmp_path / "lamp-right.png", ORANGE, alpha=False)),
                      "back": str(tmp_path / "no-such-view.png")}}
    speck = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    ImageDraw.Draw(speck).rectangle((20, 40, 180, 51), fill=(90, 90, 90, 255))  # 12 pixels tall: left out
    speck.save(tmp_path / "block-back.png")
    views["block"] = {"back": str(tmp_path / "block-back.png")}
    result, events, given = generate(views)
    assert all(t.status == "done" for t in result.targets)
    assert len(given) == 3
    disc = next(r for r in given if "in front of the disc" in r.instruction)
    lamp = next(r for r in given if "the whole lamp" in r.instruction)
    block = next(r for r in given if "the whole block" in r.instruction)
    # The disc: its back (its own alpha) first, then its left (cut out by the job's matting), each the
    # object alone on white, trimmed to it; named in that order after what the crop asks.
    assert [p.size for p in disc.references] == [(71, 71), (71, 71)]
    assert _colour_share(disc.references[0], PURPLE) > 0.7 and _colour_share(disc.references[1], RED) > 0.7
    assert all(np.asarray(p)[0, 0].tolist() == [255, 255, 255] for p in disc.references)
    assert disc.instruction == fill.instruction("disc", ("block",), ("back", "left"))
    assert disc.instruction.endswith("the other pictures show the same disc from its back and left")
    # The lamp (its name given in another case): its right view only (its back could not be read); the
    # block, which has no views: its crop alone, as before views.
    assert len(lamp.references) == 1 and _colour_share(lamp.references[0], ORANGE) > 0.7
    assert lamp.instruction.endswith("from its right") and block.references == ()
    assert "the other pictures" not in block.instruction
    said = [e.message for e in events if getattr(e, "stage", None) == "completion"]
    # A view the job leaves out is left out of the completion too (it steered the editor before it was said).
    assert sorted(m for m in said if "left out" in m) == [
        "the back view of 'block' is left out of its completion: its object is 12 pixels tall, fewer than the 16 "
        "a view needs",
        f"the back view of 'lamp' is left out of its completion: no file at {tmp_path / 'no-such-view.png'}"]
    assert any(m.startswith("disc completed (") and m.endswith("), with its back and left views") for m in said)
    assert any(m.startswith("lamp completed (") and m.endswith("), with its right view") for m in said)


def test_the_editor_with_room_for_fewer_takes_the_back_first() -> None:
    assert references.chosen(("left", "back", "right"), 3) == ("back", "left", "right")
    assert references.chosen(("left", "back", "right"), 2) == ("back", "left")  # Qwen-Image-Edit-2511
    assert references.chosen(("left", "right"), 2) == ("left", "right")
    assert references.chosen(("right",), 0) == ()
    assert references.on_white(Image.new("RGBA", (8, 8), (0, 0, 0, 0))) is None


def test_the_cost_estimate_grows_with_the_views() -> None:
    cpu = torch.device("cpu")
    def seconds(references: tuple[int, ...] = ()) -> float:
        completion = completion_costs(EDITORS[DEFAULT_EDITOR], cpu, references)
        return step_costs.step_costs(cpu, completion, 1024 * 1024).completion_seconds()

    alone, one, three, mixed = seconds(), seconds((1,)), seconds((3,)), seconds((3, 0))
    assert alone < one < three and mixed == pytest.approx((three + alone) / 2)
    # Three views beside a crop at 1024 x 1024: 2.5 times the transformer's tokens, attention the square of it.
    assert 2.5 < three / alone < 6.25


def test_the_jobs_refusal_counts_each_names_views(tiny_root: Path, tmp_path: Path) -> None:
    """What the engine asks before a job (``step_costs(request)``, the long-job refusal's figures): each
    name's views as the editor takes them (the tiny klein: three beside the crop), the mean object's."""
    engine = Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path / "runs", device="cpu"))
    request = GenerateRequest(id="v", image="scene.png", targets=["disc", "lamp"], views={
        "disc": {"left": "l.png", "back": "b.png", "right": "r.png"}}, options=JobOptions(complete_hidden="auto"))
    assert step_costs.request_references(request, 4) == (3, 0) and step_costs.request_references(request, 3) == (2, 0)
    alone = engine.step_costs().completion_seconds()
    assert engine.step_costs(request).completion_seconds() == pytest.approx(
        (engine.step_costs(GenerateRequest(id="w", image="scene.png", targets=["disc"], views=request.views))
         .completion_seconds() + alone) / 2)
    assert engine.step_costs(request).completion_seconds() > alone


def test_a_generate_with_views_and_completion_cuts_out_each_view_once(generate, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The views are read, kept and cut out once (``views.given``): the completion takes the cut-outs the
    views stage keeps, rather than reading and matting each view again."""
    from img23d_backend.matting import driver as matting

    matted: list[bytes] = []
    real = matting.matte

    def counted(model: Any, crops: list[Image.Image], **kwargs: Any) -> list[Any]:
        matted.extend(np.asarray(crop.convert("RGB")).tobytes() for crop in crops)
        return real(model, crops, **kwargs)

    monkeypatch.setattr(matting, "matte", counted)
    left, right = _view(tmp_path / "disc-left.png", RED, alpha=False), _view(tmp_path / "lamp-right.png", ORANGE,
                                                                              alpha=False)
    back = _view(tmp_path / "disc-back.png", PURPLE, alpha=True)  # its own cut-out: never matted
    result, _, given = generate({"disc": {"left": str(left), "back": str(back)}, "lamp": {"right": str(right)}})
    assert all(t.status == "done" for t in result.targets)
    assert sum(len(r.references) for r in given) == 3  # the completion was shown every view
    pictures = {path.stem: np.asarray(Image.open(path).convert("RGB")).tobytes() for path in (left, right, back)}
    assert {stem: matted.count(picture) for stem, picture in pictures.items()} == {
        "disc-left": 1, "lamp-right": 1, "disc-back": 0}
