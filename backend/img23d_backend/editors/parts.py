"""An image editor's parts, each read from its folder on its own: the text encoder (with its
tokenizer, and where the editor has one the processor it reads the picture through), the transformer
and the VAE, so that the model manager can place them one by one
(``models.handles.PartLoaders``; ``driver`` runs an edit in phases over them), in the dtype they run in.

Each network is loaded as the other diffusers models are (``models.meta_weights``): built on the meta
device from its config and its safetensors assigned in place (sharded networks' shards as their
indexes name them: ``weights``), no random initialisation, in the dtype it runs in (``editor_dtype``). Every part
also carries the folder's ``EditorSetup`` (its ``model_index.json`` and scheduler config, a few
hundred bytes read again per part), so a phase holding any of the parts can build its pipeline.
How each network is read is its editor's (``Editor.readers``, in ``<editor>/parts.py``), found by the
pipeline its ``model_index.json``'s ``_class_name`` names (``table.editor_for_pipeline``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from ..env.torch_shims import prepare_torchvision
from ..models.handles import PartLoaders
from ..models.placement import LoadedModel
from ..models.specs import ModelSpec
from .table import editor_for_pipeline
from .weights import TextEncoder, json_file


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


EDITOR_PARTS = ("text_encoder", "transformer", "vae")


def read_setup(folder: Path, options: EditorOptions) -> EditorSetup:
    """The folder's ``EditorSetup``; ``ValueError`` naming the pipeline when img23d does not run it."""
    index = json_file(folder / "model_index.json")
    name = index.get("_class_name")
    editor_for_pipeline(str(name))  # no editor of img23d's runs it: the one sentence naming those that do
    return EditorSetup(pipeline=name, is_distilled=bool(index.get("is_distilled", False)),
                       scheduler=json_file(folder / "scheduler" / "scheduler_config.json"), options=options)


def load_part(folder: Path, device: Any, part: str, options: EditorOptions, dtype: Any = None) -> LoadedModel:
    """One part of the image editor (real or tiny replica) from ``folder``, on ``device`` in its dtype
    (``editor_dtype``; ``dtype`` another, for a benchmark's ``--dtype``: bfloat16 on a CPU halves the memory)."""
    prepare_torchvision()  # diffusers' loaders import transformers' image processors, which import torchvision
    folder = Path(folder)
    setup = read_setup(folder, options)
    read = editor_for_pipeline(setup.pipeline).readers[part](folder, device, dtype or editor_dtype(device))
    text = read if isinstance(read, TextEncoder) else TextEncoder(read)
    return LoadedModel(obj=EditorPart(setup, text.module, text.tokenizer, text.processor), modules=[text.module])


def editor_loader(spec: ModelSpec) -> PartLoaders:
    """The manager's loaders for the editor role: each part read on its own, with the spec's run options."""
    options = EditorOptions.of(spec)
    return PartLoaders(loaders={part: partial(load_part, part=part, options=options) for part in EDITOR_PARTS},
                       sizes=editor_part_sizes(spec))


def editor_part_sizes(spec: ModelSpec) -> dict[str, int]:
    """Each part's estimated size, until the model manager measures it: the spec's size shared out as
    the published parts' parameters are (``options["part_parameters"]``; a tiny replica's proportions
    differ, and its sizes are measured on its first load, as every model's are)."""
    parameters = spec.options["part_parameters"]
    total = sum(parameters.values())
    return {part: spec.size_bytes * count // total for part, count in parameters.items()}


def editor_dtype(device: Any) -> Any:
    """bfloat16 on CUDA (the published weights' dtype, and the one public recipes run it in),
    float32 elsewhere: a CPU gains nothing from half precision and is far slower in it."""
    import torch

    return torch.bfloat16 if getattr(device, "type", str(device)) == "cuda" else torch.float32
