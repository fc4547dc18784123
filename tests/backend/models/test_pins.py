"""Every model the chain downloads is pinned to one commit, and the pin is what is shown, recorded
in each run's manifest, and asked of huggingface_hub (a stand-in here: the hub is out of reach)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from backend_proc import BackendProcess
from model_files import complete_files
from hub_stand_in import FakeHub, use_fake_hub, write_cached
from testdata import FAST_OPTIONS, SUBJECT

from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.models import cache, download, hub
from img23d_backend.catalog import DEPTH, GROUNDING, MATTING, ModelSpec
from img23d_backend.catalog import EDITORS, MATERIALS, PAINT, SHAPE, model_set
from img23d_backend.families.hunyuan3d.specs import DELIGHT
from img23d_protocol import ErrorCode, GenerateRequest, JobOptions, ProtocolError

COMMIT = re.compile(r"[0-9a-f]{40}")
EVERY_SPEC = {**{f"grounding-{k}": v for k, v in GROUNDING.items()}, **{f"matting-{k}": v for k, v in MATTING.items()},
              **{f"shape-{k}": v for k, v in SHAPE.items()}, "delight": DELIGHT,
              **{f"paint-{k}": v for k, v in PAINT.items()}, **{f"depth-{k}": v for k, v in DEPTH.items()},
              **{f"materials-{k}": v for k, v in MATERIALS.items()},
              **{f"editor-{k}": v for k, v in EDITORS.items()}}
EVERY_SET = [model_set("default", grounding=g, shape=s) for g in GROUNDING for s in SHAPE]


def _accepted(spec: ModelSpec) -> frozenset[str]:
    """The artist's consent to the model's licence, where it restricts territory or use (the
    refusal without it is tests/backend/models/test_licences.py's)."""
    return frozenset({spec.licence.licence.key}) if spec.licence is not None else frozenset()


def test_every_model_of_every_real_set_has_a_pinned_commit() -> None:
    for models in EVERY_SET:
        for spec in cache.configured_specs(models):
            assert spec.local_path is None and COMMIT.fullmatch(spec.revision or ""), spec.display
    # One repository, one commit: Hunyuan3D-2's shape and texture folders come from the same snapshot.
    by_repo: dict[str, set[str | None]] = {}
    for spec in EVERY_SPEC.values():
        by_repo.setdefault(spec.repo_id, set()).add(spec.revision)
    assert all(len(revisions) == 1 for revisions in by_repo.values()), by_repo


def test_the_model_list_shows_the_pin(hub_cache: Path) -> None:
    for models in EVERY_SET:
        for entry, spec in zip(cache.list_models(models), cache.configured_specs(models)):
            assert entry.revision == spec.revision and entry.id.endswith(f"@{spec.revision[:10]}")


def test_the_manifest_records_each_models_pin(hub_cache: Path, tmp_path: Path) -> None:
    models = model_set("default", grounding="8b", shape="2.0-turbo")
    engine = Engine(EngineSettings(models=models, runs_dir=tmp_path / "runs", device="cpu", offline=True))
    request = GenerateRequest(id="pins", image=str(SUBJECT), targets=["snowman"], options=JobOptions(**FAST_OPTIONS))
    with pytest.raises(ProtocolError) as caught:  # nothing is downloaded: the job stops at its first model
        engine.run(request, Job(id="pins", emit=lambda event: None))
    assert caught.value.code is ErrorCode.MODEL_MISSING
    [run] = list((tmp_path / "runs").iterdir())
    recorded = json.loads((run / "manifest.json").read_text())["models"]
    for spec in cache.configured_specs(models):
        assert recorded[spec.role]["id"] == spec.repo_id and recorded[spec.role]["revision"] == spec.revision
        assert COMMIT.fullmatch(recorded[spec.role]["revision"] or "")


@pytest.mark.parametrize("name", sorted(EVERY_SPEC))
def test_a_job_download_asks_huggingface_hub_for_the_pin(hub_cache: Path, name: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    spec = EVERY_SPEC[name]
    asked: list[dict[str, Any]] = []

    def snapshot_download(**kwargs: Any) -> str:
        asked.append(kwargs)
        return str(write_cached(hub_cache, kwargs["repo_id"], kwargs["revision"], complete_files(spec), ref=None))

    monkeypatch.setattr("huggingface_hub.snapshot_download", snapshot_download)
    folder = hub.resolve_model_dir(spec, offline=False, accepted_licences=_accepted(spec))
    [kwargs] = asked
    assert kwargs["revision"] == spec.revision and folder.name == spec.revision


@pytest.mark.parametrize("name", sorted(EVERY_SPEC))
def test_the_download_button_asks_for_the_pin(hub_cache: Path, name: str) -> None:
    spec = EVERY_SPEC[name]
    fake = FakeHub(hub_cache, spec.repo_id, str(spec.revision), complete_files(spec))
    with pytest.MonkeyPatch.context() as patch:
        use_fake_hub(patch, fake)
        folder = download.download(spec, offline=False, progress=lambda *a: None, cancelled=lambda: False,
                                   accepted_licences=_accepted(spec))
    assert fake.asked_revisions == [spec.revision] and folder.name == spec.revision


def test_the_backend_lists_the_pins(backend_env: dict[str, str], tmp_path: Path) -> None:
    env = {**backend_env, "HF_HUB_CACHE": str(tmp_path / "hf-cache")}
    proc = BackendProcess(env, tmp_path / "runs", "--models", "default", "--offline")
    try:
        proc.next(lambda e: e["type"] == "hello", timeout=120)
        reply = proc.request({"type": "models", "id": "m"})
        assert reply["type"] == "result", reply
        for entry in reply["data"]["models"]:
            spec: ModelSpec = next(s for s in EVERY_SPEC.values() if s.display == entry["id"])
            assert entry["revision"] == spec.revision and COMMIT.fullmatch(entry["revision"])
    finally:
        proc.close()
