"""Model files against what the hub published: a download is checked file by file.

The hub cannot be reached from here: downloads go to the fake hub of test_model_cache.py (a listing
with each file's SHA-256 or git blob hash, as ``model_info(files_metadata=True)`` gives them, and a
cache written as huggingface_hub writes one: each blob named by the etag the hub sent, whatever bytes
then arrived). A file damaged in transit keeps its size (huggingface_hub checks sizes only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from model_files import complete_files
from test_model_cache import FakeHub, _fake_hub, hub_etag, write_cached

from img23d_backend.models import cache, download, hub
from img23d_backend.models.registry import MATTING, ModelSpec, model_set
from img23d_protocol import ErrorCode, ProtocolError

BIREFNET = MATTING["birefnet"]
COMMIT = str(BIREFNET.revision)


def _flipped(data: bytes) -> bytes:
    """The same bytes with one bit flipped in the middle: what a bad transfer or a failing disk does."""
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:]


def _state(spec: ModelSpec) -> str:
    return next(entry.state for entry in cache.list_models(model_set("default")) if entry.id == spec.display)


def _download(fake: FakeHub) -> Path:
    with pytest.MonkeyPatch.context() as patch:
        _fake_hub(patch, fake)
        return download.download(BIREFNET, offline=False, progress=lambda *a: None, cancelled=lambda: False)


@pytest.mark.fault("download damaged in transit")
@pytest.mark.parametrize("name", ["model.safetensors", "config.json"])
def test_a_file_damaged_in_transit_is_removed_and_refused(hub_cache: Path, name: str) -> None:
    files = complete_files(BIREFNET)
    fake = FakeHub(hub_cache, BIREFNET.repo_id, COMMIT, files, delivered={name: _flipped(files[name])})
    with pytest.raises(ProtocolError) as caught:
        _download(fake)
    error = caught.value
    assert error.code is ErrorCode.DOWNLOAD_FAILED, error
    assert error.message.startswith(f"{BIREFNET.display}: {name} arrived damaged: it is not the published file")
    assert "it was removed, download it again" in error.message
    # Gone, blob and link: the next download fetches it afresh instead of linking the damaged blob back.
    repo = hub.repo_cache_folder(BIREFNET.repo_id)
    assert not (repo / "snapshots" / COMMIT / name).exists()
    assert not (repo / "blobs" / hub_etag(name, files[name])).exists()
    assert _state(BIREFNET) != "cached"
    again = FakeHub(hub_cache, BIREFNET.repo_id, COMMIT, files)
    assert _download(again) == repo / "snapshots" / COMMIT
    assert name in again.fetched and _state(BIREFNET) == "cached"


@pytest.mark.fault("download damaged in transit")
def test_a_job_download_is_checked_against_the_etag_the_hub_sent(hub_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = complete_files(BIREFNET)

    def snapshot_download(**kwargs: Any) -> str:  # as huggingface_hub writes what arrived
        etags = {name: hub_etag(name, data) for name, data in files.items()}
        return str(write_cached(hub_cache, kwargs["repo_id"], kwargs["revision"],
                                {**files, "model.safetensors": _flipped(files["model.safetensors"])}, ref=None,
                                etags=etags))

    monkeypatch.setattr("huggingface_hub.snapshot_download", snapshot_download)
    with pytest.raises(ProtocolError) as caught:
        hub.resolve_model_dir(BIREFNET, offline=False)
    assert caught.value.code is ErrorCode.DOWNLOAD_FAILED
    assert "model.safetensors arrived damaged: it is not the published file (its sha256 is" in caught.value.message
    assert not (hub.repo_cache_folder(BIREFNET.repo_id) / "snapshots" / COMMIT / "model.safetensors").exists()
