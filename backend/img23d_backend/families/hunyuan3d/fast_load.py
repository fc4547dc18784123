"""Building models without random initialisation, then reading their weights straight into place.

hy3dgen's ``from_pretrained`` builds the shape DiT, VAE and DINOv2 conditioner with random fp32
initialisation on the CPU before it loads the checkpoint over them (tens of seconds for 2mini,
where reading the weights takes a few); the paint UNet is built the same way. Here the modules
are built with their parameters on the meta device (``meta_weights.empty_weights``: nothing allocated,
initialisers run on nothing), and the checkpoint's tensors are read one at a time and handed
to ``placement.assign_weights``, which casts and moves each to the device and assigns it in
place of its meta parameter. Buffers are still built for real: some (the VAE's
``fourier_embedder.frequencies``) are computed in ``__init__`` and are not in the checkpoint.

This module reads files and builds modules; moving and casting weights is ``placement``'s.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from img23d_protocol import ErrorCode, ProtocolError

from ...env.torch_shims import prepare_torchvision
from ...models import placement
from ...models.file_checks import file_digest
from ...models.meta_weights import diffusers_key_fixes, empty_weights, read_safetensors

log = logging.getLogger(__name__)

# The shape checkpoint's components, each under its own key prefix (``model.``, ``vae.``, ...).
SHAPE_PARTS = ("model", "vae", "conditioner")


@dataclass
class ShapeFiles:
    config: Path
    checkpoint: Path


def shape_files(folder: Path, subfolder: str | None) -> ShapeFiles:
    """The files hy3dgen's ``from_pretrained(..., variant='fp16', use_safetensors=True)`` reads."""
    base = Path(folder) / subfolder if subfolder else Path(folder)
    files = ShapeFiles(config=base / "config.yaml", checkpoint=base / "model.fp16.safetensors")
    for path in (files.config, files.checkpoint):
        if not path.is_file():
            raise FileNotFoundError(2, "No such file", str(path))
    return files


def load_shape_pipeline(folder: Path, subfolder: str | None, device: Any, dtype: Any) -> Any:
    """hy3dgen's ``Hunyuan3DDiTFlowMatchingPipeline`` with the checkpoint read straight into place.

    The same modules, weights and dtypes as ``from_pretrained(folder, subfolder=..., device=...,
    dtype=...)``, without building them with random weights first.
    """
    import yaml

    prepare_torchvision()  # hy3dgen.shapegen imports torchvision and pymeshlab (a stand-in where absent)
    from hy3dgen.shapegen import Hunyuan3DDiTFlowMatchingPipeline
    from hy3dgen.shapegen.pipelines import instantiate_from_config

    files = shape_files(folder, subfolder)
    config = yaml.safe_load(files.config.read_text(encoding="utf-8"))
    with empty_weights():
        parts = {part: instantiate_from_config(config[part]) for part in SHAPE_PARTS}
    for part, module in parts.items():
        # A checkpoint without conditioner weights would leave DINOv2 on the meta device:
        # assign_weights' strict load names the missing keys instead.
        state = read_safetensors(files.checkpoint, device, dtype, prefix=f"{part}.")
        placement.assign_weights(module, state, device, dtype)
    # Built the way from_single_file builds it; its .to(device, dtype) then finds nothing to move.
    return Hunyuan3DDiTFlowMatchingPipeline(
        vae=parts["vae"], model=parts["model"], conditioner=parts["conditioner"],
        scheduler=instantiate_from_config(config["scheduler"]),
        image_processor=instantiate_from_config(config["image_processor"]),
        device=device, dtype=dtype,
        from_pretrained_kwargs=dict(model_path=str(folder), subfolder=subfolder, use_safetensors=True,
                                    variant="fp16", dtype=dtype, device=device))


def load_shape_vae(folder: Path, subfolder: str, device: Any, dtype: Any) -> Any:
    """A standalone hy3dgen ``ShapeVAE`` folder (FlashVDM's distilled VAE) as ``ShapeVAE.from_pretrained``
    makes it: ``ShapeVAE(**config["params"])`` with the checkpoint's unprefixed keys, read straight
    into place."""
    import yaml

    prepare_torchvision()  # as load_shape_pipeline
    from hy3dgen.shapegen.models import ShapeVAE

    files = shape_files(folder, subfolder)
    config = yaml.safe_load(files.config.read_text(encoding="utf-8"))
    with empty_weights():
        vae = ShapeVAE(**config["params"])  # upstream's from_single_file: cls(**params), target unread
    placement.assign_weights(vae, read_safetensors(files.checkpoint, device, dtype), device, dtype)
    return vae.eval()


def load_paint_unet(unet_folder: Path, device: Any, dtype: Any) -> Any:
    """hy3dgen's ``UNet2p5DConditionModel`` as its ``from_pretrained`` makes it, read straight into place."""
    import json

    from diffusers import UNet2DConditionModel
    from hy3dgen.texgen.hunyuanpaint.unet.modules import UNet2p5DConditionModel

    folder = Path(unet_folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    # The safetensors twin of the .bin hy3dgen's from_pretrained unpickles: the same tensors.
    checkpoint = folder / "diffusion_pytorch_model.safetensors"
    if not checkpoint.is_file():
        raise FileNotFoundError(2, "No such file", str(checkpoint))
    with empty_weights():
        # from_config drops the bookkeeping keys (_class_name, _diffusers_version) the way
        # hy3dgen's UNet2DConditionModel(**config) call tolerates them.
        unet = UNet2p5DConditionModel(UNet2DConditionModel.from_config(config))
    placement.assign_weights(unet, read_safetensors(checkpoint, device, dtype), device, dtype)
    return unet.eval()


def load_paint_vae(vae_folder: Path, device: Any, dtype: Any, sha256: str | None = None) -> Any:
    """A paint folder's ``AutoencoderKL``, built on the meta device and its weights read into place
    under the names diffusers' own loader gives them (``diffusers_key_fixes``).

    From ``diffusion_pytorch_model.safetensors`` where the folder has it; else from the ``.bin``
    (the turbo folder at the pinned revision has only that), a pickle, so its digest is checked
    first when ``sha256`` is given, and it is read with ``torch.load(weights_only=True)``, which
    unpickles tensors and plain containers only, never arbitrary objects.
    """
    import json

    import torch
    from diffusers import AutoencoderKL

    folder = Path(vae_folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    safe, pickle = folder / "diffusion_pytorch_model.safetensors", folder / "diffusion_pytorch_model.bin"
    if safe.is_file():
        state = read_safetensors(safe, device, dtype)
    elif pickle.is_file():
        if sha256 is not None:
            check_digest(pickle, sha256)
        loaded = torch.load(str(pickle), map_location="cpu", weights_only=True, mmap=True)
        state = {key: placement.to_device(tensor, device, dtype) for key, tensor in loaded.items()}
        del loaded
    else:
        raise FileNotFoundError(2, "No such file", str(safe))
    with empty_weights():
        vae = AutoencoderKL.from_config(config)
    placement.assign_weights(vae, diffusers_key_fixes(vae, state), device, dtype)
    return vae.eval()


def check_digest(path: Path, sha256: str) -> None:
    """Refuse a file whose SHA-256 is not ``sha256`` (before anything unpickles it): as a damaged file
    (``model_damaged``), since deleting it and downloading it again is the remedy."""
    actual = file_digest(path, "sha256")
    if actual != sha256.lower():
        raise ProtocolError(ErrorCode.MODEL_DAMAGED, f"{path} is not the pinned file (its sha256 is "
                            f"{actual}, not {sha256.lower()}): delete the model and download it again")
