"""The geometry folder read straight into place: each part built on the meta device from its
config, its safetensors' tensors assigned (``models.meta_weights`` / ``models.placement``, the one
place weights are read and moved).

Upstream loads the folder with diffusers' ``DiffusionPipeline.from_pretrained`` over its own
``BaseModule`` classes, whose weights are their whole ``state_dict``: so the keys are the modules'
parameter names with no renaming on load, in ``<part>/diffusion_pytorch_model.safetensors``. The
one deliberate difference: the VAE's file also holds its encoder (training only), whose keys
(``shape_decoder.ENCODER_PREFIXES``) are skipped here, as are the Label model's CLIP text tower and
projections (``visual_encoder.CLIP_UNUSED_PREFIXES``); every other key must match exactly.

Besides each part's config, the loader reads ``model_index.json`` for one thing: the visual
encoder's class (``Dinov2Encoder`` or ``Dinov2CLIPEncoder``), which upstream's diffusers builds
and which must agree with the weights on whether there is a CLIP (``clip_tower``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ....env.torch_shims import prepare_torchvision
from ....models import dtypes, placement
from ..specs import STEP1X_FILES, STEP1X_LABEL_FILES, STEP1X_LABEL_PART, STEP1X_WEIGHTS, step1x_precision
from ....models.meta_weights import empty_weights
from ....models.placement import LoadedModel
from ....models.registry import ModelSpec
from .clip_tower import check_agreement, check_tower, clip_from_weights, encoder_class, weight_shapes
from .configs import DenoiserConfig, ShapeVAEConfig, VisualEncoderConfig, dino_settings, read_config
from .denoiser import Step1XDenoiser
from .label import LabelEncoder, LabelEncoderConfig
from .shape_decoder import ENCODER_PREFIXES, ShapeDecoder
from .visual_encoder import CLIP_UNUSED_PREFIXES, VisualEncoder


@dataclass
class Step1XGeometry:
    """A loaded geometry model: its three networks (four for the Label model) and its scheduler's config."""

    denoiser: Step1XDenoiser
    vae: ShapeDecoder
    visual: VisualEncoder
    scheduler_config: dict[str, Any]
    device: Any
    weight_bytes: dict[str, int] = field(default_factory=dict)
    label: LabelEncoder | None = None

    @property
    def modules(self) -> list[Any]:
        return [self.denoiser, self.vae, self.visual, *([self.label] if self.label is not None else [])]

    @property
    def dtype(self) -> Any:
        """The weights' dtype now (all parts share it; fp32 while a checked target is redone)."""
        return self.denoiser.dit_model.proj_in.weight.dtype

    @property
    def checked(self) -> bool:
        """In fp16, which can overflow: a target whose latents or field are not finite is redone in fp32."""
        import torch

        return self.dtype == torch.float16


def check_folder(folder: Path, files: tuple[str, ...] = STEP1X_FILES) -> None:
    """Refuse a folder that lacks one of ``files``, naming it."""
    missing = [name for name in files if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(2, f"not a Step1X-3D geometry folder: {', '.join(missing)} missing", str(folder))


def read_weights(path: Path, device: Any, dtype: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every tensor of ``path`` but those under a prefix in ``skip``, on ``device`` in ``dtype``."""
    from safetensors import safe_open

    state: dict[str, Any] = {}
    with safe_open(str(path), framework="pt", device="cpu") as reader:
        for key in reader.keys():
            if skip and key.startswith(skip):
                continue
            state[key] = placement.to_device(reader.get_tensor(key), device, dtype)
    return state


def load_geometry(folder: Path, device: Any, dtype: Any) -> Step1XGeometry:
    """The geometry model in ``folder`` (e.g. ``.../Step1X-3D-Geometry-1300m``) on ``device``."""
    prepare_torchvision()  # diffusers' and transformers' imports reach torchvision
    folder = Path(folder)
    check_folder(folder)
    denoiser_config = read_config(DenoiserConfig, folder / "transformer" / "config.json")
    vae_config = read_config(ShapeVAEConfig, folder / "vae" / "config.json")
    visual_config = read_config(VisualEncoderConfig, folder / "visual_encoder" / "config.json")
    dino = dino_settings(visual_config.dino_type, folder)
    # The Label model is told apart by its own files, not by its folder's name: the denoiser takes
    # a label condition, the visual encoder's weights hold a CLIP (never by the config's clip_type:
    # see clip_tower) whose sizes they give, and model_index.json's encoder class agrees.
    visual_shapes = weight_shapes(folder / "visual_encoder" / STEP1X_WEIGHTS)
    clip = clip_from_weights(visual_shapes)
    check_agreement(encoder_class(folder), clip is not None)
    label_config = None
    if denoiser_config.use_label_condition:
        check_folder(folder, STEP1X_LABEL_FILES)
        label_config = read_config(LabelEncoderConfig, folder / STEP1X_LABEL_PART / "config.json")
        if label_config.hidden_size != denoiser_config.label_condition_dim:
            raise ValueError(f"the label encoder's hidden_size {label_config.hidden_size} is not the denoiser's "
                             f"label_condition_dim {denoiser_config.label_condition_dim}")
    if int(dino["hidden_size"]) != denoiser_config.visual_condition_dim:
        raise ValueError(f"the visual encoder's width {dino['hidden_size']} is not the denoiser's "
                         f"visual_condition_dim {denoiser_config.visual_condition_dim}")
    if vae_config.embed_dim != denoiser_config.input_channels:
        raise ValueError(f"the VAE's embed_dim {vae_config.embed_dim} is not the denoiser's "
                         f"input_channels {denoiser_config.input_channels}")
    with empty_weights():
        denoiser = Step1XDenoiser(denoiser_config)
        vae = ShapeDecoder(vae_config)
        visual = VisualEncoder(visual_config, dino, clip)
        label = LabelEncoder(label_config) if label_config is not None else None
    if clip is not None:
        check_tower(visual_shapes, visual.clip_model.vision_model.state_dict().keys())
    sizes = {}
    parts: list[tuple[str, Any, tuple[str, ...]]] = [
        ("transformer", denoiser, ()), ("vae", vae, ENCODER_PREFIXES), ("visual_encoder", visual, CLIP_UNUSED_PREFIXES)]
    if label is not None:
        parts.append((STEP1X_LABEL_PART, label, ()))
    for part, module, skip in parts:
        state = read_weights(folder / part / STEP1X_WEIGHTS, device, dtype, skip)
        if part == "visual_encoder":
            # transformers before 4.31 saved CLIP's position ids (now a non-persistent buffer the
            # module builds itself); a file written then may hold them.
            state = {key: value for key, value in state.items() if not key.endswith("embeddings.position_ids")}
        sizes[part] = placement.assign_weights(module, state, device, dtype)
        module.eval()
    scheduler_config = json.loads((folder / "scheduler" / "scheduler_config.json").read_text(encoding="utf-8"))
    return Step1XGeometry(denoiser=denoiser, vae=vae, visual=visual, scheduler_config=scheduler_config,
                          device=device, weight_bytes=sizes, label=label)


def step1x_loader(spec: ModelSpec):  # -> Loader
    """The model manager's loader for a Step1X-3D geometry spec (its folder and subfolder), in the
    family's precision on the device (``specs.step1x_precision``)."""

    def load(folder: Path, device: Any) -> LoadedModel:
        precision = step1x_precision(dtypes.device_kind(device))
        model = load_geometry(Path(folder).resolve() / (spec.subfolder or ""), device, precision.dtype)

        def follow(device_now: Any) -> None:
            model.device = device_now  # new tensors (noise, grids) are made where the weights are

        return LoadedModel(obj=model, modules=model.modules, on_moved=follow)

    return load
