"""The image editor (FLUX.2 [klein] 4B) as a model like the others: pinned in the registry with its
licence, its tiny replica in the real folder's layout loaded through the model manager and run on
crops, its full-size configuration at the published sizes, and one sentence when it cannot be loaded or
run (its phases and memory: ``test_editor_phases.py``)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open

from damaged_replicas import linked_copy, rewrite
from img23d_backend.env.job_control import CancelToken
from img23d_backend.env.torch_shims import prepare_torchvision
from img23d_backend.models.manager import ModelManager
from img23d_backend.catalog import DEFAULT_EDITOR, EDITORS, model_set, tiny_model_set
from img23d_backend.editors.flux2_klein import editor as klein_editor
from img23d_backend.editors.flux2_klein import replica
from img23d_backend.editors.driver import EditorModel, EditRequest, edit_images
from img23d_backend.editors.parts import EDITOR_PARTS, EditorOptions, editor_loader, load_part
from img23d_backend.stages.skips import EditorUnavailable
from img23d_protocol import ErrorCode, ProtocolError

# The pinned repository's files, as public code that downloads this commit lists them with their sizes
# and sha256 (editors/flux2_klein/model.py names it), plus the fast tokenizer's tokenizer.json.
REAL_FILES = {"model_index.json", "scheduler/scheduler_config.json", "text_encoder/config.json",
              "text_encoder/generation_config.json", "text_encoder/model-00001-of-00002.safetensors",
              "text_encoder/model-00002-of-00002.safetensors", "text_encoder/model.safetensors.index.json",
              "tokenizer/added_tokens.json", "tokenizer/chat_template.jinja", "tokenizer/merges.txt",
              "tokenizer/special_tokens_map.json", "tokenizer/tokenizer.json", "tokenizer/tokenizer_config.json",
              "tokenizer/vocab.json", "transformer/config.json", "transformer/diffusion_pytorch_model.safetensors",
              "vae/config.json", "vae/diffusion_pytorch_model.safetensors"}
SIZES = [(40, 48), (90, 30)]  # two crops of different sizes and aspects
INSTRUCTION = "Complete the hidden parts of the object; keep everything else."
FOLDER = "flux2-klein-4b"


def _crops() -> list[EditRequest]:
    rng = np.random.default_rng(7)
    noise = Image.fromarray(rng.integers(0, 256, (48, 40, 3), dtype=np.uint8), "RGB")
    return [EditRequest(noise, INSTRUCTION, seed=3), EditRequest(Image.new("RGB", SIZES[1], (180, 40, 30)), INSTRUCTION)]


def _manager(spec) -> ModelManager:  # noqa: ANN001 - a ModelSpec
    manager = ModelManager(torch.device("cpu"))
    manager.register(spec, editor_loader(spec))
    return manager


def _copy(tiny_root: Path, tmp_path: Path) -> Path:
    return linked_copy(tiny_root, tmp_path, FOLDER)


def _steps(manager: ModelManager, requests: list[EditRequest]) -> int:
    """How many times the transformer ran while the manager's editor edited ``requests``."""
    calls: list[int] = []
    with manager.use("editor", ("transformer",)) as parts:
        hook = parts["transformer"].module.register_forward_hook(lambda *args: calls.append(1))
    try:
        edit_images(manager, requests, CancelToken())
    finally:
        hook.remove()
    return len(calls)


def load_whole(folder: Path, spec) -> EditorModel:  # noqa: ANN001 - a ModelSpec
    """Every part of the editor in ``folder``, read by its production loader, as one pipeline."""
    options = EditorOptions.of(spec)
    return EditorModel.of({part: load_part(folder, torch.device("cpu"), part, options).obj for part in EDITOR_PARTS})


# --- the registry ---------------------------------------------------------------------------------

def test_the_real_model_is_pinned_with_exactly_the_files_the_loader_reads() -> None:
    spec = EDITORS[DEFAULT_EDITOR]
    assert DEFAULT_EDITOR == "flux2-klein-4b"
    assert spec.role == "editor" and spec.repo_id == "black-forest-labs/FLUX.2-klein-4B"
    assert spec.revision == "e7b7dc27f91deacad38e78976d1f2b499d76a294"
    assert set(spec.allow_patterns) == REAL_FILES and len(spec.allow_patterns) == len(REAL_FILES)
    assert spec.exact_files and not spec.trust_remote_code
    # bfloat16: the published weights files' sizes (7,751,109,744 + 168,120,878 + 8,044,981,992 B) less headers.
    assert 15.95e9 < spec.size_bytes < 15.97e9
    assert spec.options["distilled_steps"] == 4 and spec.options["working_pixels"] == 1024 * 1024
    assert spec.family is None  # every family shares it: it edits crops, not a family's models
    assert model_set("default").editor == spec and model_set("default", family="clean").editor == spec
    with pytest.raises(ProtocolError, match="unknown editor model 'flux2-klein-9b'; choose from flux2-klein-4b"):
        model_set("default", editor="flux2-klein-9b")


# --- the tiny replica -----------------------------------------------------------------------------

def test_the_tiny_replica_has_the_real_layout_and_key_names(tiny_root: Path) -> None:
    spec = tiny_model_set(tiny_root).editor
    folder = spec.local_path
    assert spec.licence.replicates == "black-forest-labs/FLUX.2-klein-4B"
    files = {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}
    assert files == REAL_FILES
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "Flux2KleinPipeline" and index["is_distilled"] is True
    assert {part: index[part] for part in ("transformer", "vae", "scheduler", "text_encoder", "tokenizer")} == {
        "transformer": ["diffusers", "Flux2Transformer2DModel"], "vae": ["diffusers", "AutoencoderKLFlux2"],
        "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
        "text_encoder": ["transformers", "Qwen3ForCausalLM"], "tokenizer": ["transformers", "Qwen2TokenizerFast"]}
    # Every key the tiny files hold is a key of the real architecture (the full size's configs, built on
    # the meta device: the same classes, fewer blocks), every tensor bfloat16 as published; the text encoder's two shards hold what its
    # index says, and no lm_head (tied to the embedding, as Qwen3-4B's).
    with torch.device("meta"):
        full = replica.construct(replica.config("full"))
    weight_map = json.loads((folder / "text_encoder" / "model.safetensors.index.json").read_text())["weight_map"]
    assert set(weight_map.values()) == {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}
    for part, names in (("transformer", ["diffusion_pytorch_model.safetensors"]),
                        ("vae", ["diffusion_pytorch_model.safetensors"]), ("text_encoder", sorted(set(weight_map.values())))):
        keys: set[str] = set()
        for name in names:
            with safe_open(str(folder / part / name), framework="pt") as reader:
                held = set(reader.keys())
                assert {reader.get_tensor(key).dtype for key in held if reader.get_tensor(key).is_floating_point()} == {
                    torch.bfloat16}, (part, name)
                if part == "text_encoder":
                    assert held == {key for key, shard in weight_map.items() if shard == name}
            keys |= held
        real_keys = set(full[part].state_dict())
        assert keys and keys <= real_keys, (part, sorted(keys - real_keys)[:3])
    assert "lm_head.weight" not in weight_map


def test_the_tiny_replica_edits_two_crops_through_the_manager(tiny_root: Path) -> None:
    manager = _manager(tiny_model_set(tiny_root).editor)
    requests = _crops()
    edited = edit_images(manager, requests, CancelToken())
    assert [image.size for image in edited] == SIZES and all(image.mode == "RGB" for image in edited)
    # Loaded once, in float32 on the CPU, with the distilled model's defaults; the same seed gives the
    # same picture, another seed another.
    again = edit_images(manager, requests[:1], CancelToken())
    assert np.array_equal(np.asarray(again[0]), np.asarray(edited[0]))
    other = edit_images(manager, [EditRequest(requests[0].image, INSTRUCTION, seed=4)], CancelToken())
    assert not np.array_equal(np.asarray(other[0]), np.asarray(edited[0]))
    assert _steps(manager, requests) == 2 * 4
    with manager.use("editor") as parts:
        model = EditorModel.of(parts)
        assert model.pipeline.transformer.dtype == torch.float32 and model.pipeline.config.is_distilled
        assert (model.defaults.steps, model.defaults.guidance) == (4, 1.0)
        # Each crop edited on a canvas within the working area (96 x 96's for the tiny replica), sides
        # multiples of 16 (the VAE's 8 times 2 x 2 patches) and at least the pipeline's 64, the crop on it
        # unstretched and centred (test_completion_canvas.py sweeps every shape).
        assert model.canvas((40, 48)).size == (80, 96) and model.canvas((40, 48)).inner == (0, 0, 80, 96)
        assert model.canvas((90, 30)).size == (144, 64) and model.canvas((90, 30)).inner == (0, 8, 144, 56)
        assert model.canvas((1000, 50)).size == (144, 64) and model.canvas((1000, 50)).inner == (0, 28, 144, 35)
    assert {part: c.loads_from_disk for part, c in manager.part_counters("editor").items()} == {
        "text_encoder": 1, "transformer": 1, "vae": 1}


def test_a_base_model_takes_the_pipelines_own_defaults(tiny_root: Path, tmp_path: Path) -> None:
    """is_distilled is read from the folder's model_index.json: a base model's steps and guidance are
    the pipeline's own (``Flux2KleinPipeline.__call__``'s defaults), not the distilled model's."""
    folder = _copy(tiny_root, tmp_path)
    index = json.loads((folder / "model_index.json").read_text())
    rewrite(folder / "model_index.json", json.dumps({**index, "is_distilled": False}).encode())
    model = load_whole(folder, tiny_model_set(tiny_root).editor)
    assert not model.pipeline.config.is_distilled
    assert (model.defaults.steps, model.defaults.guidance) == (50, 4.0)


# --- when it cannot load or run: one sentence (and test_optional_model_failures.py) -------------------

def test_running_out_of_memory_is_one_sentence(tiny_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_memory(*args: object, **kwargs: object) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    klein = klein_editor.EDITOR
    monkeypatch.setattr(klein_editor, "EDITOR", replace(klein, phases=replace(klein.phases, denoise=no_memory)))
    with pytest.raises(EditorUnavailable) as caught:
        edit_images(_manager(tiny_model_set(tiny_root).editor), _crops(), CancelToken())
    assert caught.value.code is ErrorCode.OUT_OF_MEMORY
    assert caught.value.message.endswith("could not be loaded or run: it ran out of memory (OutOfMemoryError)")


# --- the full size and its memory ------------------------------------------------------------------

def test_the_full_size_configuration_is_consistent() -> None:
    dims = replica.config("full")
    transformer, text = dims.transformer, dims.text_encoder
    # The pipeline stacks the text encoder's layers 9, 18 and 27 (it needs at least 27) into the joint width.
    assert transformer["joint_attention_dim"] == 3 * text["hidden_size"] == 7680 and text["num_hidden_layers"] >= 27
    assert sum(transformer["axes_dims_rope"]) == transformer["attention_head_dim"] == 128
    assert transformer["in_channels"] == 32 * 2 * 2  # AutoencoderKLFlux2's 32 latent channels in 2 x 2 patches
    assert (transformer["num_layers"], transformer["num_single_layers"], transformer["num_attention_heads"]) == (5, 20, 24)
    assert text["tie_word_embeddings"] and text["vocab_size"] == 151_936 and dims.shard_bytes is None
    tiny = replica.config("tiny")
    assert tiny.transformer["joint_attention_dim"] == 3 * tiny.text_encoder["hidden_size"]
    assert tiny.text_encoder["num_hidden_layers"] >= 27 and tiny.transformer.keys() == transformer.keys()


def test_the_fast_loader_reads_what_diffusers_own_from_pretrained_reads(tiny_root: Path) -> None:
    """The meta-device loader against the library's own load path on the same folder, tensor by tensor
    (the bfloat16 files read in float32, as on a CPU), the pipeline's configuration included."""
    prepare_torchvision()  # what the model manager does before any load: diffusers' loaders import it
    from diffusers import Flux2KleinPipeline

    spec = tiny_model_set(tiny_root).editor
    fast = load_whole(spec.local_path, spec).pipeline
    reference = Flux2KleinPipeline.from_pretrained(spec.local_path, torch_dtype=torch.float32, use_safetensors=True,
                                                   local_files_only=True)
    for part in ("transformer", "vae", "text_encoder"):
        ours, theirs = getattr(fast, part).state_dict(), getattr(reference, part).state_dict()
        assert ours.keys() == theirs.keys(), part
        assert all(ours[key].dtype == theirs[key].dtype and torch.equal(ours[key], theirs[key]) for key in ours), part
    # Tied as from_pretrained ties them: the output layer is the embedding itself.
    assert fast.text_encoder.lm_head.weight is fast.text_encoder.model.embed_tokens.weight
    assert dict(fast.scheduler.config) == dict(reference.scheduler.config)
    assert fast.config.is_distilled == reference.config.is_distilled is True
    assert fast.tokenizer("a crop").input_ids == reference.tokenizer("a crop").input_ids
