"""More pictures of the object beside the crop (issue 55 item 6: a name's views), given to each image
editor as diffusers' own pipeline takes several pictures, proven against that pipeline on the tiny
replicas; and the editor's memory figures grow with them.

FLUX.2 [klein]: ``Flux2KleinPipeline.from_pretrained`` (diffusers' own loader, not the project's) called
with ``image`` a list, the crop's canvas first, gives the pictures the phased edit gives. The
transformer reads each picture's tokens beside the noise's, and the views change the answer (so the
comparison can fail). Qwen-Image-Edit-2511: the whole ``QwenImageEditPlusPipeline`` call with the same
list (its text encoder reads "Picture 1: ... Picture 2: ...") against the phased edit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from img23d_backend.env.job_control import CancelToken
from img23d_backend.env.torch_shims import prepare_torchvision
from img23d_backend.editors.memory import (DECODE, DENOISE, ENCODE, EditorPlacement, editor_activations,
                                                 editor_need)
from img23d_backend.editors.flux2_klein.model import KLEIN_PARAMETERS
from img23d_backend.models.manager import ModelManager
from img23d_backend.catalog import EDITORS, tiny_model_set
from img23d_backend.editors.driver import EditorModel, EditRequest, edit_images
from img23d_backend.editors.parts import EditorOptions, editor_loader
from img23d_backend.editors.qwen_edit.phases import reference_area

INSTRUCTION = "the whole chair on a plain white background; the other pictures show the same chair"
QWEN = "qwen-image-edit-2511"


def _crop() -> Image.Image:
    rng = np.random.default_rng(5)
    return Image.fromarray(rng.integers(0, 256, (48, 40, 3), dtype=np.uint8), "RGB")


def _views() -> tuple[Image.Image, ...]:
    """Three views of other sizes and aspects than the crop's, each a shape on white."""
    views = []
    for size, colour in (((60, 40), (200, 30, 30)), ((36, 70), (30, 160, 40)), ((50, 50), (40, 40, 190))):
        view = Image.new("RGB", size, (255, 255, 255))
        ImageDraw.Draw(view).ellipse((4, 4, size[0] - 4, size[1] - 4), fill=colour)
        views.append(view)
    return tuple(views)


def _manager(tiny_root: Path, choice: str | None = None) -> ModelManager:
    spec = tiny_model_set(tiny_root, editor=choice).editor if choice else tiny_model_set(tiny_root).editor
    manager = ModelManager(torch.device("cpu"))
    manager.register(spec, editor_loader(spec))
    return manager


def test_klein_with_views_gives_what_diffusers_pipeline_gives_for_the_list(tiny_root: Path) -> None:
    prepare_torchvision()
    from diffusers import Flux2KleinPipeline

    manager = _manager(tiny_root)
    crop, views = _crop(), _views()
    tokens: list[int] = []
    with manager.use("editor", ("transformer",)) as parts:
        hook = parts["transformer"].module.register_forward_pre_hook(
            lambda module, args, kwargs: tokens.append(kwargs["hidden_states"].shape[1]), with_kwargs=True)
    try:
        [with_views] = edit_images(manager, [EditRequest(crop, INSTRUCTION, seed=3, references=views)], CancelToken())
    finally:
        hook.remove()
    [alone] = edit_images(manager, [EditRequest(crop, INSTRUCTION, seed=3)], CancelToken())
    assert with_views.size == crop.size and not np.array_equal(np.asarray(with_views), np.asarray(alone))
    spec = tiny_model_set(tiny_root).editor
    theirs = Flux2KleinPipeline.from_pretrained(spec.local_path, torch_dtype=torch.float32, use_safetensors=True,
                                                local_files_only=True)
    with manager.use("editor") as parts:
        model = EditorModel.of(parts)
    model.working_pixels = EditorOptions.of(spec).working_pixels
    canvases = [model.canvas(picture.size) for picture in (crop, *views)]
    pictures = [canvas.place(picture) for canvas, picture in zip(canvases, (crop, *views))]
    whole = theirs(image=pictures, prompt=INSTRUCTION, height=canvases[0].height, width=canvases[0].width,
                   num_inference_steps=4, guidance_scale=1.0, generator=torch.Generator("cpu").manual_seed(3)).images[0]
    assert np.array_equal(np.asarray(canvases[0].back(whole)), np.asarray(with_views))
    # Every step read the noise's tokens and each picture's, one per 16 x 16 pixels of its canvas.
    per_picture = [canvas.width * canvas.height // 256 for canvas in canvases]
    assert tokens == [per_picture[0] + sum(per_picture)] * 4


def test_more_pictures_than_the_editor_takes_are_refused(tiny_root: Path) -> None:
    """The registry's limit (klein: 4 pictures) holds: a fifth is a bug of the caller, never sent."""
    assert EditorOptions.of(EDITORS["flux2-klein-4b"]).pictures == 4 and EditorOptions.of(EDITORS[QWEN]).pictures == 3
    manager = _manager(tiny_root)
    with manager.use("editor") as parts:
        model = EditorModel.of(parts)
    with pytest.raises(ValueError, match="5 pictures for an editor that takes 4"):
        model.pictures(EditRequest(_crop(), INSTRUCTION, references=_views() + _views()[:1]))


def test_qwen_with_views_gives_what_its_whole_pipeline_gives_for_the_list(tiny_root: Path) -> None:
    manager = _manager(tiny_root, QWEN)
    crop, views = _crop(), _views()[:2]
    [with_views] = edit_images(manager, [EditRequest(crop, INSTRUCTION, seed=3, references=views)], CancelToken())
    [alone] = edit_images(manager, [EditRequest(crop, INSTRUCTION, seed=3)], CancelToken())
    assert with_views.size == crop.size and not np.array_equal(np.asarray(with_views), np.asarray(alone))
    with manager.use("editor") as parts:
        model = EditorModel.of(parts)
        canvases = [model.canvas(picture.size) for picture in (crop, *views)]
        pictures = [canvas.place(picture) for canvas, picture in zip(canvases, (crop, *views))]
        with reference_area(model.working_pixels):
            whole = model.pipeline(image=pictures, prompt=INSTRUCTION, negative_prompt=" ", true_cfg_scale=4.0,
                                   height=canvases[0].height, width=canvases[0].width, num_inference_steps=2,
                                   generator=torch.Generator("cpu").manual_seed(3)).images[0]
    assert np.array_equal(np.asarray(canvases[0].back(whole)), np.asarray(with_views))


def test_the_memory_figures_count_each_more_pictures_tokens() -> None:
    pixels = 1024 * 1024
    alone, three = editor_activations(pixels, phase=DENOISE), editor_activations(pixels, phase=DENOISE, references=3)
    # One token per 16 x 16 pixels of each picture's canvas, about 80 kB of 16-bit values a token: three
    # views at 1024 x 1024 add about 1 GB to the denoising phase, nothing to the others.
    assert 0.95e9 < three - alone < 1.0e9
    assert editor_activations(pixels, phase=DECODE, references=3) == editor_activations(pixels, phase=DECODE)
    assert editor_activations(pixels, phase=ENCODE, references=3) == editor_activations(pixels, phase=ENCODE)
    parts = {part: count * 2 for part, count in KLEIN_PARAMETERS.items()}
    need = editor_need(parts, pixels, on_gpu=True, placement=EditorPlacement.PHASED, references=3)
    assert need.device > editor_need(parts, pixels, on_gpu=True, placement=EditorPlacement.PHASED).device
