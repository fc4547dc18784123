"""The image editor's parts, each read from its folder on its own: the text encoder (with its
tokenizer, and for Qwen-Image-Edit-2511 the processor it reads the picture through), the transformer
and the VAE, so that the model manager can place them one by one
(``models.handles.PartLoaders``; ``stages/editing.py`` runs an edit in phases over them).

Each network is loaded as the other diffusers models are (``models.meta_weights``): built on the meta
device from its config and its safetensors assigned in place (sharded networks' shards as their
indexes name them: ``editor_weights``), no random initialisation, in the dtype it runs in (``editor_dtype``). Every part
also carries the folder's ``EditorSetup`` (its ``model_index.json`` and scheduler config, a few
hundred bytes read again per part), so a phase holding any of the parts can build its pipeline.
Which networks a folder needs comes from its ``model_index.json``'s ``_class_name`` (``PIPELINES``:
FLUX.2 [klein]'s readers here, Qwen-Image-Edit-2511's in ``qwen_edit_parts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable

from ..env.torch_shims import prepare_torchvision
from ..models import placement
from .flux2_klein.model import editor_part_sizes
from ..models.folder_files import KLEIN_WEIGHTS
from ..models.handles import PartLoaders
from ..models.meta_weights import empty_weights
from ..models.placement import LoadedModel
from ..models.registry import ModelSpec, editor_dtype
from .weights import TextEncoder, assign_diffusers, json_file, transformers_shards
from .qwen_edit.parts import QWEN_EDIT_READERS


@dataclass(frozen=True)
class EditorOptions:
    """What the registry says of a run (``ModelSpec.options``): the pixel area a crop is edited at; the
    most pictures one edit takes (the crop and the views beside it); for FLUX.2 [klein], the steps and
    guidance of a distilled model; for Qwen-Image-Edit-2511, its steps, true classifier-free guidance and
    negative instruction (0 and None where a model has none)."""

    working_pixels: int
    pictures: int = 1
    distilled_steps: int = 0
    distilled_guidance: float = 0.0
    steps: int = 0
    true_cfg_scale: float = 0.0
    negative_prompt: str | None = None

    @classmethod
    def of(cls, spec: ModelSpec) -> "EditorOptions":
        options = spec.options
        return cls(working_pixels=int(options["working_pixels"]), pictures=int(options.get("pictures", 1)),
                   distilled_steps=int(options.get("distilled_steps", 0)),
                   distilled_guidance=float(options.get("distilled_guidance", 0.0)),
                   steps=int(options.get("steps", 0)), true_cfg_scale=float(options.get("true_cfg_scale", 0.0)),
                   negative_prompt=options.get("negative_prompt"))


@dataclass(frozen=True)
class EditorSetup:
    """The folder's weightless configuration, which every part carries: the pipeline its
    ``model_index.json`` names, whether the model is distilled, its scheduler's config, and the run options."""

    pipeline: str
    is_distilled: bool
    scheduler: dict[str, Any]
    options: EditorOptions


@dataclass
class EditorPart:
    """One loaded part: its network (the text encoder's with its tokenizer and processor) and the folder's setup."""

    setup: EditorSetup
    module: Any
    tokenizer: Any = None
    processor: Any = None


def _klein_transformer(folder: Path, device: Any, dtype: Any) -> Any:
    from diffusers import Flux2Transformer2DModel

    with empty_weights():
        module = Flux2Transformer2DModel.from_config(json_file(folder / "transformer" / "config.json"))
    return assign_diffusers(module, folder / "transformer", KLEIN_WEIGHTS["transformer"], device, dtype)


def _klein_vae(folder: Path, device: Any, dtype: Any) -> Any:
    from diffusers import AutoencoderKLFlux2

    with empty_weights():
        module = AutoencoderKLFlux2.from_config(json_file(folder / "vae" / "config.json"))
    return assign_diffusers(module, folder / "vae", KLEIN_WEIGHTS["vae"], device, dtype)


def _klein_text_encoder(folder: Path, device: Any, dtype: Any) -> TextEncoder:
    """Qwen3 from its shards. With tied embeddings the file holds no ``lm_head.weight``: the output layer
    is the input embedding (``from_pretrained`` ties them), so it is given that tensor, then tied."""
    from transformers import Qwen2TokenizerFast, Qwen3Config, Qwen3ForCausalLM

    with empty_weights():
        module = Qwen3ForCausalLM(Qwen3Config.from_pretrained(folder / "text_encoder"))
    state = transformers_shards(module, folder / "text_encoder", device, dtype)
    if module.config.tie_word_embeddings and "lm_head.weight" not in state:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    placement.assign_weights(module, state, device, dtype)
    module.tie_weights()  # one parameter for both, as from_pretrained leaves them (assignment made two)
    return TextEncoder(module.eval().requires_grad_(False), Qwen2TokenizerFast.from_pretrained(folder / "tokenizer"))


# The pipeline a folder's model_index.json names -> how each of its parts is read (folder, device,
# dtype -> the network; the text encoder's as a TextEncoder, with what reads its inputs).
PIPELINES: dict[str, dict[str, Callable[[Path, Any, Any], Any]]] = {
    "Flux2KleinPipeline": {"text_encoder": _klein_text_encoder, "transformer": _klein_transformer, "vae": _klein_vae},
    "QwenImageEditPlusPipeline": QWEN_EDIT_READERS,
}
EDITOR_PARTS = ("text_encoder", "transformer", "vae")


def read_setup(folder: Path, options: EditorOptions) -> EditorSetup:
    """The folder's ``EditorSetup``; ``ValueError`` naming the pipeline when img23d does not run it."""
    index = json_file(folder / "model_index.json")
    name = index.get("_class_name")
    if name not in PIPELINES:
        raise ValueError(f"its model_index.json names the pipeline {name!r}; img23d runs {', '.join(PIPELINES)}")
    return EditorSetup(pipeline=name, is_distilled=bool(index.get("is_distilled", False)),
                       scheduler=json_file(folder / "scheduler" / "scheduler_config.json"), options=options)


def load_part(folder: Path, device: Any, part: str, options: EditorOptions, dtype: Any = None) -> LoadedModel:
    """One part of the image editor (real or tiny replica) from ``folder``, on ``device`` in its dtype
    (``editor_dtype``; ``dtype`` another, for a benchmark's ``--dtype``: bfloat16 on a CPU halves the memory)."""
    prepare_torchvision()  # diffusers' loaders import transformers' image processors, which import torchvision
    folder = Path(folder)
    setup = read_setup(folder, options)
    read = PIPELINES[setup.pipeline][part](folder, device, dtype or editor_dtype(device))
    text = read if isinstance(read, TextEncoder) else TextEncoder(read)
    return LoadedModel(obj=EditorPart(setup, text.module, text.tokenizer, text.processor), modules=[text.module])


def editor_loader(spec: ModelSpec) -> PartLoaders:
    """The manager's loaders for the editor role: each part read on its own, with the spec's run options."""
    options = EditorOptions.of(spec)
    return PartLoaders(loaders={part: partial(load_part, part=part, options=options) for part in EDITOR_PARTS},
                       sizes=editor_part_sizes(spec))
