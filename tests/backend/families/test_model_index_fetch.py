"""A diffusers-layout folder's ``model_index.json`` is fetched only where something reads it.

Read: Step1X-3D's geometry folders (the loader checks the visual encoder's class, step1x.clip_tower),
Hunyuan3D's paint folders (families.hunyuan3d.paint_models.check_multiview_index) and its delight
folder (diffusers' DiffusionPipeline.from_pretrained). Not read: SDXL base's, for the clean
family's paint model, whose loader builds each part from its own config.
"""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path

import pytest

from img23d_backend.models.completeness import missing_files
from img23d_backend.models.registry import ModelSpec
from img23d_backend.catalog import PAINT, SHAPE
from img23d_backend.families.hunyuan3d.specs import DELIGHT
from img23d_backend.families.step1x.texture_folders import CLEAN_PAINT
from img23d_backend.families.step1x.texture_folders import TextureFolders
from img23d_backend.families.step1x.geometry import replica


def _fetched(spec: ModelSpec) -> list[str]:
    """The files among a folder's possible ``model_index.json`` places that the download asks for."""
    index = f"{spec.subfolder}/model_index.json" if spec.subfolder else "model_index.json"
    return [index] if any(fnmatch(index, pattern) for pattern in spec.allow_patterns) else []


@pytest.mark.parametrize("spec", [SHAPE["step1x"], SHAPE["step1x-label"], PAINT["2.0"], PAINT["2.0-turbo"], DELIGHT],
                         ids=["step1x", "step1x-label", "paint-2.0", "paint-turbo", "delight"])
def test_the_index_is_fetched_where_a_loader_reads_it(spec: ModelSpec) -> None:
    assert _fetched(spec) == [f"{spec.subfolder}/model_index.json"]


def test_sdxls_index_is_neither_fetched_nor_asked_for(tmp_path: Path) -> None:
    assert not any("model_index.json" in name for part in CLEAN_PAINT.parts for name in part.allow_patterns)
    folders = TextureFolders(tmp_path / "sdxl", tmp_path / "vae", tmp_path / "adapter.safetensors")
    for part, folder in zip(CLEAN_PAINT.parts, (tmp_path / "step1x", folders.sdxl, folders.vae)):
        for name in part.allow_patterns:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(b"{}")
        assert missing_files(part, folder) == [], part.repo_id    # complete without an index
    folders.adapter.write_bytes(b"{}")
    folders.check()                                               # and the loader's own check agrees


def test_a_step1x_folder_without_its_index_is_incomplete(tmp_path: Path) -> None:
    spec = SHAPE["step1x"]
    folder = tmp_path / replica.FOLDER
    replica.build(folder, replica.config("tiny"))
    assert missing_files(spec, tmp_path) == []
    (folder / "model_index.json").unlink()
    assert missing_files(spec, tmp_path) == [f"{replica.FOLDER}/model_index.json"]
