"""Tests for building and checking the tiny set (img23d_backend.replicas.build): where it lives, when
it is built again, and the families' replicas refused before anything is written. Moved from
test_tiny_models.py, which keeps the tests of the replicas themselves (one build per session there).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "backend"))
os.environ["HF_HUB_OFFLINE"] = "1"

from img23d_backend.env.torch_shims import prepare_torchvision  # noqa: E402

prepare_torchvision()

from img23d_backend.families.family import FamilyReplicas  # noqa: E402
from img23d_backend.families.table import FAMILIES  # noqa: E402
from img23d_backend.models.registry import TINY_FORMAT, default_tiny_root  # noqa: E402
from img23d_backend.replicas import build as tiny_models  # noqa: E402
from img23d_backend.replicas.build import build_tiny_models, ensure_tiny_models  # noqa: E402


def test_default_root_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IMG23D_TINY_MODELS", str(tmp_path / "x"))
    assert default_tiny_root() == tmp_path / "x"
    monkeypatch.delenv("IMG23D_TINY_MODELS")
    assert default_tiny_root().name == f"v{TINY_FORMAT}"


def test_ensure_builds_when_manifest_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []

    def fake_build(target: Path) -> Path:
        calls.append(target)
        target.mkdir(parents=True)
        (target / "manifest.json").write_text(json.dumps(
            {"format": TINY_FORMAT, "models": {name: {} for name in tiny_models.replica_folders()}}))
        return target

    monkeypatch.setattr(tiny_models, "build_tiny_models", fake_build)
    target = tmp_path / "fresh"
    assert ensure_tiny_models(target) == target
    assert ensure_tiny_models(target) == target
    assert calls == [target]


def _stand_in_family(tiny_folders: tuple[str, ...], build_tiny) -> object:
    replicas = FamilyReplicas(tiny_folders=tiny_folders, build_tiny=build_tiny, full_size=())
    return dataclasses.replace(FAMILIES["clean"], name="stand-in", replicas=lambda: replicas)


def test_a_familys_replica_in_another_replicas_folder_is_refused_before_anything_is_built(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[Path] = []
    stand_in = _stand_in_family(("birefnet",), lambda root: built.append(root) or {"birefnet": {}})
    monkeypatch.setattr(tiny_models, "FAMILIES", {**FAMILIES, "stand-in": stand_in})
    with pytest.raises(ValueError, match="family 'stand-in' gives its tiny replica the folder 'birefnet', which "
                                         "another replica has"):
        build_tiny_models(tmp_path / "tiny")
    assert built == [] and list(tmp_path.iterdir()) == []  # no folder, no staging left


def test_a_family_building_other_folders_than_it_names_is_refused(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # ensure_tiny_models looks for the named folders: unrefused, it would rebuild the set every time.
    stand_in = _stand_in_family(("stand-in",), lambda root: {"elsewhere": {}})
    monkeypatch.setattr(tiny_models, "FAMILIES", {"stand-in": stand_in})
    with pytest.raises(ValueError, match=r"family 'stand-in' built the tiny replicas \['elsewhere'\] but names "
                                         r"\['stand-in'\]"):
        build_tiny_models(tmp_path / "tiny")
    assert list(tmp_path.iterdir()) == []


def test_rebuild_replaces_an_earlier_build(tmp_path: Path) -> None:
    target = tmp_path / "tiny"
    target.mkdir()
    (target / "manifest.json").write_text(json.dumps({"format": TINY_FORMAT - 1, "models": {}}))
    (target / "stale.txt").write_text("old")
    build_tiny_models(target)
    assert not (target / "stale.txt").exists()
    assert (target / "manifest.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["tiny"]  # no staging leftovers


@pytest.mark.parametrize("foreign", ["a folder of an artist's files", "a file"])
def test_a_folder_no_build_made_is_refused_and_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    foreign: str) -> None:
    """IMG23D_TINY_MODELS naming a folder of one's own work by mistake deleted it (a build replaces the folder
    it is given): a file, or a folder with files and no build's manifest, is refused in one sentence, untouched."""
    from img23d_backend.session import ensure_tiny_models as ensure_for_a_job
    from img23d_protocol import ErrorCode, ProtocolError

    target = tmp_path / "work"
    if foreign == "a file":
        target.write_text("notes")
    else:
        (target / "project").mkdir(parents=True)
        (target / "project" / "scene.blend").write_text("my work")
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    with pytest.raises(tiny_models.ForeignFolder, match="holds files that are not img23d's tiny models"):
        build_tiny_models(target)
    monkeypatch.setenv("IMG23D_TINY_MODELS", str(target))
    with pytest.raises(ProtocolError) as caught:
        ensure_for_a_job(())
    assert caught.value.code is ErrorCode.DISK and caught.value.message == (
        f"the tiny models cannot be built: {target} holds files that are not img23d's tiny models (it has no "
        "manifest.json of a build), so it is left as it is; name a new or empty folder for them "
        "(IMG23D_TINY_MODELS, or --out)")
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before


def test_a_full_disk_while_the_tiny_models_are_written_is_one_sentence(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """safetensors says a full disk with its own error, no OSError: it went out as a traceback."""
    from safetensors import SafetensorError

    from img23d_backend.session import ensure_tiny_models as ensure_for_a_job
    from img23d_protocol import ErrorCode, ProtocolError

    def full(root: Path, families: object = None) -> Path:
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(tiny_models, "ensure_tiny_models", full)
    monkeypatch.setenv("IMG23D_TINY_MODELS", str(tmp_path / "tiny"))
    with pytest.raises(ProtocolError) as caught:
        ensure_for_a_job(())
    assert caught.value.code is ErrorCode.DISK and caught.value.message == (
        f"the tiny models cannot be built in {tmp_path / 'tiny'}: the disk is full; set IMG23D_TINY_MODELS to a "
        "folder you can write")
