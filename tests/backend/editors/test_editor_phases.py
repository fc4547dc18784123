"""The image editor run in phases through the model manager, and the preflight that picks its placement.

With the tiny replica on the CPU: a budget too small for every part but large enough for the largest
phase runs an edit with the parts evicted between phases and none read from disk twice; a budget that
holds everything moves nothing and gives, value for value, what diffusers' own whole-pipeline call
gives; a budget too small for any phase is one sentence before anything is read. With the published
sizes: a 12 GiB card runs it in phases, a large card with every part resident, and a card or budget
too small is one sentence naming what to change.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from editor_cards import CUDA, bfloat16_parts, card, working_pixels
from img23d_backend.env.job_control import CancelToken
from img23d_backend.editors.memory import (DECODE, DENOISE, EDITOR_PHASES, ENCODE, SMALL_CARD_BYTES,
                                                 EditorPlacement, editor_activations, editor_need,
                                                 editor_placement)
from img23d_backend.editors.flux2_klein.model import KLEIN_PARAMETERS
from img23d_backend.models.manager import ModelManager
from img23d_backend.models.preflight import Room
from img23d_backend.catalog import DEFAULT_EDITOR, tiny_model_set
from img23d_backend.editors.driver import EditorModel, EditRequest, edit_images
from img23d_backend.editors.flux2_klein.phases import encode_instructions
from img23d_backend.editors.parts import editor_loader
from img23d_backend.stages.skips import EditorUnavailable
from img23d_protocol import ErrorCode, ProtocolError

INSTRUCTION = "Complete the hidden parts of the object; keep everything else."
GIB = 1 << 30


def _crops() -> list[EditRequest]:
    rng = np.random.default_rng(11)
    noise = Image.fromarray(rng.integers(0, 256, (48, 40, 3), dtype=np.uint8), "RGB")
    return [EditRequest(noise, INSTRUCTION, seed=3), EditRequest(Image.new("RGB", (90, 30), (30, 90, 200)), INSTRUCTION,
                                                                 seed=5)]


def _manager(tiny_root: Path, budget: int | None = None) -> ModelManager:
    spec = tiny_model_set(tiny_root).editor
    manager = ModelManager(torch.device("cpu"), budget_bytes=budget)
    manager.register(spec, editor_loader(spec))
    return manager


def _measured(tiny_root: Path) -> dict[str, int]:
    """The tiny parts' sizes as the manager measures them once loaded (float32 on the CPU)."""
    manager = _manager(tiny_root)
    manager.preload("editor")
    return manager.part_sizes("editor")


def _arrays(images: list[Image.Image]) -> list[np.ndarray]:
    return [np.asarray(image) for image in images]


# --- phases through the manager ---------------------------------------------------------------------

def test_a_budget_for_the_largest_phase_only_runs_in_phases_each_part_read_once(tiny_root: Path) -> None:
    sizes = _measured(tiny_root)
    largest = max(sum(sizes[part] for part in phase.parts) for phase in EDITOR_PHASES)
    assert largest < sum(sizes.values())  # so the budget below cannot hold every part
    phased = _manager(tiny_root, budget=largest)
    edited = edit_images(phased, _crops(), CancelToken())
    parts = phased.part_counters("editor")
    # One job: every part read from disk once; the text encoder left the device (on a CPU, RAM is the
    # device: evicted means dropped) to make room for the transformer and the VAE, which stayed.
    assert {part: c.loads_from_disk for part, c in parts.items()} == {"text_encoder": 1, "transformer": 1, "vae": 1}
    assert parts["text_encoder"].drops == 1 and parts["transformer"].drops == parts["vae"].drops == 0
    tiers = {part: model["tier"] for part, model in phased.snapshot()["models"]["editor"]["parts"].items()}
    assert tiers == {"text_encoder": "dropped", "transformer": "device", "vae": "device"}
    # The same pictures as with every part resident.
    resident = _manager(tiny_root)
    assert all(np.array_equal(a, b) for a, b in zip(_arrays(edited), _arrays(edit_images(resident, _crops(),
                                                                                           CancelToken()))))


def test_the_jobs_edit_size_is_the_area_each_crop_is_edited_at(tiny_root: Path) -> None:
    """``edit_size`` (the job's ``--edit-size``) replaces the registry's area: the transformer sees the
    crop's tokens at that side (16 pixels a token: the VAE's 8 times the 2 x 2 patches), the aspect kept,
    and the picture still comes back at the crop's own size."""
    manager = _manager(tiny_root)
    square = EditRequest(Image.new("RGB", (50, 50), (200, 40, 40)), INSTRUCTION, seed=1)
    seen: list[int] = []

    def tokens(module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        seen.append(int(kwargs["hidden_states"].shape[1]))

    manager.preload("editor")
    with manager.use("editor", ("transformer",)) as parts:
        hook = parts["transformer"].module.register_forward_pre_hook(tokens, with_kwargs=True)
    try:
        [own] = edit_images(manager, [square], CancelToken())
        own_tokens = seen[-1]
        [small] = edit_images(manager, [square], CancelToken(), edit_size=256)
    finally:
        hook.remove()
    # The tiny replica's own area is 96 x 96: 6 x 6 tokens; at 256, 16 x 16 (the reference picture's as many again).
    assert own_tokens == 2 * 6 * 6 and seen[-1] == 2 * 16 * 16
    assert own.size == small.size == (50, 50)


def test_a_budget_for_everything_moves_nothing_and_matches_the_whole_pipeline(tiny_root: Path) -> None:
    manager = _manager(tiny_root)
    requests = _crops()
    edited = edit_images(manager, requests, CancelToken())
    before = manager.counters()["editor"]
    again = edit_images(manager, requests, CancelToken())  # a second edit: nothing read, moved or dropped
    assert manager.counters()["editor"] == before and before.loads_from_disk == 3
    assert (before.moves_to_device, before.moves_to_ram, before.drops, before.bytes_moved) == (0, 0, 0, 0)
    assert all(np.array_equal(a, b) for a, b in zip(_arrays(edited), _arrays(again)))
    # diffusers' own call on the whole pipeline, from the instruction (its text encoder inside), with the
    # same seeds: the same latents within float tolerance, and the same pictures.
    with manager.use("editor") as parts:
        model = EditorModel.of(parts)
        for request, image in zip(requests, edited):
            canvas = model.canvas(request.image.size)
            common = dict(image=canvas.place(request.image), prompt=INSTRUCTION, height=canvas.height,
                          width=canvas.width, guidance_scale=1.0, num_inference_steps=model.defaults.steps)
            whole = model.pipeline(**common, generator=torch.Generator("cpu").manual_seed(request.seed)).images[0]
            assert np.array_equal(np.asarray(canvas.back(whole)), np.asarray(image))
            latents = model.pipeline(**common, generator=torch.Generator("cpu").manual_seed(request.seed),
                                     output_type="latent").images
            phased = model.pipeline(**{**common, "prompt": None}, generator=torch.Generator("cpu").manual_seed(
                request.seed), output_type="latent",
                prompt_embeds=encode_instructions(model, [request], manager.device, CancelToken()).embeddings[
                    INSTRUCTION]).images
            torch.testing.assert_close(phased, latents, rtol=1e-5, atol=1e-6)


def test_a_base_model_gets_its_negative_instruction_from_the_encoding_phase(tiny_root: Path, tmp_path: Path) -> None:
    """A base model runs classifier-free guidance, whose empty negative instruction the whole pipeline
    encodes itself: the phases encode it with the text encoder and give it to the denoising phase."""
    folder = tmp_path / "base"
    shutil.copytree(tiny_root / "flux2-klein-4b", folder, copy_function=os.symlink)
    index = json.loads((folder / "model_index.json").read_text())
    (folder / "model_index.json").unlink()
    (folder / "model_index.json").write_text(json.dumps({**index, "is_distilled": False}))
    spec = replace(tiny_model_set(tiny_root).editor, local_path=folder)
    manager = ModelManager(torch.device("cpu"))
    manager.register(spec, editor_loader(spec))
    [request] = _crops()[:1]
    [edited] = edit_images(manager, [request], CancelToken())
    with manager.use("editor") as parts:
        model = EditorModel.of(parts)
        assert (model.defaults.steps, model.defaults.guidance) == (50, 4.0)
        instructions = encode_instructions(model, [request], manager.device, CancelToken())
        assert instructions.negative is not None
        canvas = model.canvas(request.image.size)
        whole = model.pipeline(image=canvas.place(request.image), prompt=INSTRUCTION, height=canvas.height,
                               width=canvas.width, generator=torch.Generator("cpu").manual_seed(request.seed)).images[0]
    assert np.array_equal(np.asarray(canvas.back(whole)), np.asarray(edited))


def test_a_budget_too_small_for_any_phase_is_one_sentence_before_anything_is_read(tiny_root: Path) -> None:
    manager = _manager(tiny_root, budget=100_000)
    with pytest.raises(EditorUnavailable) as caught:
        edit_images(manager, _crops(), CancelToken())
    error = caught.value
    assert error.code is ErrorCode.OUT_OF_MEMORY and "\n" not in error.message
    assert "does not fit even in phases" in error.message and "set --budget-gb to at least 0.1" in error.message
    assert manager.counters()["editor"].loads_from_disk == 0


def test_a_cancel_between_phases_stays_a_cancel(tiny_root: Path) -> None:
    """Cancelled while the text encoder runs: the denoising phase never starts."""
    manager = _manager(tiny_root)
    cancel = CancelToken()
    with manager.use("editor", ("text_encoder",)) as parts:
        hook = parts["text_encoder"].module.register_forward_hook(lambda *args: cancel.cancel())
    try:
        with pytest.raises(ProtocolError) as caught:
            edit_images(manager, _crops(), cancel)
    finally:
        hook.remove()
    assert caught.value.code is ErrorCode.CANCELLED and not isinstance(caught.value, EditorUnavailable)
    assert manager.part_counters("editor")["transformer"].loads_from_disk == 0


# --- the preflight from the published sizes ------------------------------------------------------------

PARTS = bfloat16_parts(KLEIN_PARAMETERS)
PIXELS = working_pixels(DEFAULT_EDITOR)


def _card(gib: float) -> Room:
    return card(gib, host_gib=32)


def test_a_12_gib_card_runs_the_editor_in_phases() -> None:
    fit = editor_placement(PARTS, PIXELS, CUDA, room=_card(12))
    assert fit.placement is EditorPlacement.PHASED and fit.peak is DENOISE
    # The transformer and the VAE (7.92 GB) with a 1024 x 1024 edit's activations peak, below the card;
    # every part at once would not fit; the text encoder waits in RAM meanwhile.
    assert 10e9 < fit.need.device < SMALL_CARD_BYTES < editor_need(PARTS, PIXELS, on_gpu=True).device
    assert fit.need.host == PARTS["text_encoder"]
    encoding = editor_need(PARTS, PIXELS, on_gpu=True, placement=EditorPlacement.PHASED, phase=ENCODE)
    assert encoding.device < fit.need.device and encoding.host == PARTS["transformer"] + PARTS["vae"]
    assert editor_need(PARTS, PIXELS, on_gpu=True, placement=EditorPlacement.PHASED, phase=DECODE).device < 3e9
    assert fit.sentence() == "the image editor runs in phases; it peaks denoising at about 10.6 GB"


def test_a_card_that_holds_every_part_keeps_them_resident() -> None:
    fit = editor_placement(PARTS, PIXELS, CUDA, room=_card(24))
    assert fit.placement is EditorPlacement.RESIDENT and fit.need.host == 0
    assert fit.need.device == sum(PARTS.values()) + editor_activations(PIXELS)
    # A budget below every part's sum but above each phase's: in phases, even on that card.
    assert editor_placement(PARTS, PIXELS, CUDA, room=_card(24), budget=12 * GIB).placement is EditorPlacement.PHASED


def test_too_little_ram_beside_a_card_that_holds_the_peak_names_the_ram() -> None:
    """In phases the parts off the device wait in RAM: a 12 GiB card beside 6 GiB of RAM was told it needs 11.1 GB
    of GPU memory and has 12.9, and to use a machine with more GPU memory."""
    with pytest.raises(ProtocolError) as caught:
        editor_placement(PARTS, PIXELS, CUDA, room=card(12, host_gib=6), budget=11 * GIB)
    message = caught.value.message
    assert "GB of RAM denoising" in message and message.endswith("use a machine with more RAM"), message
    assert "GPU memory" not in message


def test_a_budget_too_small_for_the_transformer_names_the_budget_that_fits() -> None:
    with pytest.raises(ProtocolError) as caught:
        editor_placement(PARTS, PIXELS, CUDA, room=_card(12), budget=6 * GIB)
    error = caught.value
    assert error.code is ErrorCode.OUT_OF_MEMORY and "\n" not in error.message
    assert error.message == ("the image editor does not fit even in phases: its largest phase holds 7.5 GiB of "
                             "weights on the device, more than the 6.0 GiB budget: set --budget-gb to at least 7.5")
    assert editor_placement(PARTS, PIXELS, CUDA, room=_card(12), budget=int(7.5 * GIB)).placement is \
        EditorPlacement.PHASED


def test_a_card_too_small_names_the_editing_size_or_a_larger_machine() -> None:
    # Four times the area: the denoising phase's activations do not fit a 12 GiB card; the default area does.
    with pytest.raises(ProtocolError) as caught:
        editor_placement(PARTS, 4 * PIXELS, CUDA, room=_card(12))
    assert caught.value.message.endswith("edit at a smaller size (--edit-size 1024 or less fits)")
    # An 8 GiB card cannot hold the text encoder (8.04 GB) at any size.
    with pytest.raises(ProtocolError) as caught:
        editor_placement(PARTS, PIXELS, CUDA, room=_card(8))
    assert caught.value.message.endswith("use a machine with more GPU memory")
    # On a CPU the weights and activations share the RAM.
    cpu = editor_need(PARTS, PIXELS)
    assert cpu.device == 0 and cpu.host == editor_need(PARTS, PIXELS, on_gpu=True).device


def test_an_edit_size_past_klein_s_largest_is_planned_at_the_area_it_edits_at(tiny_root: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """FLUX.2 [klein] edits at 1024 x 1024's area at most: --edit-size 2048 was planned at four times that (a 12 GiB
    card refused), and costed at it (six times the seconds), though the canvas it paints is no larger."""
    from img23d_backend.editors import driver
    from img23d_protocol import StepCosts

    planned: list[int] = []

    def placement(sizes: dict, pixels: int, *args: object, **kwargs: object) -> None:
        planned.append(pixels)
        raise ProtocolError(ErrorCode.OUT_OF_MEMORY, "stopped here: the plan is what this test reads")

    monkeypatch.setattr(driver, "editor_placement", placement)
    square = EditRequest(Image.new("RGB", (50, 50), (200, 40, 40)), INSTRUCTION, seed=1)
    with pytest.raises(EditorUnavailable):
        edit_images(_manager(tiny_root), [square], CancelToken(), edit_size=2048)
    assert planned == [1024 * 1024]
    # A picture made from text has no reference to cap its canvas: painted, and planned, at the area asked.
    made = EditRequest(None, "a red barrel", seed=1, size=(2048, 2048))
    with pytest.raises(EditorUnavailable):
        driver.run_phases(_manager(tiny_root), [made], CancelToken(), 2048 * 2048)
    assert planned[-1] == 2048 * 2048
    # The cap the hello's estimate reads is the row's fact (no diffusers imported for it): the code's own.
    from img23d_backend.editors.table import EDITOR_CODE, EDITOR_ROWS
    for name, row in EDITOR_ROWS.items():
        endless = 1 << 40
        assert row.most_edit_pixels == (lambda most: most if most < endless else 0)(EDITOR_CODE[name].edit_pixels(endless))
    costs = StepCosts(edit_pixels=1024 * 1024, edit_pixels_most=1024 * 1024, completion_per_mp_s=10.0)
    assert costs.completion_seconds(2048) == costs.completion_seconds(1024) == pytest.approx(10.0 * 1.048576)
    assert StepCosts(edit_pixels=1024 * 1024, completion_per_mp_s=10.0).completion_seconds(2048) == \
        pytest.approx(40.0 * 1.048576)  # an editor that edits at any area (Qwen-Image-Edit): the area asked

