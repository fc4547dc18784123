"""The large image editor, Qwen-Image-Edit-2511 (``--editor qwen-image-edit-2511``).

Its registry entry (pin, exact file list, size, licence) beside the default editor's; its tiny replica
in the published layout (shards, indexes, legacy key names, bfloat16); a run through the model manager
in three phases on two crops that gives diffusers' own whole-pipeline call's pictures for the same
seeds; a damaged file as one sentence; its full-size configs; and the preflight's verdict on a 12 GB
card (one sentence offering the editor that fits) and on large cards.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open

from img23d_backend.commands import cli
from img23d_client import process
from editor_cards import CUDA, bfloat16_parts, card, working_pixels
from img23d_backend.env.job_control import CancelToken
from img23d_backend.editors.memory import EditorPlacement, editor_placement
from img23d_backend.models.manager import ModelManager
from img23d_backend.models.preflight import Room
from img23d_backend.editors.qwen_edit.model import QWEN_EDIT_PARAMETERS
from img23d_backend.catalog import DEFAULT_EDITOR, EDITORS, model_set, tiny_model_set
from img23d_backend.replicas import full as fsm
from img23d_backend.editors.driver import EditorModel, EditRequest, edit_images
from img23d_backend.editors.parts import editor_loader
from img23d_backend.editors.qwen_edit.phases import reference_area
from img23d_backend.stages.skips import EditorUnavailable
from img23d_protocol import ErrorCode, ProtocolError

CHOICE = "qwen-image-edit-2511"
INSTRUCTION = "Complete the hidden parts of the object; keep everything else."
GIB = 1 << 30
# The published folder at 6f3ccc0b (ColorIt's src/pipeline/image_edit_weights.py), spelled out here so
# that a change to the registry's list shows.
REAL_FILES = {
    "model_index.json", "scheduler/scheduler_config.json",
    *(f"processor/{name}" for name in ("added_tokens.json", "chat_template.jinja", "merges.txt",
                                       "preprocessor_config.json", "special_tokens_map.json", "tokenizer.json",
                                       "tokenizer_config.json", "video_preprocessor_config.json", "vocab.json")),
    *(f"tokenizer/{name}" for name in ("added_tokens.json", "chat_template.jinja", "merges.txt",
                                       "special_tokens_map.json", "tokenizer_config.json", "vocab.json")),
    "text_encoder/config.json", "text_encoder/generation_config.json", "text_encoder/model.safetensors.index.json",
    *(f"text_encoder/model-0000{n}-of-00004.safetensors" for n in range(1, 5)),
    "transformer/config.json", "transformer/diffusion_pytorch_model.safetensors.index.json",
    *(f"transformer/diffusion_pytorch_model-0000{n}-of-00005.safetensors" for n in range(1, 6)),
    "vae/config.json", "vae/diffusion_pytorch_model.safetensors",
}
# The published weights files' sizes (the same source): transformer, text encoder, VAE.
PUBLISHED_BYTES = {"transformer": 9_973_578_592 + 9_987_326_072 + 9_987_307_440 + 9_930_685_712 + 982_130_472,
                   "text_encoder": 4_968_243_304 + 4_991_495_816 + 4_932_751_040 + 1_691_924_384,
                   "vae": 253_806_966}


def _crops() -> list[EditRequest]:
    rng = np.random.default_rng(11)
    noise = Image.fromarray(rng.integers(0, 256, (48, 40, 3), dtype=np.uint8), "RGB")
    return [EditRequest(noise, INSTRUCTION, seed=3),
            EditRequest(Image.new("RGB", (90, 30), (30, 90, 200)), INSTRUCTION, seed=5)]


def _manager(root: Path, budget: int | None = None) -> ModelManager:
    spec = tiny_model_set(root, editor=CHOICE).editor
    manager = ModelManager(torch.device("cpu"), budget_bytes=budget)
    manager.register(spec, editor_loader(spec))
    return manager


# --- the registry -----------------------------------------------------------------------------------

def test_it_is_pinned_with_exactly_the_published_files_and_offered_beside_the_default() -> None:
    spec = EDITORS[CHOICE]
    assert DEFAULT_EDITOR == "flux2-klein-4b" and set(EDITORS) == {"flux2-klein-4b", CHOICE}
    assert spec.repo_id == "Qwen/Qwen-Image-Edit-2511" and spec.role == "editor"
    assert spec.revision == "6f3ccc0b56e431dc6a0c2b2039706d7d26f22cb9"
    assert set(spec.allow_patterns) == REAL_FILES and len(spec.allow_patterns) == len(REAL_FILES) == 33
    assert spec.exact_files and not spec.trust_remote_code
    # bfloat16: each part's parameters at 2 bytes are its files' sizes less their headers (under 1 MB).
    for part, count in QWEN_EDIT_PARAMETERS.items():
        assert 0 < PUBLISHED_BYTES[part] - 2 * count < 1 << 20, part
    assert 57.69e9 < spec.size_bytes < 57.70e9
    assert (spec.options["steps"], spec.options["true_cfg_scale"], spec.options["negative_prompt"]) == (40, 4.0, " ")
    assert model_set("default", editor=CHOICE).editor == spec and model_set("default").editor != spec
    assert cli.build_parser().parse_args(["generate", "x.png", "--editor", CHOICE]).editor == CHOICE
    # The add-on's client names the editor only when it is not this default.
    assert process.DEFAULT_EDITOR == DEFAULT_EDITOR


def test_the_listing_shows_both_editors_with_their_licences_and_sizes(hub_cache: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["models", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)["models"]}
    for choice, licence_file in (("flux2-klein-4b", "LICENSE.md"), (CHOICE, "README.md")):
        row, spec = rows[f"editor/{choice}"], EDITORS[choice]
        assert row["revision"] == spec.revision and row["downloaded"] is False
        assert row["licence"]["name"] == "Apache License 2.0" and not row["licence"]["restricted"]
        assert row["licence"]["url"] == f"https://huggingface.co/{spec.repo_id}/blob/{spec.revision}/{licence_file}"
    assert cli.main(["models"]) == 0
    table = capsys.readouterr().out
    assert "editor/qwen-image-edit-2511" in table and "editor/flux2-klein-4b" in table


# --- the tiny replica -------------------------------------------------------------------------------

def test_the_tiny_replica_has_the_published_layout_shards_and_key_names(tiny_root: Path) -> None:
    spec = tiny_model_set(tiny_root, editor=CHOICE).editor
    folder = Path(spec.local_path)
    assert spec.licence.replicates == "Qwen/Qwen-Image-Edit-2511"
    assert {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()} == REAL_FILES
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "QwenImageEditPlusPipeline"
    assert {part: index[part] for part in ("transformer", "vae", "text_encoder", "tokenizer", "processor")} == {
        "transformer": ["diffusers", "QwenImageTransformer2DModel"], "vae": ["diffusers", "AutoencoderKLQwenImage"],
        "text_encoder": ["transformers", "Qwen2_5_VLForConditionalGeneration"],
        "tokenizer": ["transformers", "Qwen2Tokenizer"], "processor": ["transformers", "Qwen2VLProcessor"]}
    assert json.loads((folder / "transformer" / "config.json").read_text())["zero_cond_t"] is True
    for part, index_name in (("text_encoder", "model.safetensors.index.json"),
                             ("transformer", "diffusion_pytorch_model.safetensors.index.json")):
        weight_map = json.loads((folder / part / index_name).read_text())["weight_map"]
        held: dict[str, str] = {}
        for shard in sorted(set(weight_map.values())):
            with safe_open(str(folder / part / shard), "pt") as reader:
                held.update({key: str(reader.get_tensor(key).dtype) for key in reader.keys()})
        assert set(held) == set(weight_map) and set(held.values()) == {"torch.bfloat16"}, part
    text_keys = json.loads((folder / "text_encoder" / "model.safetensors.index.json").read_text())["weight_map"]
    # The legacy names transformers writes back (and the published 729 keys are counted in).
    assert {"lm_head.weight", "model.embed_tokens.weight", "visual.patch_embed.proj.weight"} <= set(text_keys)
    assert not any(key.startswith("model.language_model.") or key.startswith("model.visual.") for key in text_keys)


# --- a run in phases against diffusers' whole pipeline -------------------------------------------------

def test_two_crops_in_phases_give_the_whole_pipelines_pictures(tiny_root: Path) -> None:
    manager = _manager(tiny_root)
    requests = _crops()
    edited = edit_images(manager, requests, CancelToken())
    assert [image.size for image in edited] == [request.image.size for request in requests]
    # Pictures with content (NaN latents would decode to one flat colour and match trivially).
    assert all(np.asarray(image).std() > 5 for image in edited)
    assert manager.counters()["editor"].loads_from_disk == 3
    with manager.use("editor") as parts:
        model = EditorModel.of(parts)
        assert (model.defaults.steps, model.defaults.guidance, model.defaults.negative) == (2, 4.0, " ")
        for request, image in zip(requests, edited):
            canvas = model.canvas(request.image.size)
            # The reference read at the edit's area, as the stage has the pipeline read it.
            with reference_area(model.working_pixels):
                whole = model.pipeline(image=canvas.place(request.image), prompt=INSTRUCTION, negative_prompt=" ",
                                       true_cfg_scale=4.0, height=canvas.height, width=canvas.width,
                                       num_inference_steps=2,
                                       generator=torch.Generator("cpu").manual_seed(request.seed)).images[0]
            assert np.array_equal(np.asarray(canvas.back(whole)), np.asarray(image))
    # Another seed changes the picture: the comparison above can fail.
    other = edit_images(manager, [EditRequest(requests[0].image, INSTRUCTION, seed=4)], CancelToken())[0]
    assert not np.array_equal(np.asarray(other), np.asarray(edited[0]))


def test_a_budget_for_the_largest_phase_only_moves_parts_and_gives_the_same_pictures(tiny_root: Path) -> None:
    resident = _manager(tiny_root)
    expected = edit_images(resident, _crops(), CancelToken())
    sizes = resident.part_sizes("editor")
    largest = max(sizes["text_encoder"], sizes["transformer"] + sizes["vae"])
    assert largest < sum(sizes.values())
    phased = _manager(tiny_root, budget=largest)
    edited = edit_images(phased, _crops(), CancelToken())
    counters = phased.part_counters("editor")
    assert {part: c.loads_from_disk for part, c in counters.items()} == {"text_encoder": 1, "transformer": 1, "vae": 1}
    assert counters["text_encoder"].drops + counters["transformer"].drops + counters["vae"].drops >= 1
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(edited, expected))


def test_a_damaged_shard_is_one_sentence(tiny_root: Path, tmp_path: Path) -> None:
    folder = tmp_path / "tiny" / CHOICE
    shutil.copytree(tiny_root / CHOICE, folder, copy_function=os.symlink)  # links: damage never writes through
    shard = folder / "transformer" / "diffusion_pytorch_model-00003-of-00005.safetensors"
    data = shard.read_bytes()
    shard.unlink()
    shard.write_bytes(data[: len(data) // 2])
    with pytest.raises(EditorUnavailable) as caught:
        edit_images(_manager(tmp_path / "tiny"), _crops(), CancelToken())
    error = caught.value
    assert error.code is ErrorCode.MODEL_DAMAGED and "\n" not in error.message
    assert error.message.startswith(f"the editor model (tiny/{CHOICE}) could not be loaded or run: ")
    assert "is cut off" in error.message


# --- full size and the preflight ----------------------------------------------------------------------

def test_the_full_size_replica_has_the_published_configs() -> None:
    assert fsm.parameter_counts("qwen-editor") == QWEN_EDIT_PARAMETERS


PARTS = bfloat16_parts(QWEN_EDIT_PARAMETERS)
PIXELS = working_pixels(CHOICE)


def _card(gib: float) -> Room:
    return card(gib, host_gib=128)


def test_a_12_gb_card_is_one_sentence_naming_the_editor_that_fits() -> None:
    with pytest.raises(ProtocolError) as caught:
        editor_placement(PARTS, PIXELS, CUDA, room=_card(12), smaller_editor=DEFAULT_EDITOR)
    message = caught.value.message
    assert caught.value.code is ErrorCode.OUT_OF_MEMORY and "\n" not in message
    assert message.startswith("the image editor does not fit even in phases: it needs about 4")
    assert message.endswith("choose --editor flux2-klein-4b, which runs in phases on a 12 GB card, "
                            "or use a machine with more GPU memory")
    # The default editor does fit that card, in phases.
    klein = {part: count * 2 for part, count in EDITORS[DEFAULT_EDITOR].options["part_parameters"].items()}
    assert editor_placement(klein, PIXELS, CUDA, room=_card(12)).placement is EditorPlacement.PHASED


def test_large_cards_run_it_in_phases_or_resident() -> None:
    assert editor_placement(PARTS, PIXELS, CUDA, room=_card(48)).placement is EditorPlacement.PHASED
    assert editor_placement(PARTS, PIXELS, CUDA, room=_card(80)).placement is EditorPlacement.RESIDENT
