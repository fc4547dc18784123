"""Editing: an image editor fills in what is hidden in an object's crop, from an instruction.

The model (``black-forest-labs/FLUX.2-klein-4B``, or its tiny replica; ``models/editor_model.py``
says where its files and facts come from) is loaded as the other diffusers models are
(``models.meta_weights``): each network built on the meta device from its config and its
safetensors assigned in place (the text encoder's two shards as its index names them), no random
initialisation, in the dtype it runs in (``editor_dtype``). The loaded networks become diffusers'
own ``Flux2KleinPipeline`` (the ``torch_shims`` stand-in first: diffusers' loaders import
transformers' image processors, which import torchvision), configured from the folder's
``model_index.json`` as ``from_pretrained`` configures it: its ``is_distilled`` decides the default
steps and guidance (``EditorDefaults``). Which pipeline a folder needs comes from its
``model_index.json``'s ``_class_name`` (``PIPELINES``: one entry now; a second editor is a second).

``edit_images`` is the call a job makes, through its model manager (budget, offloading, the one
loading path): each request's crop is resized to the area the model edits at (its aspect kept, its
sides multiples of what the pipeline needs), edited from noise seeded with the request's seed, and
resized back to the crop's size. It does not judge the result (blank, unchanged or wrong pictures
are the caller's to find). A model that cannot be loaded or run raises ``skips.EditorUnavailable``
with one sentence (``skips.editor_sentence`` words it for a job); a cancel stays a cancel.
"""

from __future__ import annotations

import inspect
import json
import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Sequence

import PIL.Image
from img23d_protocol import ErrorCode, ProtocolError

from ..env.job_control import CancelToken
from ..env.torch_shims import prepare_torchvision
from ..models import placement
from ..models.editor_memory import check_editor_activations
from ..models.fast_load import diffusers_key_fixes
from ..models.folder_files import KLEIN_WEIGHTS
from ..models.meta_weights import empty_weights, read_safetensors, transformers_state
from ..models.placement import LoadedModel
from ..models.registry import ModelSpec, editor_dtype
from .skips import editor_unavailable


@dataclass(frozen=True)
class EditRequest:
    """One crop to edit: an RGB picture, what to do to it, and the seed of its noise."""

    image: PIL.Image.Image   # RGB crop
    instruction: str
    seed: int = 0


@dataclass(frozen=True)
class EditorOptions:
    """What the registry says of a run (``ModelSpec.options``): the steps and guidance of a distilled
    model, and the pixel area a crop is edited at."""

    distilled_steps: int
    distilled_guidance: float
    working_pixels: int

    @classmethod
    def of(cls, spec: ModelSpec) -> "EditorOptions":
        return cls(int(spec.options["distilled_steps"]), float(spec.options["distilled_guidance"]),
                   int(spec.options["working_pixels"]))


@dataclass(frozen=True)
class EditorDefaults:
    """The steps and guidance a run takes: a distilled model's (the registry's, from its model card),
    else the pipeline's own ``__call__`` defaults (read from its signature, not restated here)."""

    steps: int
    guidance: float

    @classmethod
    def of(cls, pipeline: Any, options: EditorOptions) -> "EditorDefaults":
        if pipeline.config.is_distilled:
            return cls(options.distilled_steps, options.distilled_guidance)
        parameters = inspect.signature(type(pipeline).__call__).parameters
        return cls(int(parameters["num_inference_steps"].default), float(parameters["guidance_scale"].default))


@dataclass
class EditorModel:
    """The loaded pipeline, its defaults, and the area and side multiple it edits at."""

    pipeline: Any
    defaults: EditorDefaults
    working_pixels: int

    @property
    def multiple(self) -> int:
        """What each side of an edited picture must be a multiple of: the VAE's scale times the
        transformer's 2 x 2 patches (the pipeline crops to it: ``Flux2KleinPipeline.__call__``)."""
        return int(self.pipeline.vae_scale_factor) * 2

    def _limit(self, name: str) -> Any:
        """One of the limits the pipeline checks every picture against (its image processor's
        ``check_image_input`` defaults: the shortest side, the most elongated aspect), read from it."""
        return inspect.signature(type(self.pipeline.image_processor).check_image_input).parameters[name].default

    def working_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """``size`` scaled to the working area, each side a multiple of ``multiple`` and at least the
        pipeline's shortest side, its aspect kept up to the pipeline's most elongated (a longer crop is
        stretched to it, and back when the result is resized to the crop's size)."""
        width, height = size
        most = float(self._limit("max_aspect_ratio"))
        aspect = min(max(width / max(1, height), 1 / most), most)
        step = self.multiple
        shortest = math.ceil(int(self._limit("min_side_length")) / step) * step

        def side(length: float) -> int:
            return max(shortest, round(length / step) * step)

        return side(math.sqrt(self.working_pixels * aspect)), side(math.sqrt(self.working_pixels / aspect))


def _json(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _load_klein(folder: Path, device: Any, dtype: Any, index: dict[str, Any]) -> tuple[Any, list[Any]]:
    """FLUX.2 [klein]'s networks from ``folder``, in diffusers' ``Flux2KleinPipeline``."""
    from diffusers import (AutoencoderKLFlux2, FlowMatchEulerDiscreteScheduler, Flux2KleinPipeline,
                           Flux2Transformer2DModel)
    from transformers import Qwen2TokenizerFast, Qwen3Config, Qwen3ForCausalLM

    with empty_weights():
        transformer = Flux2Transformer2DModel.from_config(_json(folder / "transformer" / "config.json"))
        vae = AutoencoderKLFlux2.from_config(_json(folder / "vae" / "config.json"))
        text_encoder = Qwen3ForCausalLM(Qwen3Config.from_pretrained(folder / "text_encoder"))
    for part, module in (("transformer", transformer), ("vae", vae)):
        [name] = KLEIN_WEIGHTS[part]
        state = read_safetensors(folder / part / name, device, dtype)
        placement.assign_weights(module, diffusers_key_fixes(module, state), device, dtype)
    placement.assign_weights(text_encoder, _text_encoder_state(text_encoder, folder / "text_encoder", device, dtype),
                             device, dtype)
    text_encoder.tie_weights()  # one parameter for both, as from_pretrained leaves them (assignment made two)
    for module in (transformer, vae, text_encoder):
        module.eval().requires_grad_(False)
    pipeline = Flux2KleinPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler.from_config(_json(folder / "scheduler" / "scheduler_config.json")),
        vae=vae, text_encoder=text_encoder, tokenizer=Qwen2TokenizerFast.from_pretrained(folder / "tokenizer"),
        transformer=transformer, is_distilled=bool(index.get("is_distilled", False)))
    return pipeline, [transformer, vae, text_encoder]


def _text_encoder_state(model: Any, folder: Path, device: Any, dtype: Any) -> dict[str, Any]:
    """Qwen3's weights from the shards its ``model.safetensors.index.json`` names, as transformers'
    ``from_pretrained`` reads them. With tied embeddings the file holds no ``lm_head.weight``: the
    output layer is the input embedding (``from_pretrained`` ties them), so it is given that tensor."""
    index = _json(folder / "model.safetensors.index.json")
    state: dict[str, Any] = {}
    for shard in sorted(set(index["weight_map"].values())):
        state.update(transformers_state(model, folder / shard, device, dtype))
    missing = sorted(set(index["weight_map"]) - set(state))
    if missing:
        raise ValueError(f"the text encoder's shards lack {', '.join(missing[:3])}, which its index names")
    if model.config.tie_word_embeddings and "lm_head.weight" not in state:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    return state


# The pipeline a folder's model_index.json names -> how its networks are built and loaded.
PIPELINES: dict[str, Callable[[Path, Any, Any, dict[str, Any]], tuple[Any, list[Any]]]] = {
    "Flux2KleinPipeline": _load_klein,
}


def load_editor(folder: Path, device: Any, options: EditorOptions) -> LoadedModel:
    """The image editor (real or tiny replica) from ``folder``, on ``device`` in its dtype."""
    prepare_torchvision()  # diffusers' loaders import transformers' image processors, which import torchvision
    folder = Path(folder)
    index = _json(folder / "model_index.json")
    name = index.get("_class_name")
    if name not in PIPELINES:
        raise ValueError(f"its model_index.json names the pipeline {name!r}; img23d runs {', '.join(PIPELINES)}")
    pipeline, modules = PIPELINES[name](folder, device, editor_dtype(device), index)
    pipeline.set_progress_bar_config(disable=True)  # tqdm on stderr per step: the job's progress says it
    model = EditorModel(pipeline, EditorDefaults.of(pipeline, options), options.working_pixels)
    return LoadedModel(obj=model, modules=modules)


def editor_loader(spec: ModelSpec) -> Any:  # -> models.manager.Loader
    """The manager's loader for the editor role: ``load_editor`` with the spec's run options."""
    return partial(load_editor, options=EditorOptions.of(spec))


def edit_images(manager: Any, requests: Sequence[EditRequest], cancel: CancelToken) -> list[PIL.Image.Image]:
    """Each request's crop edited by the manager's editor (made resident first, within its budget),
    RGB, at the crop's size; ``skips.EditorUnavailable`` with one sentence when it cannot be loaded or
    run, or when one edit's activations cannot fit in the memory free beside it (a cancel stays a cancel)."""
    try:
        with manager.use("editor") as model:
            check_editor_activations(model.working_pixels, editor_dtype(manager.device).itemsize, manager.device)
            return run_edits(model, requests, cancel)
    except ProtocolError as exc:
        if exc.code is ErrorCode.CANCELLED:
            raise
        raise editor_unavailable(manager, exc) from exc
    except Exception as exc:  # the boundary of the editing step: any failure keeps the crops as they are
        raise editor_unavailable(manager, exc) from exc


def run_edits(model: EditorModel, requests: Sequence[EditRequest], cancel: CancelToken,
              steps: int = 0) -> list[PIL.Image.Image]:
    """Each request edited with the model's defaults (``steps`` 0: its own), one at a time, from noise
    seeded with its seed. A cancel is checked before each request and each denoising step."""
    import torch

    pipeline = model.pipeline
    hook = pipeline.transformer.register_forward_pre_hook(lambda module, args: cancel.check())
    try:
        edited = []
        for request in requests:
            cancel.check()
            crop = request.image.convert("RGB")
            width, height = model.working_size(crop.size)
            generator = torch.Generator(device="cpu").manual_seed(request.seed)
            with torch.inference_mode():
                output = pipeline(image=crop.resize((width, height), PIL.Image.Resampling.BICUBIC),
                                  prompt=request.instruction, height=height, width=width,
                                  num_inference_steps=steps or model.defaults.steps,
                                  guidance_scale=model.defaults.guidance, generator=generator, output_type="pil")
            edited.append(output.images[0].convert("RGB").resize(crop.size, PIL.Image.Resampling.BICUBIC))
        return edited
    finally:
        hook.remove()
