"""The model manager requests (models, download, delete) through the real JSON-lines service."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend_proc import BackendProcess
from hub_stand_in import write_cached

from img23d_backend.catalog import GROUNDING
from img23d_backend.catalog import DEFAULT_SHAPE, SHAPE
from img23d_protocol import PROTOCOL_MAJOR, PROTOCOL_MINOR

pytestmark = [pytest.mark.process,  # its subject is img23d's processes (pytest.ini)
              pytest.mark.lane_c]  # in lane C all the same, for the lanes' balance


def test_models_lists_the_tiny_set_as_cached(backend_env: dict[str, str], tmp_path: Path) -> None:
    proc = BackendProcess(backend_env, tmp_path / "runs")
    try:
        hello = proc.next(lambda e: e["type"] == "hello", timeout=120)
        assert hello["protocol"] == [PROTOCOL_MAJOR, PROTOCOL_MINOR]
        reply = proc.request({"type": "models", "id": "m1"})
        assert reply["type"] == "result", reply
        entries = {e["role"]: e for e in reply["data"]["models"]}
        assert {"grounding", "matting", "shape"} <= set(entries)
        assert all(e["state"] == "cached" and e["local"] and e["size_measured"] for e in entries.values())
        assert reply["data"]["offline"] is True
        reply = proc.request({"type": "delete", "id": "d1", "model": "shape"})
        assert reply["type"] == "error" and reply["code"] == "bad_request" and "local folder" in reply["message"]
    finally:
        proc.close()


@pytest.fixture(scope="module")
def real_backend(backend_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory):
    """The real model set, offline, with an empty Hugging Face cache of its own: one backend for
    the tests below (none leaves the cache other than it found it: the delete test removes the
    model it wrote)."""
    root = tmp_path_factory.mktemp("real-models")
    hub = root / "hf-cache"
    hub.mkdir()
    env = {**backend_env, "HF_HUB_CACHE": str(hub)}
    proc = BackendProcess(env, root / "runs", "--models", "default", "--offline")
    # The --models tiny in BackendProcess comes first; argparse keeps the last one given.
    proc.next(lambda e: e["type"] == "hello", timeout=120)
    proc.hub = hub
    try:
        yield proc
    finally:
        proc.close()


def test_real_models_are_listed_as_missing_with_estimates(real_backend: BackendProcess) -> None:
    reply = real_backend.request({"type": "models", "id": "m"})
    assert reply["type"] == "result", reply
    entries = {e["role"]: e for e in reply["data"]["models"]}
    grounding = entries["grounding"]
    assert grounding["id"] == GROUNDING["2b"].display and grounding["state"] == "missing"
    assert grounding["size_bytes"] == GROUNDING["2b"].size_bytes and not grounding["size_measured"]
    assert reply["data"]["cache_dir"] == str(real_backend.hub)


def test_download_offline_is_model_missing(real_backend: BackendProcess) -> None:
    reply = real_backend.request({"type": "download", "id": "dl", "model": GROUNDING["2b"].display})
    assert reply["type"] == "error" and reply["code"] == "model_missing"
    assert "offline" in reply["message"]
    reply = real_backend.request({"type": "download", "id": "dl2", "model": "nobody/nothing"})
    assert reply["type"] == "error" and reply["code"] == "bad_request"


def test_delete_removes_a_cached_model(real_backend: BackendProcess) -> None:
    shape = SHAPE[DEFAULT_SHAPE]
    # The DiT folder's two files and its FlashVDM VAE's (4 + 64 bytes each pair, different blobs).
    dit, vae = shape.subfolder, shape.flashvdm_vae
    files = {f"{dit}/config.yaml": b"a: 1", f"{dit}/model.fp16.safetensors": b"w" * 64,
             f"{vae}/config.yaml": b"b: 2", f"{vae}/model.fp16.safetensors": b"v" * 64}
    write_cached(real_backend.hub, shape.repo_id, str(shape.revision), files)
    listed = {e["role"]: e for e in real_backend.request({"type": "models", "id": "m1"})["data"]["models"]}
    assert listed["shape"]["state"] == "cached" and listed["shape"]["size_bytes"] == 2 * 68
    reply = real_backend.request({"type": "delete", "id": "del", "model": shape.display})
    assert reply["type"] == "result", reply
    assert reply["data"]["freed_bytes"] >= 68 and reply["data"]["revisions"] == [shape.revision]
    after = {e["role"]: e for e in reply["data"]["models"]}  # the refreshed list comes with it
    assert after["shape"]["state"] == "missing"
    assert not (real_backend.hub / "models--tencent--Hunyuan3D-2mini").exists()
