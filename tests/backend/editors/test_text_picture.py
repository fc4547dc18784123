"""A picture made from text by the image editor (issue 76 item 1): ``editors.text_picture`` through the model
manager's phases with no crop, and what ``editors.text_prompt`` asks of it (the template, the side, the name,
which editor may).

With the tiny FLUX.2 [klein] replica on the CPU (random weights: the checks are the sizes, the tokens the
transformer sees, the seeds and where the parts are, never what the picture shows).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from img23d_backend.catalog import tiny_model_set
from img23d_backend.editors.parts import editor_loader
from img23d_backend.editors.pipeline import EditRequest
from img23d_backend.editors.table import DEFAULT_EDITOR, EDITOR_ROWS
from img23d_backend.editors.text_picture import check_picture_memory, make_picture
from img23d_backend.editors.text_prompt import PICTURE_TEMPLATE, check_maker, check_side, default_size, picture_prompt
from img23d_backend.env.job_control import CancelToken
from img23d_backend.models.manager import ModelManager
from img23d_backend.models.preflight import Room
from img23d_protocol import ErrorCode, ProtocolError, name_from_prompt

PROMPT = "a wooden barrel beside a small house"


@pytest.fixture(scope="module")
def manager(tiny_root: Path) -> ModelManager:
    spec = tiny_model_set(tiny_root).editor
    manager = ModelManager(torch.device("cpu"))
    manager.register(spec, editor_loader(spec))
    return manager


def _tiers(manager: ModelManager) -> dict[str, str]:
    return {part: model["tier"] for part, model in manager.snapshot()["models"]["editor"]["parts"].items()}


def test_a_picture_from_text_paints_the_noise_alone_at_its_size_and_leaves_the_device(manager: ModelManager) -> None:
    seen: list[int] = []

    def tokens(module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        seen.append(int(kwargs["hidden_states"].shape[1]))

    made = make_picture(manager, PROMPT, 7, CancelToken())
    # The model's own size: the tiny replica's area (96 x 96), as the real one's is its 1,024 x 1,024.
    assert made.image.size == (96, 96) and made.image.mode == "RGB"
    # After the picture no part of the editor is on the device: grounding and shape come next.
    assert "device" not in _tiers(manager).values()
    manager.preload("editor")
    with manager.use("editor", ("transformer",)) as parts:
        hook = parts["transformer"].module.register_forward_pre_hook(tokens, with_kwargs=True)
    try:
        wide = make_picture(manager, PROMPT, 7, CancelToken(), side=256)
    finally:
        hook.remove()
    # 256 x 256 in 16-pixel tokens: 16 x 16, the noise's alone (an edit's crop would add as many again).
    assert wide.image.size == (256, 256) and set(seen) == {16 * 16}
    assert "device" not in _tiers(manager).values()
    # The seed is the picture's noise: another seed another picture.
    other = make_picture(manager, PROMPT, 8, CancelToken())
    assert not np.array_equal(np.asarray(made.image), np.asarray(other.image))
    assert made.record.to_dict() == {"prompt": PROMPT, "template": PICTURE_TEMPLATE,
                                     "model_text": picture_prompt(PROMPT), "seed": 7, "size": [96, 96]}


def test_the_template_puts_the_framing_first_and_the_text_whole() -> None:
    text = picture_prompt(f"  {PROMPT}\n")
    assert text.endswith(": " + PROMPT) and "plain light" in text and "whole inside the frame" in text
    assert text.index("plain light") < text.index(PROMPT)  # a text cut at the encoder's length loses its own tail


def test_an_editor_that_does_not_make_pictures_is_refused_in_one_sentence_before_anything_loads() -> None:
    makers = [name for name, row in EDITOR_ROWS.items() if row.makes_pictures]
    assert makers == [DEFAULT_EDITOR]
    editor = next(name for name in EDITOR_ROWS if name != DEFAULT_EDITOR)

    def never(*args: object) -> object:
        raise AssertionError("nothing is loaded for a refused picture")

    manager = ModelManager(torch.device("cpu"))
    spec = EDITOR_ROWS[editor].spec
    manager.register(spec, never)
    with pytest.raises(ProtocolError) as refused:
        make_picture(manager, PROMPT, 1, CancelToken())
    assert refused.value.code is ErrorCode.BAD_REQUEST
    assert refused.value.message == (f"the image editor {editor} edits pictures but does not make one from text: "
                                     f"choose --editor {DEFAULT_EDITOR} for a picture from a prompt")
    check_maker(EDITOR_ROWS[DEFAULT_EDITOR].spec)  # the maker passes


def test_a_picture_the_machine_cannot_hold_is_one_sentence_before_anything_loads() -> None:
    """FLUX.2 [klein] 4B at its published sizes (nothing read: the parts' sizes are the spec's until loaded):
    a CPU machine of 64 GB holds the picture's phases, one of 8 GB not even its text encoder's phase."""
    spec = EDITOR_ROWS[DEFAULT_EDITOR].spec
    manager = ModelManager(torch.device("cpu"), budget_bytes=60 << 30)
    manager.register(spec, editor_loader(spec))
    check_picture_memory(manager, 0, room=Room(host=64 << 30))
    with pytest.raises(ProtocolError) as refused:
        check_picture_memory(manager, 0, room=Room(host=8 << 30))
    assert refused.value.code is ErrorCode.OUT_OF_MEMORY
    assert refused.value.message.startswith("the image editor does not fit even in phases: it needs about")
    assert manager.counters()["editor"].loads_from_disk == 0


@pytest.mark.parametrize("side, nearest", [(1000, 992), (100, 256), (4096, 2048), (1030, 1024)])
def test_a_side_the_pipeline_would_cut_or_beyond_the_range_is_one_sentence(side: int, nearest: int) -> None:
    with pytest.raises(ProtocolError) as refused:
        check_side(side)
    assert refused.value.code is ErrorCode.BAD_REQUEST
    assert refused.value.message.endswith(f"(the nearest is {nearest})") and "multiple of 16" in refused.value.message
    assert check_side(0) == 0 and check_side(1216) == 1216


def test_the_models_own_size_is_the_square_of_its_area() -> None:
    assert default_size(1024 * 1024) == (1024, 1024) and default_size(96 * 96) == (96, 96)
    assert default_size(1000 * 1000) == (992, 992)  # cut to the 16-pixel patch


@pytest.mark.parametrize("prompt, name", [
    (PROMPT, "wooden barrel beside"), ("A lamp, brass and green", "lamp"),
    ("the Eiffel Tower at night", "Eiffel Tower at"), ("cat", "cat"), ("a", "a"), ("!!! ???", "object"),
    ("  an old-fashioned red car's wheel", "old-fashioned red car's"), ("maison à colombages", "maison à colombages")])
def test_the_object_of_a_prompt_without_names_is_named_by_its_first_words(prompt: str, name: str) -> None:
    assert name_from_prompt(prompt) == name


def test_a_request_gives_a_crop_or_a_size_never_both_nor_neither() -> None:
    crop = Image.new("RGB", (8, 8))
    with pytest.raises(ValueError):
        EditRequest(None, PROMPT)
    with pytest.raises(ValueError):
        EditRequest(crop, PROMPT, size=(96, 96))
    with pytest.raises(ValueError):
        EditRequest(None, PROMPT, size=(96, 96), references=(crop,))
