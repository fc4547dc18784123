"""A Generate from a picture img23d made earlier (Make Picture's, picked in the add-on) keeps in its manifest the
prompt and seed that picture was made from (issue 87 item 4): the add-on sends them beside the picture
(``image_prompt``, ``image_seed``), and the run recorded neither. The job reads its picture alone: no model
loads, no job runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from img23d_protocol import ErrorCode, GenerateRequest, MAX_PROMPT_CHARS, ProtocolError
from PIL import Image

from img23d_backend.catalog import tiny_model_set
from img23d_backend.jobs import EngineSettings, Job
from img23d_backend.jobs.context import EngineContext
from img23d_backend.jobs.kinds.generate import GenerateRun
from img23d_backend.runs.folders import Manifest, RunFolder

PROMPT = "a wooden barrel beside a small house"


@pytest.fixture(scope="module")
def engine(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> EngineContext:
    return EngineContext(EngineSettings(models=tiny_model_set(tiny_root), device="cpu",
                                        runs_dir=tmp_path_factory.mktemp("runs")))


def _image_record(engine: EngineContext, tmp_path: Path, request: GenerateRequest) -> dict:
    """The manifest's ``image`` once the job has read its picture, as another process reads it."""
    Image.new("RGB", (24, 16), "saddlebrown").save(request.image)
    GenerateRun.check_request(request)
    folder = RunFolder.create(tmp_path / "runs", Path(request.image).stem,
                              Manifest(job_id=request.id, kind=GenerateRun.kind, backend_version="0"))
    try:
        GenerateRun(engine, request, Job(id=request.id, emit=lambda message: None), folder).load_input()
    finally:
        folder.finish("cancelled")
    return json.loads(folder.path("manifest.json").read_text(encoding="utf-8"))["image"]


def test_a_made_pictures_prompt_and_seed_are_kept_beside_it(engine: EngineContext, tmp_path: Path) -> None:
    made = _image_record(engine, tmp_path, GenerateRequest(id="g-1", image=str(tmp_path / "wooden barrel beside.png"),
                                                           image_prompt=PROMPT, image_seed=2**40))
    # As a run made from its prompt keeps its own (image.prompt's prompt and seed), beside the picture's copy.
    assert made["prompt"] == {"prompt": PROMPT, "seed": 2**40}
    assert made["copy"] == "input.png" and made["original_size"] == [24, 16]
    photo = _image_record(engine, tmp_path, GenerateRequest(id="g-2", image=str(tmp_path / "photo.png")))
    assert "prompt" not in photo  # an artist's picture (or an older add-on's request): none


@pytest.mark.parametrize("fields, words", [
    ({"image_prompt": "x" * (MAX_PROMPT_CHARS + 1)}, "the picture's prompt (image_prompt) is 2,001 characters"),
    ({"image_seed": -3}, "image_seed (the picture's seed) must be a whole number from 0"),
    ({"image": "", "prompt": PROMPT, "image_prompt": PROMPT}, "say what a picked picture was made from"),
])
def test_a_request_made_in_this_process_is_checked_too(fields: dict, words: str) -> None:
    """The Python API's requests skip the wire's check: the job refuses them before its run folder."""
    request = GenerateRequest(**{"id": "g-3", "image": "photo.png", **fields})
    with pytest.raises(ProtocolError) as refused:
        GenerateRun.check_request(request)
    assert refused.value.code is ErrorCode.BAD_REQUEST and words in refused.value.message
