"""Finding model files: local folders, the Hugging Face cache, and what offline users see."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from img23d_backend.models import hub
from img23d_backend.catalog import GROUNDING, MATTING, PAINT_ROLES, ModelSet, ModelSpec
from img23d_backend.matting.birefnet.model import BIREFNET_REVISION
from img23d_backend.catalog import DEFAULT_PAINT, PAINT, SHAPE, model_set, tiny_model_set
from img23d_backend.families.hunyuan3d.specs import DELIGHT
from img23d_protocol import ErrorCode, ProtocolError
from model_files import complete_files


def _fake_cache(cache: Path, repo_id: str, revision: str, files: dict[str, str | bytes],
                ref: str | None = None) -> Path:
    """A Hugging Face cache entry laid out the way huggingface_hub writes one."""
    repo_dir = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo_dir / "snapshots" / revision
    for name, data in files.items():
        (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
        (snapshot / name).write_bytes(data if isinstance(data, bytes) else data.encode())
    if ref:
        (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
        (repo_dir / "refs" / ref).write_text(revision)
    return snapshot


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from huggingface_hub import constants

    folder = tmp_path / "hub"
    folder.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(folder))
    return folder


def test_a_local_folder_is_used_as_is(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"w")
    spec = ModelSpec(role="matting", repo_id="local", local_path=tmp_path)
    assert hub.resolve_model_dir(spec) == tmp_path


def test_a_missing_local_folder_is_model_missing(tmp_path: Path) -> None:
    spec = ModelSpec(role="matting", repo_id="local", local_path=tmp_path / "gone")
    with pytest.raises(ProtocolError) as caught:
        hub.resolve_model_dir(spec)
    assert caught.value.code is ErrorCode.MODEL_MISSING


def test_offline_and_not_cached_is_model_missing(cache: Path) -> None:
    with pytest.raises(ProtocolError) as caught:
        hub.resolve_model_dir(GROUNDING["2b"], offline=True)
    assert caught.value.code is ErrorCode.MODEL_MISSING
    assert "Qwen/Qwen3-VL-2B-Instruct" in caught.value.message and "switched off" in caught.value.message


def test_an_unpinned_model_resolves_offline_by_branch(cache: Path) -> None:
    # None of the chain's models is unpinned; a spec without a revision still works the hub's way.
    spec = ModelSpec(role="grounding", repo_id="someone/unpinned")
    snapshot = _fake_cache(cache, spec.repo_id, "a" * 40, complete_files(GROUNDING["4b"]), ref="main")
    assert hub.resolve_model_dir(spec, offline=True) == snapshot


def test_a_snapshot_of_another_commit_than_the_pin_is_not_used(cache: Path) -> None:
    spec = GROUNDING["4b"]
    _fake_cache(cache, spec.repo_id, "a" * 40, complete_files(spec), ref="main")  # what main says now
    with pytest.raises(ProtocolError) as caught:
        hub.resolve_model_dir(spec, offline=True)
    assert caught.value.code is ErrorCode.MODEL_MISSING and "not downloaded" in caught.value.message
    snapshot = _fake_cache(cache, spec.repo_id, str(spec.revision), complete_files(spec))
    assert hub.resolve_model_dir(spec, offline=True) == snapshot


def test_a_pinned_revision_resolves_from_its_snapshot(cache: Path) -> None:
    files = complete_files(MATTING["birefnet"])
    snapshot = _fake_cache(cache, "ZhengPeng7/BiRefNet", BIREFNET_REVISION, files)
    _fake_cache(cache, "ZhengPeng7/BiRefNet", "b" * 40, files, ref="main")  # newer, untrusted
    assert hub.resolve_model_dir(MATTING["birefnet"], offline=True) == snapshot


def test_hy3dgen_models_resolve_to_the_repo_root_with_their_subfolder(cache: Path) -> None:
    spec = SHAPE["2mini"]
    snapshot = _fake_cache(cache, spec.repo_id, str(spec.revision), complete_files(spec))
    assert hub.resolve_model_dir(spec, offline=True) == snapshot


def test_an_incomplete_snapshot_is_model_missing(cache: Path) -> None:
    spec = SHAPE["2.0"]
    _fake_cache(cache, spec.repo_id, str(spec.revision), {"README.md": "half a download"})
    with pytest.raises(ProtocolError) as caught:
        hub.resolve_model_dir(spec, offline=True)
    assert caught.value.code is ErrorCode.MODEL_MISSING and "incomplete" in caught.value.message


def test_an_unreachable_hub_is_download_failed(tmp_path: Path) -> None:
    # A fresh interpreter: huggingface_hub reads HF_HUB_OFFLINE and the endpoint at import time.
    # The endpoint is a closed port on loopback, so nothing leaves this machine.
    code = (
        "from img23d_backend import catalog\n"
        "from img23d_backend.models import hub\n"
        "from img23d_protocol import ProtocolError\n"
        "try:\n"
        "    hub.resolve_model_dir(catalog.GROUNDING['2b'], offline=False)\n"
        "except ProtocolError as e:\n"
        "    print(e.code.value, '|', e.message)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_CACHE": str(tmp_path),
           "HF_HUB_ETAG_TIMEOUT": "2", "HF_HUB_DOWNLOAD_TIMEOUT": "2", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.startswith("download_failed |"), out.stdout + out.stderr
    assert "cannot be reached" in out.stdout


def test_download_progress_is_forwarded() -> None:
    seen: list[tuple[str, int, int]] = []
    bar_class = hub._progress_bar_class(GROUNDING["2b"], lambda m, d, t: seen.append((m, d, t)))
    bar = bar_class(total=3)
    bar.update(1)
    bar.update(2)
    bar.close()
    assert [(d, t) for _, d, t in seen] == [(0, 3), (1, 3), (3, 3)]
    assert "Qwen3-VL-2B" in seen[0][0]


def test_offline_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("IMG23D_OFFLINE", raising=False)
    assert not hub.offline_requested()
    monkeypatch.setenv("IMG23D_OFFLINE", "1")
    assert hub.offline_requested()


def test_the_paint_repo_resolves_by_its_diffusers_folders(cache: Path) -> None:
    delight, paint = DELIGHT, PAINT["2.0"]
    files = {**complete_files(delight), **complete_files(paint)}
    snapshot = _fake_cache(cache, paint.repo_id, str(paint.revision), files)
    assert hub.resolve_model_dir(delight, offline=True) == snapshot
    assert hub.resolve_model_dir(paint, offline=True) == snapshot
    assert all(p.startswith(paint.subfolder + "/") for p in paint.allow_patterns)
    assert all(p.startswith(delight.subfolder + "/") for p in delight.allow_patterns)


@pytest.mark.parametrize("role", ["delight", "paint"])
def test_a_paint_folder_without_its_weights_is_incomplete(cache: Path, role: str) -> None:
    spec = DELIGHT if role == "delight" else PAINT["2.0"]
    files = complete_files(spec)
    files.pop(f"{spec.subfolder}/unet/config.json")
    _fake_cache(cache, spec.repo_id, str(spec.revision), files)
    with pytest.raises(ProtocolError) as caught:
        hub.resolve_model_dir(spec, offline=True)
    assert caught.value.code is ErrorCode.MODEL_MISSING and "unet/config.json" in caught.value.message


def test_model_sets_carry_the_paint_roles(tmp_path: Path) -> None:
    default = model_set("default")
    assert [default.spec(role).role for role in PAINT_ROLES] == list(PAINT_ROLES)
    assert default.paint == PAINT[DEFAULT_PAINT] and default.delight == DELIGHT
    tiny = tiny_model_set(tmp_path)
    assert tiny.delight.local_path == tiny.paint.local_path == tmp_path / "hunyuan3d-paint"
    bare = ModelSet(name="old", grounding=GROUNDING["2b"], matting=MATTING["birefnet"], shape=SHAPE["2mini"])
    with pytest.raises(ProtocolError):
        bare.spec("paint")
    assert set(bare.describe()) == {"grounding", "matting", "shape"}
