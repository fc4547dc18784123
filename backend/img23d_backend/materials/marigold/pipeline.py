"""Marigold-IID-Appearance's loader and estimate: a roughness map and a metallic map for each painted view.

The model (``prs-eth/marigold-iid-appearance-v1-1``, or its tiny replica; ``model`` says where its
files and facts come from) is loaded as the other diffusers models are
(``models.meta_weights``): each network built on the meta device from its config and its
safetensors assigned in place, no random initialisation, the ``fp16`` variant's files read in the
dtype it runs in (``materials_dtype``). The loaded networks become diffusers' own
``MarigoldIntrinsicsPipeline`` (the ``torch_shims`` stand-in first: the pipeline imports
transformers' CLIP, which imports torchvision), configured from the folder's ``model_index.json``
as ``from_pretrained`` configures it: its scheduler's class (``scheduler_class``: DDIM for the
published model, LCM for Marigold's few-step variants), its ``target_properties`` (which output is
which), its default steps and processing resolution, each read, not assumed.

``estimate_materials`` runs the pipeline's own processing on the views (resize to the processing
resolution, pad, encode, denoise from seeded noise, decode, unpad, resize back), all the views of one
size in one call (``batch`` at a time: a painted object's six views are one batch through the UNet
and the VAE, where they were six calls), each from its own generator seeded alike, so that a view's
maps are the ones it gets alone. It takes the roughness and metallicity channels the
``target_properties`` name: for this model the second target, ``material``, a stack of [roughness,
metallicity, unused], each in linear space in [0, 1].

Steps: by default the fewest the model allows (``fewest_steps``). Marigold v1.1 is trained for DDIM
with trailing timesteps and zero terminal SNR, and its checkpoints "produce reliable results with 1 to
4 steps" (diffusers' Marigold guide, "Available Checkpoints"; ``model_index.json`` says 4): the step
runs 1. A folder whose scheduler is configured otherwise (an earlier Marigold, the LCM variants) runs
its ``model_index.json``'s own count. ``bench/materials_steps.py`` compares 1 step with 4 on the real
weights where they are (not here: unverified on real weights).

A Generate calls it after painting (``jobs.steps.materials`` bakes the maps beside the colour) through the
materials driver (``materials.driver.material_maps``: its model manager, its activations checked, a
failure said in one sentence), which reaches it as ``material.MATERIAL``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ...env.job_control import CancelToken
from ...env.torch_shims import prepare_torchvision
from ...models import placement
from ...models.meta_weights import diffusers_key_fixes, empty_weights, read_safetensors, transformers_state
from ...models.placement import LoadedModel
from ..driver import MaterialMaps
from .model import FEWEST_TRAILING_STEPS, MARIGOLD_WEIGHTS, materials_dtype

ROUGHNESS, METALLIC = "roughness", "metallicity"  # the names the model's target_properties give them
# The noise every view starts from: the same seed for each view, so a view's maps do not depend on
# which other views were asked for.
DEFAULT_SEED = 0


@dataclass(frozen=True)
class Channel:
    """Where one estimate lies in the pipeline's output: its target, and its channel (None: the
    target is that estimate alone, its three channels equal)."""

    target: int
    channel: int | None


@dataclass
class MaterialsModel:
    """The loaded pipeline and where roughness and metallicity lie in its output."""

    pipeline: Any
    roughness: Channel
    metallic: Channel

    @property
    def default_steps(self) -> int:
        return int(self.pipeline.default_denoising_steps)

    @property
    def default_resolution(self) -> int:
        return int(self.pipeline.default_processing_resolution)

    @property
    def fewest_steps(self) -> int:
        """The steps the material step runs by default: ``FEWEST_TRAILING_STEPS`` for Marigold v1.1's recipe
        (a DDIM scheduler with trailing timesteps and zero terminal SNR), else ``model_index.json``'s own."""
        config = self.pipeline.scheduler.config
        trailing = (type(self.pipeline.scheduler).__name__ == "DDIMScheduler"
                    and config.get("timestep_spacing") == "trailing" and config.get("rescale_betas_zero_snr"))
        return min(self.default_steps, FEWEST_TRAILING_STEPS) if trailing else self.default_steps


def find_channel(target_properties: dict[str, Any], name: str) -> Channel:
    """Where ``name`` lies in a Marigold intrinsics output, from its ``target_properties``: a target of
    that name, or a sub-target of a ``stack`` target (``sub_target_names``). ``ValueError`` when the
    model estimates no such thing."""
    names = list(target_properties.get("target_names") or ())
    if name in names:
        return Channel(names.index(name), None)
    for index, target in enumerate(names):
        entry = target_properties.get(target) or {}
        subs = list(entry.get("sub_target_names") or ())
        if entry.get("prediction_space") == "stack" and name in subs:
            return Channel(index, subs.index(name))
    raise ValueError(f"the model's model_index.json names no {name!r} among its targets ({', '.join(names) or 'none'})")


def load_materials(folder: Path, device: Any) -> LoadedModel:
    """Marigold-IID-Appearance (real or tiny replica) from ``folder``, on ``device`` in its dtype."""
    prepare_torchvision()  # MarigoldIntrinsicsPipeline imports transformers' CLIP, which imports torchvision
    from diffusers import AutoencoderKL, MarigoldIntrinsicsPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    folder = Path(folder)
    dtype = materials_dtype(device)
    index = _json(folder / "model_index.json")
    properties = index.get("target_properties") or {}
    roughness, metallic = find_channel(properties, ROUGHNESS), find_channel(properties, METALLIC)
    scheduler = scheduler_class(index).from_config(_json(folder / "scheduler" / "scheduler_config.json"))
    with empty_weights():
        unet = UNet2DConditionModel.from_config(_json(folder / "unet" / "config.json"))
        vae = AutoencoderKL.from_config(_json(folder / "vae" / "config.json"))
        text_encoder = CLIPTextModel(CLIPTextConfig.from_pretrained(folder / "text_encoder"))
    for part, module in (("unet", unet), ("vae", vae)):
        state = read_safetensors(folder / part / MARIGOLD_WEIGHTS[part], device, dtype)
        placement.assign_weights(module, diffusers_key_fixes(module, state), device, dtype)
    path = folder / "text_encoder" / MARIGOLD_WEIGHTS["text_encoder"]
    placement.assign_weights(text_encoder, transformers_state(text_encoder, path, device, dtype), device, dtype)
    for module in (unet, vae, text_encoder):
        module.eval().requires_grad_(False)
    pipeline = MarigoldIntrinsicsPipeline(
        unet=unet, vae=vae, scheduler=scheduler,
        text_encoder=text_encoder, tokenizer=CLIPTokenizer.from_pretrained(folder / "tokenizer"),
        prediction_type=index.get("prediction_type"), target_properties=properties,
        default_denoising_steps=index.get("default_denoising_steps"),
        default_processing_resolution=index.get("default_processing_resolution"))
    pipeline.set_progress_bar_config(disable=True)  # tqdm on stderr per step: the job's progress says it
    return LoadedModel(obj=MaterialsModel(pipeline, roughness, metallic), modules=[unet, vae, text_encoder])


def scheduler_class(index: dict[str, Any]) -> Any:
    """The scheduler class ``model_index.json`` names (its ``scheduler`` entry, ``[library, class]``), as
    ``from_pretrained`` would build it: a diffusers scheduler; ``ValueError`` naming it for anything else."""
    import diffusers

    entry = index.get("scheduler")
    library, name = entry if isinstance(entry, list) and len(entry) == 2 else (None, entry)
    found = getattr(diffusers, name, None) if library == "diffusers" and isinstance(name, str) else None
    if not (isinstance(found, type) and issubclass(found, diffusers.SchedulerMixin)):
        raise ValueError(f"the model's model_index.json names the scheduler {entry!r}, which is not a diffusers scheduler")
    return found


def estimate_materials(model: MaterialsModel, views: Sequence[Any], cancel: CancelToken, steps: int = 0,
                       resolution: int = 0, batch: int = 0, seed: int = DEFAULT_SEED) -> list[MaterialMaps]:
    """Each RGB view's roughness and metallic maps at the view's size. ``steps`` 0: ``fewest_steps``;
    ``resolution`` 0: the model's own (``model_index.json``'s). The views of one size go through the
    pipeline together, ``batch`` at a time (0: all of them), each from noise seeded with ``seed`` (its own
    generator: its maps do not depend on the others). A cancel is checked before each call and each
    denoising step."""
    import torch

    pipeline = model.pipeline
    rgbs = [view.convert("RGB") for view in views]
    maps: list[MaterialMaps | None] = [None] * len(rgbs)
    hook = pipeline.unet.register_forward_pre_hook(lambda module, args: cancel.check())
    try:
        for group in _batches(rgbs, batch):
            cancel.check()
            generators = [torch.Generator(device="cpu").manual_seed(seed) for _ in group]
            with torch.inference_mode():
                output = pipeline([rgbs[index] for index in group], num_inference_steps=steps or model.fewest_steps,
                                  processing_resolution=resolution or None, batch_size=len(group),
                                  generator=generators, output_type="np")
            # [views x targets, height, width, 3], each view's targets side by side
            prediction = np.asarray(output.prediction, dtype=np.float32)
            prediction = prediction.reshape(len(group), -1, *prediction.shape[1:])
            for index, predicted in zip(group, prediction):
                maps[index] = MaterialMaps(roughness=_channel(predicted, model.roughness),
                                           metallic=_channel(predicted, model.metallic))
        return [found for found in maps if found is not None]
    finally:
        hook.remove()


def _batches(views: Sequence[Any], batch: int) -> list[list[int]]:
    """The views' indices in groups of one size (the pipeline takes a batch of one size), ``batch`` at most
    (0: a group whole), in the order the views came."""
    sizes: dict[tuple[int, int], list[int]] = {}
    for index, view in enumerate(views):
        sizes.setdefault(view.size, []).append(index)
    step = batch if batch > 0 else max(len(views), 1)
    return [group[start:start + step] for group in sizes.values() for start in range(0, len(group), step)]


def _channel(prediction: np.ndarray, where: Channel) -> np.ndarray:
    if not np.isfinite(prediction).all():
        raise ValueError("its output holds values that are not finite numbers (NaN or infinity)")
    target = prediction[where.target]
    values = target.mean(axis=-1) if where.channel is None else target[..., where.channel]
    # The pipeline clips its decoded values to [0, 1] already; float16 rounding may not stay inside.
    return np.ascontiguousarray(np.clip(values, 0.0, 1.0), dtype=np.float32)


def _json(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))
