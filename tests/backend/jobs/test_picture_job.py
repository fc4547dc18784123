"""Make Picture (protocol 1.25's ``picture`` request, issue 76 item 2) under the engine with the tiny models:
the picture alone in a run folder of its own, the prompt in its manifest, announced as a ``picture`` artifact
with its expected time said before it starts; the same prompt, seed and side make the same picture; a bad
request is one sentence with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from img23d_backend.catalog import tiny_model_set
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_protocol import (ESTIMATE_STAGE, Artifact, ArtifactKind, ErrorCode, JobOptions, PictureJobResult,
                             PictureRequest, Progress, ProtocolError)

PROMPT = "a wooden barrel beside a small house"


@pytest.fixture(scope="module")
def engine(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path_factory.mktemp("runs"),
                                 device="cpu"))


def _make(engine: Engine, prompt: str = PROMPT, **options: object) -> tuple[PictureJobResult, list]:
    events: list = []
    result = engine.run(PictureRequest(id="p", prompt=prompt, options=JobOptions(**options)),
                        Job(id="p", emit=events.append))
    assert isinstance(result, PictureJobResult)
    return result, events


def test_the_picture_alone_with_its_prompt_and_its_time_said_first(engine: Engine) -> None:
    result, events = _make(engine, seed=5, edit_size=256)
    folder = Path(result.run_dir)
    assert folder.name.endswith("-wooden_barrel_beside-picture") and result.picture == str(folder / "input.png")
    assert result.image_size == [256, 256] and result.seed == 5 and "picture" in result.timings
    assert Image.open(result.picture).size == (256, 256)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "picture" and manifest["status"] == "finished"
    assert manifest["image"]["prompt"]["prompt"] == PROMPT and manifest["image"]["prompt"]["seed"] == 5
    assert not list(folder.glob("*.glb"))  # no grounding, no shape: the picture alone
    # Its expected time first, a line of its own (ESTIMATE_STAGE: the command line keeps it above its bar).
    said = [e.message for e in events if isinstance(e, Progress) and e.stage == ESTIMATE_STAGE]
    assert said[0].startswith("about ") and " on this CPU (" in said[0], said
    assert said[0].endswith("): making a 256 x 256 picture from the prompt"), said
    [picture] = [e for e in events if isinstance(e, Artifact) and e.kind == ArtifactKind.PICTURE]
    assert picture.path == result.picture and picture.image_size == [256, 256] and picture.seed == 5


def test_the_same_prompt_and_seed_make_the_same_picture_another_seed_another(engine: Engine) -> None:
    first, _ = _make(engine, seed=5)
    again, _ = _make(engine, seed=5)
    other, _ = _make(engine, seed=6)
    assert first.image_size == [96, 96]  # 0: the editor's own side (the tiny replica's)
    assert Image.open(again.picture).tobytes() == Image.open(first.picture).tobytes()
    assert Image.open(other.picture).tobytes() != Image.open(first.picture).tobytes()


@pytest.mark.parametrize("prompt, options, sentence", [
    ("", {}, "no prompt given: type what the picture should show"),
    (" \n", {}, "the prompt holds only spaces: type what the picture should show"),
    ("\ufeff\u200d\u3164", {}, r"the prompt holds only invisible characters \(such as U\+FEFF"),   # issue 88
    ("x" * 100_000, {}, "the prompt is 100,000 characters"),
    (PROMPT, {"edit_size": 300}, "multiple of 16"),
])
def test_a_bad_picture_request_is_one_sentence_with_nothing_written(engine: Engine, prompt: str, options: dict,
                                                                    sentence: str) -> None:
    before = set(engine.settings.runs_dir.iterdir())
    with pytest.raises(ProtocolError, match=sentence) as excinfo:
        _make(engine, prompt, **options)
    assert excinfo.value.code == ErrorCode.BAD_REQUEST
    assert set(engine.settings.runs_dir.iterdir()) == before


def test_variations_make_one_picture_a_seed_to_pick_from(engine: Engine) -> None:
    """(1.26) Three pictures from seeds 5, 6, 7 in one pass: the first is the run's picture and the same as seed 5's
    alone; each listed in the result and the manifest, and announced with its seed; their time said as three's."""
    alone, _ = _make(engine, seed=6)
    result, events = _make(engine, seed=5, variations=3)
    folder = Path(result.run_dir)
    assert result.pictures == [str(folder / name) for name in ("input.png", "input-v2.png", "input-v3.png")]
    assert result.picture == result.pictures[0] and result.seeds == [5, 6, 7]
    made = [Image.open(path).tobytes() for path in result.pictures]
    assert len(set(made)) == 3 and made[1] == Image.open(alone.picture).tobytes()  # seed 6 makes seed 6's picture
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["image"]["copy"] == "input.png" and manifest["image"]["prompt"]["seed"] == 5
    assert [(v["copy"], v["seed"]) for v in manifest["image"]["variations"]] == [("input-v2.png", 6), ("input-v3.png", 7)]
    assert all(len(v["sha256"]) == 64 for v in manifest["image"]["variations"])
    announced = [(e.path, e.seed) for e in events if isinstance(e, Artifact) and e.kind == ArtifactKind.PICTURE]
    assert announced == list(zip(result.pictures, [5, 6, 7]))
    said = [e.message for e in events if isinstance(e, Progress) and e.stage == ESTIMATE_STAGE]
    assert said[0].startswith("about ") and said[0].endswith(": making 3 pictures of 96 x 96 from the prompt")


def test_a_cancel_at_the_second_of_three_pictures_keeps_the_first(engine: Engine) -> None:
    """Issue 88: a cancel at picture k of N discarded the k - 1 pictures already drawn (the run kept none). Each
    picture drawn is said; a cancel after the first keeps it: written, announced, in the manifest as kept (1 of 3)
    while the run says cancelled."""
    job = Job(id="p", emit=lambda event: None)
    events: list = []

    def emit(event: object) -> None:
        events.append(event)
        if isinstance(event, Progress) and event.stage == "picture" and event.step == 1:
            job.cancel.cancel()   # as the artist's Cancel after "picture 1 of 3 drawn"

    job.emit = emit
    with pytest.raises(ProtocolError) as caught:
        engine.run(PictureRequest(id="p", prompt=PROMPT, options=JobOptions(seed=5, variations=3)), job)
    assert caught.value.code == ErrorCode.CANCELLED
    [said] = [e.message for e in events if isinstance(e, Progress) and e.stage == "picture" and e.step == 1]
    assert said == "picture 1 of 3 drawn (seed 5)"
    folder = job.run_folder.root
    assert sorted(p.name for p in folder.glob("input*.png")) == ["input.png"]
    [kept] = [e for e in events if isinstance(e, Artifact) and e.kind == ArtifactKind.PICTURE]
    assert (kept.path, kept.seed) == (str(folder / "input.png"), 5)
    assert Image.open(kept.path).size == (96, 96)   # decoded whole, though the cancel came first
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "cancelled" and manifest["errors"][-1]["code"] == "cancelled"
    assert manifest["image"]["copy"] == "input.png" and manifest["image"]["prompt"]["seed"] == 5
    assert manifest["image"]["cancelled"] == {"asked": 3, "kept": 1} and "variations" not in manifest["image"]
