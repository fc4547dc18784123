"""The licence-clean paint model in the registry: one model read from three pinned repositories
(Step1X-3D's adapter, SDXL base 1.0, the fp16-fix VAE), each seen by download, the cache listing,
completeness, deleting and the licence table; offline, with a fake hub writing a fake cache.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from hub_stand_in import write_cached

from img23d_backend.commands import cli
from img23d_backend.models import cache, download, hub, licence_gate
from img23d_backend.catalog import SHAPE, model_set, tiny_model_set
from img23d_backend.families.step1x.texture_folders import CLEAN_PAINT
from img23d_backend.families.step1x import texture_folders as folders
from img23d_protocol import CLEAN, CLEAN_PAINT_MODEL, ErrorCode, ProtocolError

pytestmark = pytest.mark.clean_texture  # the clean family's texture model (pytest.ini)

PINS = {"stepfun-ai/Step1X-3D": "bf7084495b3a72222f36549b7942948aa4d9daa7",
        "stabilityai/stable-diffusion-xl-base-1.0": "462165984030d82259a11f4367a4eed129e94a7b",
        "madebyollin/sdxl-vae-fp16-fix": "207b116dae70ace3637169f1ddd2434b91b3a8cd"}


def _files(spec) -> dict[str, bytes]:
    return {name: f"{spec.repo_id}/{name}".encode() for name in spec.allow_patterns}


class ThreeRepoHub:
    """Stands in for the hub: each repository's files (ours and some we never fetch) at one commit."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self.files = {part.repo_id: {**_files(part), "unet/diffusion_pytorch_model.safetensors": b"fp32, not read",
                                     "README.md": b"card"} for part in CLEAN_PAINT.parts}
        # SDXL base's pipeline index: in the repository, read by nothing of img23d's.
        self.files["stabilityai/stable-diffusion-xl-base-1.0"]["model_index.json"] = b'{"_class_name": "SDXL"}'
        self.fetched: list[tuple[str, str]] = []
        self.asked: list[tuple[str, str | None]] = []

    def model_info(self, repo_id, revision=None, files_metadata=False):
        self.asked.append((repo_id, revision))
        siblings = [SimpleNamespace(rfilename=name, size=len(data)) for name, data in self.files[repo_id].items()]
        return SimpleNamespace(sha=PINS[repo_id], siblings=siblings)

    def hf_hub_download(self, repo_id, filename, revision=None, token=None):
        assert revision == PINS[repo_id]
        self.fetched.append((repo_id, filename))
        write_cached(self.cache_dir, repo_id, revision, {filename: self.files[repo_id][filename]}, ref=None)


def test_the_clean_family_paints_with_one_model_from_three_pinned_repositories() -> None:
    models = model_set("default", family=CLEAN)
    assert models.delight is None and models.paint is CLEAN_PAINT and models.shape is SHAPE["step1x"]
    assert [(part.repo_id, part.revision) for part in CLEAN_PAINT.parts] == list(PINS.items())
    assert [part.allow_patterns for part in CLEAN_PAINT.parts] == [folders.ADAPTER_FILES, folders.sdxl_files(),
                                                                   folders.VAE_FILES]
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in folders.sdxl_files()  # the half-size variant only
    assert CLEAN_PAINT.paint_kind is CLEAN_PAINT_MODEL and CLEAN_PAINT_MODEL.steps == 50
    assert model_set("default").paint is not CLEAN_PAINT  # the Hunyuan family keeps Hunyuan3D-Paint


def test_each_repository_has_its_licence_and_none_asks_for_consent() -> None:
    licences = {part.repo_id: part.licence.licence for part in CLEAN_PAINT.parts}
    assert licences["stepfun-ai/Step1X-3D"].key == "apache-2.0"
    assert licences["stabilityai/stable-diffusion-xl-base-1.0"].key == "creativeml-openrail++-m"
    assert licences["madebyollin/sdxl-vae-fp16-fix"].key == "mit"
    assert not any(licence.restricted or licence.excluded_territories for licence in licences.values())
    assert licence_gate.needs_consent(CLEAN_PAINT, accepted=()) is None
    assert licence_gate.restricted_keys(model_set("default", family=CLEAN)) == frozenset()
    for part in tiny_model_set(Path("."), family=CLEAN).spec("paint").parts:
        assert part.licence is not None and part.licence.replicates in PINS


def test_download_fetches_every_repositorys_files_at_its_pin_and_nothing_else(hub_cache: Path) -> None:
    fake = ThreeRepoHub(hub_cache)
    seen = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("huggingface_hub.HfApi", lambda token=None: fake)
        patch.setattr("huggingface_hub.hf_hub_download", fake.hf_hub_download)
        folder = download.download(CLEAN_PAINT, offline=False, progress=lambda *a: seen.append(a),
                                   cancelled=lambda: False)
    assert sorted(fake.asked) == sorted(PINS.items())   # each repository at its pin, never main
    assert not any(name.endswith("model_index.json") for _, name in fake.fetched)
    assert sorted(fake.fetched) == sorted((part.repo_id, name) for part in CLEAN_PAINT.parts
                                          for name in part.allow_patterns)
    assert folder == hub.repo_cache_folder("stepfun-ai/Step1X-3D") / "snapshots" / PINS["stepfun-ai/Step1X-3D"]
    sdxl, vae = hub.source_dirs(CLEAN_PAINT)
    assert sdxl.name == PINS["stabilityai/stable-diffusion-xl-base-1.0"] and (vae / "config.json").is_file()
    [entry] = [e for e in cache.list_models(model_set("default", family=CLEAN)) if e.role == "paint"]
    assert entry.state == "cached" and entry.size_measured
    assert entry.size_bytes == sum(len(data) for part in CLEAN_PAINT.parts for data in _files(part).values())


def test_a_model_missing_one_repositorys_file_is_partial_and_names_it(hub_cache: Path) -> None:
    for part in CLEAN_PAINT.parts:
        files = _files(part)
        if part.repo_id == "madebyollin/sdxl-vae-fp16-fix":
            del files["diffusion_pytorch_model.safetensors"]
        write_cached(hub_cache, part.repo_id, PINS[part.repo_id], files, ref=None)
    with pytest.raises(ProtocolError) as caught:
        hub.resolve_model_dir(CLEAN_PAINT, offline=True)
    assert caught.value.code is ErrorCode.MODEL_MISSING
    assert "madebyollin/sdxl-vae-fp16-fix" in caught.value.message
    assert "diffusion_pytorch_model.safetensors missing" in caught.value.message
    [entry] = [e for e in cache.list_models(model_set("default", family=CLEAN)) if e.role == "paint"]
    assert entry.state == "partial"
    with pytest.raises(ProtocolError) as offline:  # offline, the download names the model, fetches nothing
        download.download(CLEAN_PAINT, offline=True, progress=lambda *a: None, cancelled=lambda: False)
    assert offline.value.code is ErrorCode.MODEL_MISSING


def test_deleting_the_model_removes_all_three_repositories_and_says_the_shape_goes_too(hub_cache: Path) -> None:
    for part in CLEAN_PAINT.parts:
        write_cached(hub_cache, part.repo_id, PINS[part.repo_id], _files(part), ref=None)
    models = model_set("default", family=CLEAN)
    [entry] = [e for e in cache.list_models(models) if e.role == "paint"]
    assert entry.shared_with == [SHAPE["step1x"].display]   # the same Step1X-3D revision
    result = cache.delete_model(models, "paint")
    assert sorted(result["revisions"]) == sorted(PINS.values())
    assert result["also_removed"] == [SHAPE["step1x"].display]
    for repo_id in PINS:
        assert not (hub.repo_cache_folder(repo_id) / "snapshots" / PINS[repo_id]).exists()


def test_the_tiny_replica_is_complete_and_listed_with_its_three_folders(tiny_root: Path) -> None:
    paint = tiny_model_set(tiny_root, family=CLEAN).spec("paint")
    assert hub.resolve_model_dir(paint) == paint.local_path
    assert [p.name for p in hub.source_dirs(paint)] == ["stable-diffusion-xl-base-1.0", "sdxl-vae-fp16-fix"]
    [entry] = [e for e in cache.list_models(tiny_model_set(tiny_root, family=CLEAN)) if e.role == "paint"]
    assert entry.state == "cached" and entry.local and entry.size_bytes > 1 << 20


def test_the_models_command_lists_it_with_each_repository_and_its_licence(hub_cache: Path, capsys) -> None:
    assert cli.main(["models", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)["models"]}
    row = rows["paint/step1x"]
    assert row["repo_id"] == "stepfun-ai/Step1X-3D" and row["state"] == "missing" and not row["licence"]["restricted"]
    assert [(s["repo_id"], s["revision"], s["licence"]) for s in row["sources"]] == [
        ("stabilityai/stable-diffusion-xl-base-1.0", PINS["stabilityai/stable-diffusion-xl-base-1.0"],
         "CreativeML Open RAIL++-M License"),
        ("madebyollin/sdxl-vae-fp16-fix", PINS["madebyollin/sdxl-vae-fp16-fix"], "MIT License")]
