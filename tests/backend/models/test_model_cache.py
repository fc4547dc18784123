"""The model manager's backend side: listing, deleting and downloading, against a temporary
Hugging Face cache laid out exactly as huggingface_hub writes one (blobs + snapshot links)."""

from __future__ import annotations

from pathlib import Path

import pytest

from img23d_backend.models import cache, download
from img23d_backend.catalog import GROUNDING, MATTING
from img23d_backend.catalog import DEFAULT_SHAPE, SHAPE, model_set, tiny_model_set
from img23d_protocol import ErrorCode, ProtocolError
from hub_stand_in import FakeHub, use_fake_hub, write_cached
from model_files import complete_files

QWEN_2B = GROUNDING["2b"]
QWEN_PIN = str(QWEN_2B.revision)


def _by_role(entries):
    return {entry.role: entry for entry in entries}


def test_the_tiny_set_is_listed_as_cached_local_folders(tiny_root: Path) -> None:
    entries = _by_role(cache.list_models(tiny_model_set(tiny_root)))
    assert {"grounding", "matting", "shape"} <= set(entries)
    for entry in entries.values():
        assert entry.state == "cached" and entry.local and entry.size_measured and entry.size_bytes > 0


def test_real_models_not_downloaded_are_missing_with_their_estimates(hub_cache: Path) -> None:
    models = model_set("default")
    entries = cache.list_models(models)
    assert [e.role for e in entries][:3] == ["grounding", "matting", "shape"]
    for entry, spec in zip(entries, cache.configured_specs(models)):
        assert entry.state == "missing" and not entry.local and not entry.size_measured
        assert entry.size_bytes == spec.size_bytes > 0
        assert entry.id == spec.display
    matting = _by_role(entries)["matting"]
    assert matting.revision == MATTING["birefnet"].revision and matting.id.startswith("ZhengPeng7/BiRefNet@")


def test_a_complete_download_is_cached_with_its_bytes_on_disk(hub_cache: Path) -> None:
    files = {**complete_files(QWEN_2B), "model.safetensors": b"x" * 5000}
    write_cached(hub_cache, QWEN_2B.repo_id, QWEN_PIN, {**files, "README.md": b"not ours"}, ref=None)
    entry = _by_role(cache.list_models(model_set("default")))["grounding"]
    assert entry.state == "cached" and entry.size_measured
    # Bytes on disk: each content-addressed blob once (several configs are the same "{}"), and
    # README.md is not one of the model's files.
    assert entry.size_bytes == sum(len(data) for data in set(files.values()))


def test_an_interrupted_download_is_partial(hub_cache: Path) -> None:
    write_cached(hub_cache, QWEN_2B.repo_id, QWEN_PIN, {"model.safetensors": b"x" * 300}, ref=None)  # no config
    entry = _by_role(cache.list_models(model_set("default")))["grounding"]
    assert entry.state == "partial" and entry.size_bytes == 300 and entry.size_measured


def test_models_in_one_repository_name_each_other(hub_cache: Path) -> None:
    entries = _by_role(cache.list_models(model_set("default", shape="2.0")))
    if "paint" not in entries:
        pytest.skip("this registry has no texture models")
    assert entries["shape"].id in entries["paint"].shared_with
    assert entries["paint"].id in entries["shape"].shared_with
    assert entries["grounding"].shared_with == []


def test_delete_removes_a_cached_model_and_only_it(hub_cache: Path) -> None:
    models = model_set("default")
    write_cached(hub_cache, QWEN_2B.repo_id, QWEN_PIN, {"config.json": b"{}", "model.safetensors": b"x" * 4000})
    shape = SHAPE[DEFAULT_SHAPE]
    # Its DiT folder and its FlashVDM VAE's: the files its loader opens, exactly.
    write_cached(hub_cache, shape.repo_id, str(shape.revision), {name: b"y" * 10 for name in shape.allow_patterns})
    result = cache.delete_model(models, QWEN_2B.display)
    assert result["revisions"] == [QWEN_PIN] and result["freed_bytes"] >= 4000
    assert not (hub_cache / "models--Qwen--Qwen3-VL-2B-Instruct").exists()
    entries = _by_role(cache.list_models(models))
    assert entries["grounding"].state == "missing" and entries["shape"].state == "cached"
    again = cache.delete_model(models, "grounding")  # by role; nothing left: not an error
    assert again["revisions"] == [] and again["freed_bytes"] == 0


def test_delete_refuses_local_folders_and_unknown_ids(tiny_root: Path, hub_cache: Path) -> None:
    with pytest.raises(ProtocolError) as caught:
        cache.delete_model(tiny_model_set(tiny_root), "shape")
    assert caught.value.code is ErrorCode.BAD_REQUEST and "local folder" in caught.value.message
    with pytest.raises(ProtocolError) as caught:
        cache.delete_model(model_set("default"), "someone/else")
    assert caught.value.code is ErrorCode.BAD_REQUEST and "not one of the configured models" in caught.value.message


# --- download ------------------------------------------------------------------------------

def test_download_offline_of_a_missing_model_is_model_missing(hub_cache: Path) -> None:
    def no_network(*args, **kwargs):
        raise AssertionError("offline must not reach the hub")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("huggingface_hub.HfApi.model_info", no_network)
        with pytest.raises(ProtocolError) as caught:
            download.download(QWEN_2B, offline=True, progress=lambda *a: None, cancelled=lambda: False)
    assert caught.value.code is ErrorCode.MODEL_MISSING and "offline" in caught.value.message


def test_download_of_a_cached_model_needs_no_network(hub_cache: Path) -> None:
    snapshot = write_cached(hub_cache, QWEN_2B.repo_id, QWEN_PIN, complete_files(QWEN_2B), ref=None)
    seen = []
    folder = download.download(QWEN_2B, offline=True, progress=lambda *a: seen.append(a), cancelled=lambda: False)
    assert folder == snapshot and seen[-1][1:] == (1, 1)


def test_download_fetches_the_models_files_at_the_pinned_commit_with_progress(hub_cache: Path) -> None:
    ours = complete_files(QWEN_2B, sharded=True)
    fake = FakeHub(hub_cache, QWEN_2B.repo_id, QWEN_PIN, {**ours, "flax_model.msgpack": b"not ours"})
    seen = []
    with pytest.MonkeyPatch.context() as patch:
        use_fake_hub(patch, fake)
        folder = download.download(QWEN_2B, offline=False, progress=lambda *a: seen.append(a),
                                   cancelled=lambda: False)
    assert sorted(fake.fetched) == sorted(ours)
    assert fake.asked_revisions == [QWEN_PIN]  # the pin, never whatever main is now
    assert folder == hub_cache / "models--Qwen--Qwen3-VL-2B-Instruct" / "snapshots" / QWEN_PIN
    total = sum(len(data) for data in ours.values())
    assert seen[-1][1:] == (total, total) and [done for _, done, _ in seen] == sorted(done for _, done, _ in seen)
    assert _by_role(cache.list_models(model_set("default")))["grounding"].state == "cached"


def test_download_stops_between_files_when_cancelled(hub_cache: Path) -> None:
    files = {"config.json": b"{}", "model-1.safetensors": b"a" * 100, "model-2.safetensors": b"b" * 50}
    fake = FakeHub(hub_cache, QWEN_2B.repo_id, QWEN_PIN, files)
    with pytest.MonkeyPatch.context() as patch:
        use_fake_hub(patch, fake)
        with pytest.raises(ProtocolError) as caught:
            download.download(QWEN_2B, offline=False, progress=lambda *a: None,
                              cancelled=lambda: len(fake.fetched) >= 1)
    assert caught.value.code is ErrorCode.CANCELLED and "after 1 of 3 files" in caught.value.message
    assert len(fake.fetched) == 1
    assert _by_role(cache.list_models(model_set("default")))["grounding"].state in ("partial", "missing")


def test_a_hub_that_cannot_be_reached_is_download_failed(hub_cache: Path) -> None:
    import requests

    def unreachable(self, *args, **kwargs):
        raise requests.ConnectionError("Failed to resolve 'huggingface.co'")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("huggingface_hub.HfApi.model_info", unreachable)
        with pytest.raises(ProtocolError) as caught:
            download.download(QWEN_2B, offline=False, progress=lambda *a: None, cancelled=lambda: False)
    assert caught.value.code is ErrorCode.DOWNLOAD_FAILED and "ConnectionError" in (caught.value.detail or "")


def test_a_long_file_reports_progress_while_it_downloads(hub_cache: Path) -> None:
    """Multi-GB files take minutes: progress must keep coming (the add-on's watchdog listens)."""
    import time

    files = {**complete_files(QWEN_2B), "model.safetensors": b"m" * 1000}
    small = sum(len(data) for name, data in files.items() if name != "model.safetensors")
    fake = FakeHub(hub_cache, QWEN_2B.repo_id, QWEN_PIN, files)
    plain = fake.hf_hub_download

    def slow(repo_id, filename, revision=None, token=None):
        if filename == "model.safetensors":
            partial = hub_cache / "models--Qwen--Qwen3-VL-2B-Instruct" / "blobs" / "abc.incomplete"
            partial.parent.mkdir(parents=True, exist_ok=True)
            partial.write_bytes(b"m" * 400)
            time.sleep(1.3)
            partial.unlink()
        plain(repo_id, filename, revision=revision, token=token)

    seen = []
    with pytest.MonkeyPatch.context() as patch:
        use_fake_hub(patch, fake)
        patch.setattr("huggingface_hub.hf_hub_download", slow)
        download.download(QWEN_2B, offline=False, progress=lambda *a: seen.append(a), cancelled=lambda: False)
    during = [done for message, done, total in seen if "model.safetensors" in message and done < small + 1000]
    # The big file comes last (in name order here); every small file done, 400 bytes of it so far.
    assert small + 400 in during
    assert seen[-1][1:] == (small + 1000, small + 1000)
