"""Model files against what the hub published: a download is checked file by file, and
``models --verify`` checks a cache (or the tiny set) on demand.

The hub cannot be reached from here: downloads go to the fake hub of test_model_cache.py (a listing
with each file's SHA-256 or git blob hash, as ``model_info(files_metadata=True)`` gives them, and a
cache written as huggingface_hub writes one: each blob named by the etag the hub sent, whatever bytes
then arrived). A file damaged in transit keeps its size (huggingface_hub checks sizes only).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cli_inprocess import CliRun, run_cli, tiny_env
from model_files import complete_files
from test_damaged_models import damaged_copy
from hub_stand_in import FakeHub, hub_etag, use_fake_hub, write_cached

from img23d_backend.models import cache, download, hub
from img23d_backend.catalog import MATTING, ModelSpec
from img23d_backend.catalog import model_set
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
        use_fake_hub(patch, fake)
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


# --- models --verify ----------------------------------------------------------------------------

def _verify(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """In a process of its own: the hub's cache folder (``HF_HUB_CACHE``) is read once, when the hub's library
    is imported."""
    return subprocess.run([sys.executable, "-m", "img23d_backend", "models", "--verify", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def _lines(out: subprocess.CompletedProcess | CliRun) -> dict[str, str]:
    return {name: rest.strip() for name, rest in (line.split(None, 1) for line in out.stdout.splitlines())}


def test_verify_says_ok_for_every_tiny_replica(capsys: pytest.CaptureFixture[str], tiny_root: Path,
                                               tmp_path: Path) -> None:
    root = tmp_path / "tiny"
    shutil.copytree(tiny_root, root, copy_function=os.symlink)
    out = run_cli(capsys, "models", "--verify", "--models", "tiny", env=tiny_env(root))
    assert out.returncode == 0, out.stderr
    lines = _lines(out)
    assert {"grounding/tiny", "matting/tiny", "shape/tiny", "shape/tiny-step1x", "paint/tiny-step1x"} <= set(lines)
    assert set(lines.values()) == {"ok"}, out.stdout


@pytest.mark.fault("damaged model file", count=3)
@pytest.mark.parametrize("file, how, model, says", [
    ("qwen3-vl/model.safetensors", "truncate", "grounding/tiny", "model.safetensors in {root}/qwen3-vl is cut off"),
    ("birefnet/birefnet.py", "syntax", "matting/tiny", "birefnet.py in {root}/birefnet does not compile"),
    ("step1x-3d/Step1X-3D-Geometry-1300m/vae/config.json", "garbage", "shape/tiny-step1x",
     "Step1X-3D-Geometry-1300m/vae/config.json in {root}/step1x-3d is not valid JSON"),
])
def test_verify_names_the_damaged_replica_and_exits_1(capsys: pytest.CaptureFixture[str], tiny_root: Path,
                                                      tmp_path: Path, file: str, how: str, model: str,
                                                      says: str) -> None:
    root = damaged_copy(tiny_root, tmp_path, file, how)
    out = run_cli(capsys, "models", "--verify", "--models", "tiny", env=tiny_env(root))
    assert out.returncode == 1, out.stdout + out.stderr
    lines = _lines(out)
    assert lines[model].startswith("damaged: tiny/") and says.format(root=root) in lines[model], lines[model]
    assert lines[model].endswith("rebuild it (python -m img23d_backend.replicas --force)")
    assert [name for name, line in lines.items() if line != "ok"] == [model]


@pytest.mark.fault("bit-rotten blob")
def test_verify_finds_a_bit_rotten_blob_in_the_cache_by_its_published_digest(backend_env: dict[str, str],
                                                                             tmp_path: Path) -> None:
    hub_dir = tmp_path / "hf" / "hub"
    files = complete_files(BIREFNET)
    etags = {name: hub_etag(name, data) for name, data in files.items()}
    snapshot = write_cached(hub_dir, BIREFNET.repo_id, COMMIT, files, ref=None, etags=etags)
    env = {**backend_env, "HF_HUB_CACHE": str(hub_dir), "HF_HUB_OFFLINE": "1"}
    out = _verify(env)
    assert out.returncode == 0 and _lines(out)["matting/birefnet"] == "ok", out.stdout + out.stderr
    assert _lines(out)["grounding/2b"] == "not downloaded"
    # The disk flips one bit of the weights: same size, header intact, only the digest can tell.
    blob = Path(os.path.realpath(snapshot / "model.safetensors"))
    blob.write_bytes(_flipped(blob.read_bytes()))
    out = _verify(env)
    assert out.returncode == 1, out.stdout + out.stderr
    line = _lines(out)["matting/birefnet"]
    repo = hub_dir / "models--ZhengPeng7--BiRefNet"
    assert line.startswith(f"damaged: {BIREFNET.display} is damaged: model.safetensors in {snapshot} is not the "
                           "published file (its sha256 is "), line
    assert line.endswith(f"delete {repo} and download it again (python -m img23d_backend models download "
                         "matting/birefnet, or Download in the add-on's model list)"), line


def test_verify_checks_the_published_git_hash_of_a_small_file(tmp_path: Path) -> None:
    """A config's blob is named by its git blob hash (as the hub's etag for a non-LFS file is)."""
    from img23d_backend.models.file_checks import check_file

    data = b'{"a": 1}\n'
    blob = tmp_path / hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    blob.write_bytes(data)
    link = tmp_path / "config.json"
    link.symlink_to(blob.name)
    assert check_file(link, digests=True) is None
    blob.write_bytes(b'{"a": 2}\n')  # still valid JSON: only the digest tells
    assert "is not the published file (its git blob hash is" in (check_file(link, digests=True) or "")


def _copied_cache(tmp_path: Path, blobs: bool) -> tuple[dict[str, str], Path]:
    """A cache written as huggingface_hub writes one, then copied with its links followed (``cp -rL``:
    how caches travel to a GPU host), with or without its blobs folder."""
    from safetensors.numpy import save

    hub_dir = tmp_path / "hf" / "hub"
    # Files whose kinds check (a real safetensors header): without blobs, only the kinds can be checked.
    files = {**complete_files(BIREFNET), "model.safetensors": save({"w": np.arange(64, dtype=np.float32)})}
    etags = {name: hub_etag(name, data) for name, data in files.items()}
    write_cached(hub_dir, BIREFNET.repo_id, COMMIT, files, ref=None, etags=etags)
    copied = tmp_path / "copied" / "hub"
    shutil.copytree(hub_dir, copied, symlinks=False)  # every link followed: snapshot entries become files
    if not blobs:
        shutil.rmtree(copied / "models--ZhengPeng7--BiRefNet" / "blobs")
    snapshot = copied / "models--ZhengPeng7--BiRefNet" / "snapshots" / COMMIT
    assert not (snapshot / "model.safetensors").is_symlink()
    return {"HF_HUB_CACHE": str(copied), "HF_HUB_OFFLINE": "1"}, snapshot


@pytest.mark.fault("damaged copy of a cache", count=2)
@pytest.mark.parametrize("name, damage", [
    ("model.safetensors", _flipped),                                   # one bit: the header and sizes still fit
    ("birefnet.py", lambda data: data + b"\nimport os  # edited\n"),   # still compiles
])
def test_verify_matches_a_copied_caches_files_by_content(backend_env: dict[str, str], tmp_path: Path, name: str,
                                                         damage: Any) -> None:
    # Issue 58 item 6: in a cache copied with cp -rL each file is no link to its blob, and --verify said ok.
    extra, snapshot = _copied_cache(tmp_path, blobs=True)
    env = {**backend_env, **extra}
    assert _lines(_verify(env))["matting/birefnet"] == "ok"
    (snapshot / name).write_bytes(damage((snapshot / name).read_bytes()))
    out = _verify(env)
    assert out.returncode == 1, out.stdout + out.stderr
    line = _lines(out)["matting/birefnet"]
    assert f"{name} in {snapshot} is not a file the hub published: a copy (not a link to its blob)" in line, line


def test_verify_says_what_it_could_not_check_in_a_copy_without_blobs(backend_env: dict[str, str],
                                                                     tmp_path: Path) -> None:
    extra, snapshot = _copied_cache(tmp_path, blobs=False)
    out = _verify({**backend_env, **extra})
    assert out.returncode == 0, out.stdout + out.stderr
    line = _lines(out)["matting/birefnet"]
    count = len(list(p for p in snapshot.rglob("*") if p.is_file()))
    assert line.startswith(f"ok for their kinds only: {count} of its files are copies, not links"), line


def test_check_file_looks_for_a_copied_caches_blobs_once_per_file(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """``models --verify`` checks every file of a cache: the blobs folder beside a copied snapshot entry is
    looked for (a walk up the path and a listing of the folder) once per file, not once per question."""
    from img23d_backend.models import file_checks

    data = b'{"a": 1}\n'
    repository = tmp_path / "models--a--b"
    (repository / "blobs").mkdir(parents=True)
    (repository / "blobs" / hashlib.sha256(data).hexdigest()).write_bytes(data)
    copy = repository / "snapshots" / COMMIT / "config.json"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(data)  # a copy, not a link to its blob: matched by content
    calls: list[Path] = []
    real = file_checks._copied_blobs

    def counted(path: Path) -> Path | None:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(file_checks, "_copied_blobs", counted)
    assert file_checks.check_file(copy, digests=True) is None and calls == [copy]
    copy.write_bytes(b'{"a": 2}\n')
    calls.clear()
    assert "is not a file the hub published" in (file_checks.check_file(copy, digests=True) or "")
    assert calls == [copy]
