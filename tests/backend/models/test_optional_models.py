"""The two optional models side by side: the image editor (FLUX.2 [klein] 4B) and the material model
(Marigold-IID-Appearance). The models listing shows each with its licence; a cancel stays a cancel;
a damaged or missing file of the tiny replica is one sentence naming the model, which the job then
skips, saying what it does instead. Each model's own suite (test_editor_model.py,
test_materials_model.py) covers the rest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import torch
from PIL import Image

from damaged_replicas import damage, linked_copy
from img23d_backend.catalog import DEFAULT_EDITOR, DEFAULT_MATERIALS, EDITORS, MATERIALS, ModelSpec, tiny_model_set
from img23d_backend.commands import cli
from img23d_backend.editors.driver import EditRequest, edit_images
from img23d_backend.editors.parts import editor_loader
from img23d_backend.env.job_control import CancelToken
from img23d_backend.materials.driver import material_maps, materials_loader
from img23d_backend.models.manager import ModelManager
from img23d_backend.stages.skips import EditorUnavailable, MaterialsUnavailable, editor_sentence, materials_sentence
from img23d_protocol import ErrorCode, ProtocolError

RED = Image.new("RGB", (40, 48), (180, 40, 30))  # what it runs on does not matter: it never gets that far


def _manager(spec: ModelSpec, loader: Callable) -> ModelManager:
    manager = ModelManager(torch.device("cpu"))
    manager.register(spec, loader(spec))
    return manager


def _edit(spec: ModelSpec, cancel: CancelToken) -> object:
    request = EditRequest(RED, "Complete the hidden parts of the object; keep everything else.")
    return edit_images(_manager(spec, editor_loader), [request], cancel)


def _materials(spec: ModelSpec, cancel: CancelToken) -> object:
    return material_maps(_manager(spec, materials_loader), [RED, RED], cancel)


@dataclass(frozen=True)
class OptionalModel:
    spec: ModelSpec                                  # the real model, as the registry pins it
    listed: str                                      # its row's name in the models listing
    licence: str                                     # its licence's name there
    licence_file: str                                # the file of its repository the licence's link opens
    licence_note: tuple[str, ...]                    # words the licence's note holds
    folder: str                                      # its folder in the tiny set
    role: str                                        # its field of the tiny model set
    run: Callable[[ModelSpec, CancelToken], object]  # one call through the model manager
    unavailable: type[ProtocolError]                 # what it raises when it cannot load or run
    named: str                                       # how its sentence names it
    skipped: Callable[[ProtocolError], str]          # the job's sentence when it is skipped
    skip_words: str                                  # how that sentence begins
    instead: str                                     # what that sentence says the job does instead


EDITOR_MODEL = OptionalModel(
    spec=EDITORS[DEFAULT_EDITOR], listed="editor/flux2-klein-4b", licence="Apache License 2.0",
    licence_file="LICENSE.md", licence_note=(), folder="flux2-klein-4b", role="editor", run=_edit,
    unavailable=EditorUnavailable, named="the editor model (tiny/flux2-klein-4b)", skipped=editor_sentence,
    skip_words="editing skipped", instead="every object is made from its crop as it is")
MATERIALS_MODEL = OptionalModel(
    spec=MATERIALS[DEFAULT_MATERIALS], listed="materials/marigold", licence="CreativeML Open RAIL++-M License",
    # Its use restrictions are Stable Diffusion 2's: its own Attachment A is an empty template.
    licence_file="README.md", licence_note=("Stable Diffusion 2's CreativeML Open RAIL++-M", "empty template"),
    folder="marigold-iid-appearance", role="materials", run=_materials, unavailable=MaterialsUnavailable,
    named="the materials model (tiny/marigold-iid-appearance)", skipped=materials_sentence,
    skip_words="materials skipped", instead="every object keeps its colour texture")


BOTH = pytest.mark.parametrize("model", [EDITOR_MODEL, MATERIALS_MODEL], ids=["editor", "materials"])


@BOTH
def test_the_models_listing_shows_it_and_its_licence(hub_cache: Path, capsys: pytest.CaptureFixture[str],
                                                     model: OptionalModel) -> None:
    assert cli.main(["models", "--json"]) == 0
    row = {row["name"]: row for row in json.loads(capsys.readouterr().out)["models"]}[model.listed]
    spec = model.spec
    assert row["role"] == model.role and row["revision"] == spec.revision and row["downloaded"] is False
    licence = row["licence"]
    assert licence["name"] == model.licence and not licence["restricted"]
    assert all(words in licence["note"] for words in model.licence_note), licence
    assert licence["url"] == f"https://huggingface.co/{spec.repo_id}/blob/{spec.revision}/{model.licence_file}"
    assert cli.main(["models"]) == 0
    assert model.listed in capsys.readouterr().out


@BOTH
def test_a_cancel_stays_a_cancel(tiny_root: Path, model: OptionalModel) -> None:
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(ProtocolError) as caught:
        model.run(getattr(tiny_model_set(tiny_root), model.role), cancel)
    assert caught.value.code is ErrorCode.CANCELLED and not isinstance(caught.value, model.unavailable)


@pytest.mark.parametrize("model, file, code, said", [
    (EDITOR_MODEL, "transformer/diffusion_pytorch_model.safetensors", ErrorCode.MODEL_DAMAGED, "is cut off"),
    (EDITOR_MODEL, "vae/config.json", ErrorCode.MODEL_DAMAGED, "vae/config.json"),
    (EDITOR_MODEL, "text_encoder/model-00002-of-00002.safetensors", ErrorCode.MODEL_MISSING,
     "incomplete: text_encoder/model-00002-of-00002.safetensors missing"),
    (MATERIALS_MODEL, "unet/diffusion_pytorch_model.fp16.safetensors", ErrorCode.MODEL_DAMAGED, "is cut off"),
    (MATERIALS_MODEL, "vae/config.json", ErrorCode.MODEL_DAMAGED, "vae/config.json"),
    (MATERIALS_MODEL, "text_encoder/model.fp16.safetensors", ErrorCode.MODEL_MISSING,
     "incomplete: text_encoder/model.fp16.safetensors missing"),
], ids=["editor-weights-cut-off", "editor-config-garbage", "editor-shard-missing",
        "materials-weights-cut-off", "materials-config-garbage", "materials-weights-missing"])
def test_a_damaged_or_missing_file_is_one_sentence(tiny_root: Path, tmp_path: Path, model: OptionalModel, file: str,
                                                   code: ErrorCode, said: str) -> None:
    folder = linked_copy(tiny_root, tmp_path, model.folder)
    damage(folder / file, missing=code is ErrorCode.MODEL_MISSING)
    with pytest.raises(model.unavailable) as caught:
        model.run(getattr(tiny_model_set(tmp_path / "tiny"), model.role), CancelToken())
    error = caught.value
    assert error.code is code and said in error.message and "\n" not in error.message
    assert error.message.startswith(f"{model.named} could not be loaded or run: ")
    assert model.skipped(error) == f"{model.skip_words}: {error.message}; {model.instead}"
