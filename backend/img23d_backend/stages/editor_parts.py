"""The image editor's parts, each read from its folder on its own: the text encoder (with its
tokenizer), the transformer and the VAE, so that the model manager can place them one by one
(``models.handles.PartLoaders``; ``stages/editing.py`` runs an edit in phases over them).

Each network is loaded as the other diffusers models are (``models.meta_weights``): built on the meta
device from its config and its safetensors assigned in place (the text encoder's two shards as its
index names them), no random initialisation, in the dtype it runs in (``editor_dtype``). Every part
also carries the folder's ``EditorSetup`` (its ``model_index.json`` and scheduler config, a few
hundred bytes read again per part), so a phase holding any of the parts can build its pipeline.
Which networks a folder needs comes from its ``model_index.json``'s ``_class_name`` (``PIPELINES``:
one entry now; a second editor is a second).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable

from ..env.torch_shims import prepare_torchvision
from ..models import placement
from ..models.editor_model import editor_part_sizes
from ..models.fast_load import diffusers_key_fixes
from ..models.folder_files import KLEIN_WEIGHTS
from ..models.handles import PartLoaders
from ..models.meta_weights import empty_weights, read_safetensors, transformers_state
from ..models.placement import LoadedModel
from ..models.registry import ModelSpec, editor_dtype


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
class EditorSetup:
    """The folder's weightless configuration, which every part carries: the pipeline its
    ``model_index.json`` names, whether the model is distilled, its scheduler's config, and the run options."""

    pipeline: str
    is_distilled: bool
    scheduler: dict[str, Any]
    options: EditorOptions


@dataclass
class EditorPart:
    """One loaded part: its network (the text encoder's with its tokenizer) and the folder's setup."""

    setup: EditorSetup
    module: Any
    tokenizer: Any = None


def _json(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _klein_transformer(folder: Path, device: Any, dtype: Any) -> Any:
    from diffusers import Flux2Transformer2DModel

    with empty_weights():
        module = Flux2Transformer2DModel.from_config(_json(folder / "transformer" / "config.json"))
    return _assigned(module, folder, "transformer", device, dtype)


def _klein_vae(folder: Path, device: Any, dtype: Any) -> Any:
    from diffusers import AutoencoderKLFlux2

    with empty_weights():
        module = AutoencoderKLFlux2.from_config(_json(folder / "vae" / "config.json"))
    return _assigned(module, folder, "vae", device, dtype)


def _assigned(module: Any, folder: Path, part: str, device: Any, dtype: Any) -> Any:
    [name] = KLEIN_WEIGHTS[part]
    state = read_safetensors(folder / part / name, device, dtype)
    placement.assign_weights(module, diffusers_key_fixes(module, state), device, dtype)
    return module.eval().requires_grad_(False)


def _klein_text_encoder(folder: Path, device: Any, dtype: Any) -> tuple[Any, Any]:
    from transformers import Qwen2TokenizerFast, Qwen3Config, Qwen3ForCausalLM

    with empty_weights():
        module = Qwen3ForCausalLM(Qwen3Config.from_pretrained(folder / "text_encoder"))
    placement.assign_weights(module, _text_encoder_state(module, folder / "text_encoder", device, dtype), device, dtype)
    module.tie_weights()  # one parameter for both, as from_pretrained leaves them (assignment made two)
    return module.eval().requires_grad_(False), Qwen2TokenizerFast.from_pretrained(folder / "tokenizer")


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


# The pipeline a folder's model_index.json names -> how each of its parts is read (folder, device,
# dtype -> the network; the text encoder's with its tokenizer).
PIPELINES: dict[str, dict[str, Callable[[Path, Any, Any], Any]]] = {
    "Flux2KleinPipeline": {"text_encoder": _klein_text_encoder, "transformer": _klein_transformer, "vae": _klein_vae},
}
EDITOR_PARTS = ("text_encoder", "transformer", "vae")


def read_setup(folder: Path, options: EditorOptions) -> EditorSetup:
    """The folder's ``EditorSetup``; ``ValueError`` naming the pipeline when img23d does not run it."""
    index = _json(folder / "model_index.json")
    name = index.get("_class_name")
    if name not in PIPELINES:
        raise ValueError(f"its model_index.json names the pipeline {name!r}; img23d runs {', '.join(PIPELINES)}")
    return EditorSetup(pipeline=name, is_distilled=bool(index.get("is_distilled", False)),
                       scheduler=_json(folder / "scheduler" / "scheduler_config.json"), options=options)


def load_part(folder: Path, device: Any, part: str, options: EditorOptions, dtype: Any = None) -> LoadedModel:
    """One part of the image editor (real or tiny replica) from ``folder``, on ``device`` in its dtype
    (``editor_dtype``; ``dtype`` another, for a benchmark: bfloat16 on a CPU, where float32 would not fit)."""
    prepare_torchvision()  # diffusers' loaders import transformers' image processors, which import torchvision
    folder = Path(folder)
    setup = read_setup(folder, options)
    read = PIPELINES[setup.pipeline][part](folder, device, dtype or editor_dtype(device))
    module, tokenizer = read if isinstance(read, tuple) else (read, None)
    return LoadedModel(obj=EditorPart(setup, module, tokenizer), modules=[module])


def editor_loader(spec: ModelSpec) -> PartLoaders:
    """The manager's loaders for the editor role: each part read on its own, with the spec's run options."""
    options = EditorOptions.of(spec)
    return PartLoaders(loaders={part: partial(load_part, part=part, options=options) for part in EDITOR_PARTS},
                       sizes=editor_part_sizes(spec))
