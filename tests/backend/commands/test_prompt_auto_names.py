"""The Python API's ``generate`` takes a prompt, as ``generate --prompt`` does (issue 87 item 11): the picture made
from the text by the same engine path (a Generate with the prompt, no picture).

An engine that records each request and answers it stands in for the models (the Generate from a prompt runs on
the tiny models in tests/backend/jobs/test_text_picture_job.py), so no model job runs here.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from img23d_protocol import GenerateJobResult, GenerateRequest

from img23d_backend import api
from img23d_backend.session import Session

PROMPT = "a wooden barrel beside a small house"


class _Engine:
    """Answers each request as its job would, and keeps them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[Any] = []
        self.settings = SimpleNamespace(runs_dir=root / "runs")

    def run(self, request: Any, job: Any) -> Any:
        self.requests.append(request)
        assert isinstance(request, GenerateRequest)
        return GenerateJobResult(run_dir=str(self.root / "generate-run"), targets=())


def test_the_python_api_makes_the_picture_from_a_prompt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _Engine(tmp_path)
    monkeypatch.setattr(api, "Session", lambda out, models: Session(out, models, engine=engine))
    api.generate(prompt=PROMPT, names=["barrel"])
    [generate] = engine.requests
    assert generate.prompt == PROMPT and generate.image == "" and generate.targets == ["barrel"]
