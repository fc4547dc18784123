"""The Python API's ``generate`` takes a prompt, as ``generate --prompt`` does, and ``--targets auto`` with
``--prompt`` (the API's ``names="auto"`` with ``prompt=``) makes the picture first, suggests the names from it as from
any picture, then generates them (issue 87 item 11). The API took no prompt; the command refused auto names with a
prompt, though the made picture is a picture like any other.

Which jobs run, in which order and on what, is the subject: an engine that records each request and answers it
stands in for the models (each of the three jobs runs on the tiny models in tests/backend/jobs/test_picture_job.py,
test_text_picture_job.py and tests/backend/commands/test_cli.py), so no model job runs here.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from img23d_protocol import (GenerateJobResult, GenerateRequest, JobOptions, PictureJobResult, PictureRequest,
                             SuggestJobResult, SuggestRequest)

from img23d_backend import api
from img23d_backend.commands import cli
from img23d_backend.jobs.kinds.generate import GenerateRun
from img23d_backend.session import Session

PROMPT = "a wooden barrel beside a small house"


class _Engine:
    """Answers each request as its job would, and keeps them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[Any] = []
        self.picture = root / "picture-run" / "input.png"
        self.settings = SimpleNamespace(runs_dir=root / "runs")
        self.manager = None   # read by picture_terms alone, which the command-line test replaces

    def run(self, request: Any, job: Any) -> Any:
        self.requests.append(request)
        if isinstance(request, PictureRequest):
            return PictureJobResult(run_dir=str(self.picture.parent), picture=str(self.picture), seed=7)
        if isinstance(request, SuggestRequest):
            return SuggestJobResult(run_dir=str(self.root / "suggest-run"), names=["barrel", "house"])
        assert isinstance(request, GenerateRequest)
        return GenerateJobResult(run_dir=str(self.root / "generate-run"), targets=())


def _check_order(engine: _Engine, seed: int) -> None:
    picture, suggest, generate = engine.requests
    assert isinstance(picture, PictureRequest) and picture.prompt == PROMPT and picture.options.seed == seed
    assert isinstance(suggest, SuggestRequest) and suggest.image == str(engine.picture)
    assert isinstance(generate, GenerateRequest) and generate.image == str(engine.picture)
    assert generate.targets == ["barrel", "house"] and generate.prompt == ""   # read as any picture, not made again
    # Its run says what its picture was made from, and is named from the prompt, not "<time>-input" after its file.
    assert (generate.image_prompt, generate.image_seed) == (PROMPT, 7)
    assert GenerateRun.folder_label(generate) == "wooden barrel beside"


def test_the_python_api_suggests_the_names_from_the_picture_it_made(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _Engine(tmp_path)
    monkeypatch.setattr(api, "Session", lambda out, models: Session(out, models, engine=engine))
    api.generate(prompt=PROMPT, names="auto", options=JobOptions(seed=3))
    _check_order(engine, 3)
    # With names the prompt goes into the Generate itself, as generate --prompt sends it.
    engine.requests.clear()
    api.generate(prompt=PROMPT, names=["barrel"])
    [generate] = engine.requests
    assert generate.prompt == PROMPT and generate.image == "" and generate.targets == ["barrel"]


def test_the_command_line_suggests_the_names_from_the_picture_it_made(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    engine = _Engine(tmp_path)
    monkeypatch.setattr(cli, "_engine", lambda args: engine)
    monkeypatch.setattr(cli, "picture_terms", lambda manager, offline: "the picture is made from the prompt by a model")
    code = cli.main(["generate", "--prompt", PROMPT, "--targets", "auto", "--seed", "5", "--models", "tiny",
                     "--out", str(tmp_path / "runs")])
    said = capsys.readouterr()
    assert code == 0, said.err
    _check_order(engine, 5)
    assert "suggested: barrel, house" in said.out
    assert f"picture made from the prompt: {engine.picture}" in said.out
