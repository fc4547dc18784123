"""Interrupted downloads: a model is complete only when every file its loader opens is there.

Fake Hugging Face caches hold a model's configs but not its weights (what an interrupted
download leaves, since the small files arrive first), or a file huggingface_hub had begun
(``blobs/<hash>.incomplete``). Such a model is ``partial`` in the model list, Download fetches
only what is missing, and an offline job that needs it fails with ``model_missing`` naming the
model and the files, never with a disk error.
"""

from __future__ import annotations

import dataclasses
import errno
import json
from pathlib import Path
from typing import Any

import pytest

from model_files import complete_files, weight_files, without_weights
from hub_stand_in import FakeHub, use_fake_hub, write_cached
from testdata import FAST_OPTIONS, SUBJECT

from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.models import cache, download, hub
from img23d_backend.models.placement import LoadedModel
from img23d_backend.catalog import GROUNDING, MATTING, ModelSpec
from img23d_backend.catalog import DEFAULT_PAINT, DEFAULT_SHAPE, PAINT, SHAPE, model_set, tiny_model_set
from img23d_backend.families.hunyuan3d.specs import DELIGHT
from img23d_protocol import ErrorCode, GenerateRequest, JobOptions, ProtocolError

REAL_SPECS = {**{f"grounding-{k}": v for k, v in GROUNDING.items()}, "matting": MATTING["birefnet"],
              **{f"shape-{k}": v for k, v in SHAPE.items()}, "delight": DELIGHT,
              **{f"paint-{k}": v for k, v in PAINT.items()}}


def cache_model(hub_cache: Path, spec: ModelSpec, files: dict[str, bytes]) -> Path:
    """``files`` of ``spec`` in the cache, at its pinned revision (else at a commit ``main`` names)."""
    return write_cached(hub_cache, spec.repo_id, spec.revision or "a" * 40, files,
                        ref=None if spec.revision else "main")


def _entry(spec: ModelSpec) -> Any:
    models = model_set("default", shape=next((k for k, v in SHAPE.items() if v == spec), "2mini"),
                       grounding=next((k for k, v in GROUNDING.items() if v == spec), "2b"),
                       paint=next((k for k, v in PAINT.items() if v == spec), DEFAULT_PAINT))
    return next(e for e in cache.list_models(models) if e.id == spec.display)


@pytest.mark.parametrize("name", sorted(REAL_SPECS))
def test_configs_without_weights_are_partial_and_name_the_missing_weights(hub_cache: Path, name: str) -> None:
    spec = REAL_SPECS[name]
    files = complete_files(spec)
    snapshot = cache_model(hub_cache, spec, without_weights(files))
    assert _entry(spec).state == "partial"
    with pytest.raises(ProtocolError) as caught:
        hub.resolve_model_dir(spec, offline=True)
    assert caught.value.code is ErrorCode.MODEL_MISSING
    message = caught.value.message
    assert spec.display in message and "partly downloaded" in message and "Download it again" in message
    for weight in weight_files(files):
        assert weight.split("/")[-1] in message
    # The rest arrives: complete.
    cache_model(hub_cache, spec, {name: files[name] for name in weight_files(files)})
    assert hub.resolve_model_dir(spec, offline=True) == snapshot and _entry(spec).state == "cached"


def test_a_missing_shard_is_named(hub_cache: Path) -> None:
    spec = GROUNDING["8b"]
    files = complete_files(spec, sharded=True)
    del files["model-00002-of-00002.safetensors"]
    cache_model(hub_cache, spec, files)
    with pytest.raises(ProtocolError) as caught:
        hub.resolve_model_dir(spec, offline=True)
    assert "model-00002-of-00002.safetensors" in caught.value.message
    assert "model-00001-of-00002.safetensors" not in caught.value.message


def _interrupted_blob(hub_cache: Path, spec: ModelSpec, size: int) -> Path:
    blob = hub.repo_cache_folder(spec.repo_id) / "blobs" / ("f" * 64 + ".incomplete")
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(b"p" * size)
    assert str(blob).startswith(str(hub_cache))
    return blob


def test_a_begun_file_makes_the_model_partial_and_is_counted(hub_cache: Path) -> None:
    spec = SHAPE["2mini"]
    files = without_weights(complete_files(spec))
    cache_model(hub_cache, spec, files)
    _interrupted_blob(hub_cache, spec, 1000)
    entry = _entry(spec)
    assert entry.state == "partial" and entry.size_measured
    assert entry.size_bytes == sum(len(data) for data in files.values()) + 1000
    with pytest.raises(ProtocolError) as caught:
        hub.resolve_model_dir(spec, offline=True)
    assert "a download was interrupted" in caught.value.message and "model.fp16.safetensors" in caught.value.message


def test_a_download_interrupted_in_its_first_file_is_partial_not_missing(hub_cache: Path) -> None:
    spec = GROUNDING["2b"]
    _interrupted_blob(hub_cache, spec, 300)  # no snapshot yet: the first file never finished
    entry = _entry(spec)
    assert entry.state == "partial" and entry.size_bytes == 300
    with pytest.raises(ProtocolError) as caught:
        hub.resolve_model_dir(spec, offline=True)
    assert caught.value.code is ErrorCode.MODEL_MISSING
    assert "only partly downloaded" in caught.value.message and spec.display in caught.value.message


def test_download_resumes_by_fetching_only_what_is_missing(hub_cache: Path) -> None:
    spec = MATTING["birefnet"]
    files = complete_files(spec)
    commit = spec.revision or "c" * 40
    write_cached(hub_cache, spec.repo_id, commit, without_weights(files), ref=None)
    fake = FakeHub(hub_cache, spec.repo_id, commit, files)
    seen: list[tuple[str, int, int]] = []
    with pytest.MonkeyPatch.context() as patch:
        use_fake_hub(patch, fake)
        download.download(spec, offline=False, progress=lambda *a: seen.append(a), cancelled=lambda: False)
    assert fake.fetched == weight_files(files)
    total = sum(len(data) for data in files.values())
    assert seen[-1][1:] == (total, total) and seen[0][1] >= total - len(files["model.safetensors"])
    assert _entry(spec).state == "cached"


def test_a_file_cut_off_in_the_cache_is_fetched_again(hub_cache: Path) -> None:
    """A shard index cut off (a crash, a full disk) was "there", so Download fetched nothing and the model
    stayed "partly downloaded" through every Download: a file not the size the hub lists is fetched again."""
    spec = GROUNDING["8b"]
    index = json.dumps({"weight_map": {"a": "model-00001-of-00002.safetensors",
                                       "b": "model-00002-of-00002.safetensors"}}).encode()
    files = {"config.json": b"{}", "preprocessor_config.json": b"{}", "tokenizer_config.json": b"{}",
             "tokenizer.json": b"{}", "model.safetensors.index.json": index,
             "model-00001-of-00002.safetensors": b"x" * 10, "model-00002-of-00002.safetensors": b"y" * 10}
    write_cached(hub_cache, spec.repo_id, spec.revision, {**files, "model.safetensors.index.json": index[:20]}, ref=None)
    with pytest.raises(ProtocolError, match="unreadable: cut off"):
        hub.resolve_model_dir(spec, offline=True)
    fake = FakeHub(hub_cache, spec.repo_id, spec.revision, files)
    with pytest.MonkeyPatch.context() as patch:
        use_fake_hub(patch, fake)
        download.download(spec, offline=False, progress=lambda *a: None, cancelled=lambda: False)
    assert fake.fetched == ["model.safetensors.index.json"]
    assert (hub.resolve_model_dir(spec, offline=True) / "model.safetensors.index.json").read_bytes() == index


# --- jobs ----------------------------------------------------------------------------------------

def _generate(engine: Engine, job_id: str) -> ProtocolError:
    request = GenerateRequest(id=job_id, image=str(SUBJECT), targets=[], options=JobOptions(**FAST_OPTIONS))
    with pytest.raises(ProtocolError) as caught:
        engine.run(request, Job(id=job_id, emit=lambda event: None))
    return caught.value


def _manifest(runs: Path) -> dict[str, Any]:
    [run] = [p for p in runs.iterdir() if p.is_dir()]
    return json.loads((run / "manifest.json").read_text())


def test_an_offline_job_with_a_partial_model_is_model_missing(hub_cache: Path, tmp_path: Path) -> None:
    spec = SHAPE[DEFAULT_SHAPE]  # the default set's
    cache_model(hub_cache, spec, without_weights(complete_files(spec)))
    # The snowman has real alpha and, without a depth model, the shape model is the first loaded.
    models = dataclasses.replace(model_set("default"), depth=None)
    engine = Engine(EngineSettings(models=models, runs_dir=tmp_path / "runs", device="cpu", offline=True))
    error = _generate(engine, "partial")
    assert error.code is ErrorCode.MODEL_MISSING
    assert spec.display in error.message and f"{spec.subfolder}/model.fp16.safetensors" in error.message
    manifest = _manifest(tmp_path / "runs")
    assert manifest["status"] == "failed" and manifest["errors"][0]["code"] == "model_missing"


def test_a_file_a_loader_cannot_find_is_model_missing_not_disk(tiny_root: Path, tmp_path: Path) -> None:
    engine = Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path / "runs", device="cpu"))
    spec = engine.manager.spec("shape")

    def loses_its_weights(folder: Path, device: Any) -> LoadedModel:
        lost = Path(folder) / str(spec.subfolder) / "model.fp16.safetensors"
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(lost))

    engine.manager.register(spec, loses_its_weights)
    error = _generate(engine, "lost")
    assert error.code is ErrorCode.MODEL_MISSING, error
    assert f"{spec.display}: {spec.subfolder}/model.fp16.safetensors is missing" in error.message
    assert _manifest(tmp_path / "runs")["errors"][0]["code"] == "model_missing"
