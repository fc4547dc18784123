"""The texture model read straight into place: SDXL's UNet with the adapter's processors and
condition encoder, SDXL's two text encoders and tokenizers, the fp16-fix VAE.

Every network is built on the meta device from its config (``models.meta_weights.empty_weights``)
and its safetensors' tensors assigned (``models.placement.assign_weights``): no random
initialisation, one copy of each weight. The keys are read as the libraries' own loaders read
them: for the UNet and the VAE what diffusers' ``ModelMixin._fix_state_dict_keys_on_load`` does
(renames pre-0.14 attention names, ``query``/``key``/``value``/``proj_attn``, where a file has them), and
for the text encoders transformers' ``_fix_state_dict_key_on_load`` (legacy ``gamma``/``beta``
names) with the model's non-persistent buffers (``position_ids``, which files saved by older
transformers hold) dropped, as ``from_pretrained`` ignores them. Everything else must match
exactly: a missing or unexpected key is an error, never a random weight.

The adapter file holds, unprefixed, what upstream's ``_save_custom_adapter(include_keys=["_mv",
"_ref"])`` writes: the UNet's processor parameters
(``<block>.attentions.<i>.transformer_blocks.<j>.attn1.processor.to_q_mv.weight``, ...) and the
condition encoder's whole state dict (``adapter.conv_in.weight``, ``adapter.body.<i>...``).
Upstream loads it into both with ``strict=False`` (``_load_custom_adapter``: ``unet.load_state_dict``
then ``cond_encoder.load_state_dict``), which runs whatever the file lacks as it was built and
ignores what the file has beside. Here every parameter of both must come from the file (a missing
one is an error, never a random weight). A key naming one of the UNet's own parameters (its
``conv_in.weight``, a base attention's ``attn1.to_q.weight``) is loaded over SDXL's, as upstream's
``load_state_dict`` puts it in place after the base weights, and the log says so once; one whose
shape differs from the model's is refused, as ``load_state_dict`` refuses it even when not strict.
A key neither takes is logged once and ignored, as upstream ignores it (a real file may carry more
than the 738 keys read).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ....env.torch_shims import prepare_torchvision
from ....models import hub, placement
from ....models.dtypes import working_dtype
from ....models.meta_weights import empty_weights, read_safetensors, transformers_state
from ....models.placement import LoadedModel
from ....models.registry import ModelSpec
from ..texture_folders import DIFFUSERS_WEIGHTS, TRANSFORMERS_WEIGHTS, TextureFolders, weights_name
from .attention import AttentionState, install_processors

log = logging.getLogger(__name__)

# Upstream's condition encoder: a T2I-Adapter ("full_adapter_xl") over six channels (position
# and normal), two residual blocks per level, pixel-unshuffled by 16.
CONDITION_CHANNELS = 6
CONDITION_RES_BLOCKS = 2
CONDITION_DOWNSCALE = 16
CONDITION_PREFIX = "adapter."


@dataclass
class Step1XTextureModel:
    """A loaded texture model: its five networks, two tokenizers and the scheduler's config."""

    unet: Any
    condition_encoder: Any
    vae: Any
    text_encoder: Any
    text_encoder_2: Any
    tokenizer: Any
    tokenizer_2: Any
    scheduler_config: dict[str, Any]
    attention: AttentionState
    device: Any
    dtype: Any
    weight_bytes: dict[str, int] = field(default_factory=dict)

    @property
    def modules(self) -> list[Any]:
        return [self.unet, self.condition_encoder, self.vae, self.text_encoder, self.text_encoder_2]


def texture_dtype(device: Any, cpu_bfloat16: bool = False) -> Any:
    """float16 on CUDA and MPS, as upstream runs the model (the fp16-fix VAE decodes in it: its
    config sets ``force_upcast`` false, which ``vae`` reads); float32 on a CPU, or bfloat16 there
    when asked (half the memory, slower on most CPUs)."""
    import torch

    if getattr(device, "type", str(device)) == "cpu":
        return torch.bfloat16 if cpu_bfloat16 else torch.float32
    return working_dtype(device)


def adapter_channels(unet_config: Any) -> tuple[int, ...]:
    """The condition encoder's widths for this UNet: upstream hard-codes (320, 640, 1280, 1280),
    SDXL's three block widths and the mid block's; derived here so a smaller UNet gets its own."""
    widths = tuple(unet_config.block_out_channels)
    if len(widths) != 3:
        raise ValueError(f"the adapter's condition encoder fits SDXL's three UNet levels, not {len(widths)}")
    return (*widths, widths[-1])


def build_condition_encoder(unet_config: Any) -> Any:
    from diffusers import T2IAdapter

    return T2IAdapter(in_channels=CONDITION_CHANNELS, channels=list(adapter_channels(unet_config)),
                      num_res_blocks=CONDITION_RES_BLOCKS, downscale_factor=CONDITION_DOWNSCALE,
                      adapter_type="full_adapter_xl")


# Attention names of diffusers before 0.14, which files saved then still carry.
_LEGACY_ATTENTION = {"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}


def diffusers_state(module: Any, path: Path, device: Any, dtype: Any) -> dict[str, Any]:
    """A diffusers model's file, its keys fixed as ``from_pretrained`` fixes them: in the attention
    blocks diffusers marks ``_from_deprecated_attn_block`` (the VAE's mid-blocks), legacy names are
    renamed (written out rather than calling ``ModelMixin._fix_state_dict_keys_on_load``, a private
    method that older releases within the backend's range name otherwise)."""
    state = read_safetensors(path, device, dtype)
    for name, sub in module.named_modules():
        if not getattr(sub, "_from_deprecated_attn_block", False):
            continue
        for old, new in _LEGACY_ATTENTION.items():
            for kind in ("weight", "bias"):
                if f"{name}.{old}.{kind}" in state:
                    state[f"{name}.{new}.{kind}"] = state.pop(f"{name}.{old}.{kind}")
    return state


def split_adapter(state: dict[str, Any], unet: Any, condition_encoder: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The adapter file's tensors for the UNet (its processors, and any of SDXL's own parameters
    the file replaces) and for the condition encoder. A file without a parameter of the processors
    or the encoder, or with a tensor whose shape is not the model's, is refused in one sentence
    naming it; the SDXL weights it replaces, and the keys neither model takes (left out, as
    upstream's ``strict=False`` load leaves them), are logged once each (how many, and a few)."""
    unet_shapes = {key: tuple(value.shape) for key, value in unet.state_dict().items()}
    encoder_shapes = {key: tuple(value.shape) for key, value in condition_encoder.state_dict().items()}
    processors = {key for key in unet_shapes if ".processor." in key}
    missing = sorted((processors | set(encoder_shapes)) - set(state))
    if missing:
        raise ValueError(f"the adapter file does not fit this UNet: {len(missing)} of its "
                         f"{len(processors | set(encoder_shapes))} weights are missing, e.g. {', '.join(missing[:3])}")
    shapes = {**unet_shapes, **encoder_shapes}
    wrong = sorted(key for key in state if key in shapes and tuple(state[key].shape) != shapes[key])
    if wrong:
        raise ValueError(f"the adapter file does not fit this UNet: its {wrong[0]} is {list(state[wrong[0]].shape)} "
                         f"where the model's is {list(shapes[wrong[0]])}"
                         + (f" ({len(wrong)} tensors differ so)" if len(wrong) > 1 else ""))
    replaced = sorted(key for key in state if key in unet_shapes and key not in processors)
    if replaced:
        log.info("the adapter file replaces %d of SDXL's UNet weights with its own, as upstream's load does: %s",
                 len(replaced), _few(replaced))
    extra = sorted(set(state) - set(shapes))
    if extra:
        log.warning("the adapter file holds %d key(s) this model does not use, ignored (as upstream's strict=False "
                    "load ignores them): %s", len(extra), _few(extra))
    return ({k: v for k, v in state.items() if k in unet_shapes}, {k: v for k, v in state.items() if k in encoder_shapes})


def _few(keys: list[str]) -> str:
    return ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")


def _unet_parts(folders: TextureFolders, state: AttentionState) -> tuple[Any, Any]:
    from diffusers import UNet2DConditionModel

    config = json.loads((folders.sdxl / "unet" / "config.json").read_text(encoding="utf-8"))
    with empty_weights():
        unet = UNet2DConditionModel.from_config(config)
        install_processors(unet, state)
        encoder = build_condition_encoder(unet.config)
    return unet, encoder


def load_texture_model(folders: TextureFolders, device: Any, dtype: Any) -> Step1XTextureModel:
    """The Step1X-3D texture model from ``folders`` on ``device`` in ``dtype``."""
    prepare_torchvision()  # diffusers' and transformers' imports reach torchvision
    from diffusers import AutoencoderKL
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    folders.check()
    attention = AttentionState()
    unet, encoder = _unet_parts(folders, attention)
    vae_config = json.loads((folders.vae / "config.json").read_text(encoding="utf-8"))
    with empty_weights():
        vae = AutoencoderKL.from_config(vae_config)
        text_encoder = CLIPTextModel(CLIPTextConfig.from_pretrained(folders.sdxl / "text_encoder"))
        text_encoder_2 = CLIPTextModelWithProjection(CLIPTextConfig.from_pretrained(folders.sdxl / "text_encoder_2"))

    sizes = {}
    unet_state = diffusers_state(unet, folders.sdxl / "unet" / weights_name(DIFFUSERS_WEIGHTS, folders.variant),
                                 device, dtype)
    stray = [key for key in unet_state if ".processor." in key]
    if stray:
        raise ValueError(f"the SDXL UNet file already holds attention processors ({stray[0]}, ...): "
                         "not SDXL base 1.0's UNet")
    adapted, encoder_state = split_adapter(read_safetensors(folders.adapter, device, dtype), unet, encoder)
    sizes["unet"] = placement.assign_weights(unet, {**unet_state, **adapted}, device, dtype)
    sizes["adapter"] = sum(t.numel() * t.element_size() for t in adapted.values())
    sizes["condition_encoder"] = placement.assign_weights(encoder, encoder_state, device, dtype)
    del unet_state, adapted, encoder_state
    sizes["vae"] = placement.assign_weights(
        vae, diffusers_state(vae, folders.vae / weights_name(DIFFUSERS_WEIGHTS, None), device, dtype), device, dtype)
    for part, model in (("text_encoder", text_encoder), ("text_encoder_2", text_encoder_2)):
        path = folders.sdxl / part / weights_name(TRANSFORMERS_WEIGHTS, folders.variant)
        sizes[part] = placement.assign_weights(model, transformers_state(model, path, device, dtype), device, dtype)
    for module in (unet, encoder, vae, text_encoder, text_encoder_2):
        module.eval().requires_grad_(False)
    scheduler_config = json.loads((folders.sdxl / "scheduler" / "scheduler_config.json").read_text(encoding="utf-8"))
    return Step1XTextureModel(
        unet=unet, condition_encoder=encoder, vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2,
        tokenizer=CLIPTokenizer.from_pretrained(folders.sdxl / "tokenizer"),
        tokenizer_2=CLIPTokenizer.from_pretrained(folders.sdxl / "tokenizer_2"),
        scheduler_config=scheduler_config, attention=attention, device=device, dtype=dtype, weight_bytes=sizes)


def texture_loader(spec: ModelSpec):  # -> models.manager.Loader
    """The model manager's loader for the clean paint spec: ``folder`` is Step1X-3D's (the adapter's
    repository), its further sources (``spec.sources``: SDXL base, the fp16-fix VAE) are found where
    ``hub.resolve_model_dir`` put them."""

    def load(folder: Path, device: Any) -> LoadedModel:
        sdxl, vae = hub.source_dirs(spec)
        folders = TextureFolders.from_snapshots(sdxl, vae, Path(folder))
        return loaded_model(load_texture_model(folders, device, texture_dtype(device)))

    return load


def loaded_model(model: Step1XTextureModel) -> LoadedModel:
    """The model as the model manager holds it: its five networks move together."""

    def follow(device_now: Any) -> None:
        model.device = device_now  # new tensors (noise, maps) are made where the weights are

    return LoadedModel(obj=model, modules=model.modules, on_moved=follow, device=model.device)
