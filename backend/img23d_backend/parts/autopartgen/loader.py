"""AutoPartGen's networks loaded from its folders: each built on the meta device and its checkpoint
assigned in place (``models.meta_weights``, ``models.placement``), never randomly initialised first.

The files (``facebook/autopartgen``; ``model`` says where each fact comes from):
``autopartgen_dit.pth`` (2,048 latents) or ``autopartgen_dit_4096.pth``, and ``autopartgen_vae.pth``;
DINOv2-L/14 with registers from its own folder (``config.json``, ``model.safetensors``: transformers'
layout, ``facebook/dinov2-with-registers-large``), read with transformers' own key fixes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ...env.torch_shims import prepare_torchvision
from ...models import placement
from ...models.meta_weights import empty_weights, transformers_state
from ...models.placement import LoadedModel
from .conditioner import ImageConditioner
from .config import AutoPartGenConfig, ConditionerConfig
from .dit import PartDiT
from .vae import ShapeVAE
from .weights import read_checkpoint, renamed_dit_keys

DIT_FILES = {2048: "autopartgen_dit.pth", 4096: "autopartgen_dit_4096.pth"}
VAE_FILE = "autopartgen_vae.pth"
DINO_FILES = ("config.json", "model.safetensors")


@dataclass
class AutoPartGenNetworks:
    """The three networks as the part loop calls them, and the sizes they were built with."""

    config: AutoPartGenConfig
    conditioner: ImageConditioner | None   # None in the drawing phase: what it read is passed on (part_loop)
    dit: PartDiT
    vae: ShapeVAE

    @property
    def device(self) -> torch.device:
        return self.dit.proj_in.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.dit.proj_in.weight.dtype


def _assign(module: torch.nn.Module, state: dict[str, Any], device: Any, dtype: Any) -> None:
    placement.assign_weights(module, {key: placement.to_device(t, device, dtype) for key, t in state.items()},
                             device, dtype)
    module.eval().requires_grad_(False)


def load_dino(folder: Path, config: ConditionerConfig, device: Any, dtype: Any) -> ImageConditioner:
    """DINOv2 with registers from a transformers folder, its sizes from its ``config.json``."""
    prepare_torchvision()  # transformers' model modules import its image processors, which import torchvision
    from transformers import Dinov2WithRegistersConfig, Dinov2WithRegistersModel

    dino_config = Dinov2WithRegistersConfig.from_pretrained(folder)
    with empty_weights():
        dino = Dinov2WithRegistersModel(dino_config)
    state = transformers_state(dino, Path(folder) / "model.safetensors", device, dtype)
    _assign(dino, state, device, dtype)
    return ImageConditioner.from_model(config, dino)


NETWORKS = ("conditioner", "dit", "vae")  # the manager's parts, in the order a run first needs them


def load_network(name: str, folder: Path, dino_folder: Path, config: AutoPartGenConfig, device: Any,
                 dtype: Any = torch.float32) -> LoadedModel:
    """One network (``NETWORKS``) alone, so the model manager can place each as a part of its own."""
    config.check()
    if name == "conditioner":
        conditioner = load_dino(Path(dino_folder), config.conditioner, device, dtype)
        return LoadedModel(obj=conditioner, modules=[conditioner.dino])
    if name not in NETWORKS:
        raise ValueError(f"AutoPartGen has no network {name!r}; it has {', '.join(NETWORKS)}")
    folder = Path(folder)
    with empty_weights():
        module = PartDiT(config.dit) if name == "dit" else ShapeVAE(config.vae)
    if name == "dit":
        # The 4,096-latent DiT is its own file; every other size (the tiny replica's) is the default file's.
        dit_file = DIT_FILES[4096] if config.dit.latents == 4096 else DIT_FILES[2048]
        _assign(module, renamed_dit_keys(read_checkpoint(folder / dit_file)), device, dtype)
    else:
        _assign(module, read_checkpoint(folder / VAE_FILE), device, dtype)
    return LoadedModel(obj=module, modules=[module])


def load_autopartgen(folder: Path, dino_folder: Path, config: AutoPartGenConfig, device: Any,
                     dtype: Any = torch.float32) -> LoadedModel:
    """The DiT of ``config.dit.latents`` latents, the VAE and DINOv2 on ``device`` in ``dtype``, together."""
    loaded = {name: load_network(name, folder, dino_folder, config, device, dtype) for name in NETWORKS}
    networks = AutoPartGenNetworks(config, loaded["conditioner"].obj, loaded["dit"].obj, loaded["vae"].obj)
    return LoadedModel(obj=networks, modules=[module for one in loaded.values() for module in one.modules])
