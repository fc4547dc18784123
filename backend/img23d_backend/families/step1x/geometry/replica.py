"""The Step1X-3D geometry replica: the ``Step1X-3D-Geometry-1300m`` folder as upstream saves it.

The family's own builder (it was ``replicas/step1x.py``); ``replicas/build.py`` (the tiny set) and
``replicas/full.py`` (the full-size one) call it.

``config(size)`` holds the architecture's sizes: ``full`` as the 1300m model was trained
(``configs/train-geometry-diffusion/step1x-3d-geometry-1300m.yaml`` in stepfun-ai/Step1X-3D;
DINOv2-with-registers-large's own config for the encoder), ``tiny`` for the tests. ``build``
writes what the real folder holds, as far as public sources show it:

* ``model_index.json``, ``scheduler/scheduler_config.json`` (diffusers' FlowMatchEulerDiscrete
  with 1000 training steps, as the training config names it; the published file's other fields
  are not confirmed), ``visual_eature_extractor/preprocessor_config.json`` (upstream's spelling);
* ``transformer/``, ``vae/``, ``visual_encoder/``: each a ``config.json`` of upstream's
  ``Config`` fields and a float32 ``diffusion_pytorch_model.safetensors`` (the published folder's
  ~7.3 GB for ~1.8 billion parameters is float32) keyed by upstream's parameter names: the
  denoiser under ``dit_model.``, the VAE whole (its training-only encoder and ``pre_kl`` too), the
  encoder under ``dino_model.`` with transformers 4.x DINOv2 names.

``build_label`` writes the Label folder (``Step1X-3D-Geometry-Label-1300m``) the same way, with its
own parts: the denoiser's ``use_label_condition``, a ``visual_encoder/`` of upstream's
``Dinov2CLIPEncoder`` (its config's ``clip_type`` as ``label_config`` says; the file holds the whole
CLIPModel under ``clip_model.``, text tower and projections included, beside ``dino_model.``) and
``label_encoder/`` (``hidden_size``, three embedding tables). Only a tiny Label replica is built.

The tiny replica names its DINOv2 by a folder (``dino_type``), as upstream's ``from_pretrained``
accepts one; the real model names ``facebook/dinov2-with-registers-large``. Weights are random
(seeded) but the VAE's query decoder is biased towards a closed blob the latents perturb, as the
Hunyuan3D replica's, so surface extraction yields a mesh.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..specs import STEP1X_LABEL_PART, STEP1X_WEIGHTS
from ....models.replica_common import Size, check_size, default_dtype, prepare_imports, seeded, shape_blob, write_json
from ....neural.fourier import FourierEmbedder
from ....neural.perceiver import Perceiver, ResidualCrossAttentionBlock
from .configs import DINOV2_REGISTERS_LARGE, DenoiserConfig, ShapeVAEConfig, VisualEncoderConfig, read_config
from .denoiser import Step1XDenoiser
from .label import LabelEncoder, LabelEncoderConfig
from .shape_decoder import ShapeDecoder
from .visual_encoder import VisualEncoder

FOLDER = "Step1X-3D-Geometry-1300m"
LABEL_FOLDER = "Step1X-3D-Geometry-Label-1300m"
TINY_DINO = "visual_encoder/dino"   # the tiny replica's DINOv2 config, relative to the folder
# The Label folder's visual_encoder/config.json clip_type (label_config says where it comes from).
LABEL_CLIP_TYPE = "openai/clip-vit-large-patch14"


@dataclass(frozen=True)
class GeometryDims:
    seed: int
    init_dtype: str
    denoiser: dict[str, Any]
    vae: dict[str, Any]
    visual: dict[str, Any]
    dino: dict[str, Any]
    clip: dict[str, Any] | None = None    # the Label model's CLIPModel config (vision and text)
    label: dict[str, Any] | None = None   # the Label model's label_encoder/config.json


def label_config() -> GeometryDims:
    """The tiny Label model: the tiny geometry's sizes but 64 wide, the label condition, DINOv2 and
    CLIP as wide as the condition (as the real model's 1024s: no ``proj_label_condtion``, no
    ``proj_visual_condtion``, no ``linear_proj``), both at 224 px (CLIP's size) with patches large
    enough to keep the tokens few. 64 is the narrowest CLIP whose head count the loader can read
    (``families.step1x.geometry.clip_tower``: one 64-wide head, as OpenAI's CLIPs have); two CLIP layers, so that the
    loader counts them.

    ``clip_type`` is what the real file most likely holds, inferred (the hub is out of reach):
    upstream's ``configure`` writes ``openai/`` + the path's part after ``openai--``, and the
    published folders' ``dino_type``, written the same way from the DINOv2 path, is a hub name
    that upstream's own loader reads (``facebook/dinov2-with-registers-large``, which a public
    offline patch of both encoders matches exactly): so training ran from hub-cache paths
    (``models--openai--clip-vit-large-patch14/snapshots/...``), which give the name below. The
    loader never reads it; the tests load every other form too."""
    tiny = config("tiny")
    width = 64
    dino = {**tiny.dino, "hidden_size": width, "patch_size": 56, "image_size": 224}
    return GeometryDims(
        seed=7200, init_dtype="float32",
        denoiser={**tiny.denoiser, "condition_dim": width, "visual_condition_dim": width,
                  "caption_condition_dim": width, "use_label_condition": True, "label_condition_dim": width},
        vae=_vae_fields(num_latents=64, embed_dim=8, width=32, heads=2, num_encoder_layers=1, num_decoder_layers=1,
                        n_samples=4096, subfolder=LABEL_FOLDER),
        visual={**_visual_fields(TINY_DINO, 224), "clip_type": LABEL_CLIP_TYPE, "fuse_type": "concat",
                "freeze_modulation_clip": False, "pretrained_linear_proj": None},
        dino=dino,
        clip={"model_type": "clip", "projection_dim": 16,
              "vision_config": {"hidden_size": width, "intermediate_size": 128, "num_hidden_layers": 2,
                                "num_attention_heads": 1, "patch_size": 56, "image_size": 224,
                                "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5, "projection_dim": 16},
              "text_config": {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                              "num_attention_heads": 2, "vocab_size": 64, "max_position_embeddings": 16,
                              "projection_dim": 16}},
        label={"hidden_size": width, "empty_embeds_ratio": 0.1, "normalize_embeds": False, "zero_uncond_embeds": True})


def config(size: Size) -> GeometryDims:
    if check_size(size) == "full":
        return GeometryDims(
            seed=7100, init_dtype="float32",
            denoiser=_denoiser_fields(input_channels=64, width=1280, layers=12, num_single_layers=24, num_heads=20,
                                      condition_dim=1024),
            vae=_vae_fields(num_latents=2048, embed_dim=64, width=768, heads=12, num_encoder_layers=8,
                            num_decoder_layers=16, n_samples=32768),
            visual=_visual_fields("facebook/dinov2-with-registers-large", 518),
            dino=dict(DINOV2_REGISTERS_LARGE))
    return GeometryDims(
        seed=7100, init_dtype="float32",
        denoiser=_denoiser_fields(input_channels=8, width=64, layers=1, num_single_layers=1, num_heads=2,
                                  condition_dim=32),
        vae=_vae_fields(num_latents=64, embed_dim=8, width=32, heads=2, num_encoder_layers=1, num_decoder_layers=1,
                        n_samples=4096),
        visual=_visual_fields(TINY_DINO, 56),
        dino={"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "mlp_ratio": 2, "patch_size": 14,
              "image_size": 56, "num_register_tokens": 4, "layerscale_value": 1.0, "layer_norm_eps": 1e-6,
              "hidden_act": "gelu", "qkv_bias": True, "use_swiglu_ffn": False})


def _denoiser_fields(*, input_channels: int, width: int, layers: int, num_single_layers: int, num_heads: int,
                     condition_dim: int) -> dict[str, Any]:
    # Upstream's FluxDenoiser.Config as an image-conditioned model's file holds it: the image condition
    # on, caption and label off, every condition as wide.
    return {"input_channels": input_channels, "width": width, "layers": layers, "num_single_layers": num_single_layers,
            "num_heads": num_heads, "condition_dim": condition_dim, "multi_condition_type": "in_context",
            "use_visual_condition": True, "visual_condition_dim": condition_dim, "n_views": 1,
            "use_caption_condition": False, "caption_condition_dim": condition_dim, "use_label_condition": False,
            "label_condition_dim": condition_dim, "identity_init": False}


def _vae_fields(**sizes: Any) -> dict[str, Any]:
    # Upstream's MichelangeloAutoencoder.Config with the 1300m training config's values.
    fields = {"n_samples": 4096, "use_downsample": True, "downsample_ratio": 0.0625, "num_latents": 256,
              "point_feats": 3, "embed_point_feats": False, "out_dim": 1, "embed_dim": 64, "embed_type": "fourier",
              "num_freqs": 8, "include_pi": False, "width": 768, "heads": 12, "num_encoder_layers": 8,
              "num_decoder_layers": 16, "init_scale": 0.25, "qkv_bias": False, "qk_norm": False, "use_ln_post": True,
              "use_flash": True, "use_checkpoint": False, "use_multi_reso": False, "resolutions": None,
              "sampling_prob": None, "with_sharp_data": True, "volume_decoder_type": "hierarchical",
              "surface_extractor_type": "mc", "z_scale_factor": 1.0, "subfolder": FOLDER}
    fields.update(sizes)
    return fields


def _visual_fields(dino_type: str, image_size: int) -> dict[str, Any]:
    # Upstream's Dinov2Encoder.Config as its save_config writes it (pretrained* dropped, dino_type kept).
    return {"encode_camera": False, "camera_embeds_type": "sincos", "camera_embeds_dim": None, "n_views": 1,
            "empty_embeds_ratio": 0.1, "normalize_embeds": False, "zero_uncond_embeds": True,
            "freeze_modulation_dino": False, "enable_gradient_checkpointing": False, "image_size": image_size,
            "dino_type": dino_type, "kwargs": None}


def _training_encoder(vae_config: Any) -> Any:
    """Upstream's ``PerceiverCrossAttentionEncoder`` and ``pre_kl``, only for their keys and shapes:
    the published VAE file holds them, img23d never runs them."""
    from torch import nn

    width, heads, bias, norm = vae_config.width, vae_config.heads, vae_config.qkv_bias, vae_config.qk_norm
    embedded = FourierEmbedder(vae_config.num_freqs, vae_config.include_pi).out_dim + vae_config.point_feats
    encoder = nn.Module()
    encoder.input_proj = nn.Linear(embedded, width)
    encoder.cross_attn = ResidualCrossAttentionBlock(width, heads, bias, norm)
    if vae_config.with_sharp_data:
        encoder.input_proj_sharp = nn.Linear(embedded, width)
        encoder.cross_attn_sharp = ResidualCrossAttentionBlock(width, heads, bias, norm)
    encoder.self_attn = Perceiver(width, vae_config.num_encoder_layers, heads, bias, norm)
    if vae_config.use_ln_post:
        encoder.ln_post = nn.LayerNorm(width)
    whole = nn.Module()
    whole.encoder = encoder
    whole.pre_kl = nn.Linear(width, 2 * vae_config.embed_dim)
    return whole


def _save(module: Any, path: Path, extra: dict[str, Any] | None = None) -> int:
    from safetensors.torch import save_file

    state = {key: value.detach().float().contiguous() for key, value in module.state_dict().items()}
    state.update(extra or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata={"format": "pt"})
    return sum(value.numel() for value in state.values())


def construct(dims: GeometryDims) -> dict[str, Any]:
    """The three parts as the loader builds them (the VAE's decoder half), for parameter counts."""
    return {"transformer": Step1XDenoiser(DenoiserConfig(**_known(DenoiserConfig, dims.denoiser))),
            "vae": ShapeDecoder(ShapeVAEConfig(**_known(ShapeVAEConfig, dims.vae))),
            "visual_encoder": VisualEncoder(VisualEncoderConfig(**_known(VisualEncoderConfig, dims.visual)), dims.dino,
                                             _clip_vision(dims))}


def _clip_vision(dims: GeometryDims) -> dict[str, Any] | None:
    return dict(dims.clip["vision_config"]) if dims.clip is not None else None


def _known(cls: Any, fields: dict[str, Any]) -> dict[str, Any]:
    names = set(cls.__dataclass_fields__)
    return {key: value for key, value in fields.items() if key in names}


def build(folder: Path, dims: GeometryDims) -> dict[str, Any]:
    """Write the geometry folder ``folder`` (``.../Step1X-3D-Geometry-1300m``); return the manifest entry."""
    prepare_imports()
    from diffusers import FlowMatchEulerDiscreteScheduler

    folder = Path(folder)
    for part, fields in (("transformer", dims.denoiser), ("vae", dims.vae), ("visual_encoder", dims.visual)):
        (folder / part).mkdir(parents=True, exist_ok=True)
        write_json(folder / part / "config.json", fields)
    if dims.visual["dino_type"] == TINY_DINO:
        (folder / TINY_DINO).mkdir(parents=True, exist_ok=True)
        write_json(folder / TINY_DINO / "config.json", {"model_type": "dinov2_with_registers", **dims.dino})
    FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000).save_config(str(folder / "scheduler"))
    (folder / "visual_eature_extractor").mkdir(exist_ok=True)
    write_json(folder / "visual_eature_extractor" / "preprocessor_config.json", {
        "image_processor_type": "BitImageProcessor", "do_resize": True, "size": {"shortest_edge": 256},
        "resample": 3, "do_center_crop": True, "crop_size": {"height": 224, "width": 224}, "do_rescale": True,
        "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": [0.485, 0.456, 0.406],
        "image_std": [0.229, 0.224, 0.225], "do_convert_rgb": True})
    write_json(folder / "model_index.json", {
        "_class_name": "Step1X3DGeometryPipeline", "_diffusers_version": "0.32.2",
        "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
        "transformer": ["step1x3d_geometry.models.transformers.flux_transformer_1d", "FluxDenoiser"],
        "vae": ["step1x3d_geometry.models.autoencoders.michelangelo_autoencoder", "MichelangeloAutoencoder"],
        "visual_encoder": ["step1x3d_geometry.models.conditional_encoders.dinov2_encoder", "Dinov2Encoder"],
        "visual_eature_extractor": ["transformers", "BitImageProcessor"],
        "caption_encoder": [None, None], "label_encoder": [None, None]})
    vae_config = read_config(ShapeVAEConfig, folder / "vae" / "config.json")
    counts = {}
    with default_dtype(dims.init_dtype):
        with seeded(dims.seed):
            denoiser = Step1XDenoiser(read_config(DenoiserConfig, folder / "transformer" / "config.json"))
        counts["transformer"] = _save(denoiser, folder / "transformer" / "diffusion_pytorch_model.safetensors")
        del denoiser
        with seeded(dims.seed + 1):
            vae = ShapeDecoder(vae_config)
            shape_blob(vae.decoder, vae.embedder.frequencies, vae.config.num_freqs)   # as Hunyuan3D-2's replica
            training = _training_encoder(vae_config)
        counts["vae"] = _save(vae, folder / "vae" / "diffusion_pytorch_model.safetensors",
                              {key: value.detach().float().contiguous() for key, value in training.state_dict().items()})
        with seeded(dims.seed + 2):
            visual_config = read_config(VisualEncoderConfig, folder / "visual_encoder" / "config.json")
            visual = VisualEncoder(visual_config, dims.dino, _clip_vision(dims))
        counts["visual_encoder"] = _save(visual, folder / "visual_encoder" / "diffusion_pytorch_model.safetensors")
    return {"folder": FOLDER, "params": counts, "dtype": "float32",
            "note": "random weights keyed as upstream's modules; the VAE's query decoder biased to a blob"}


def build_label(folder: Path, dims: GeometryDims) -> dict[str, Any]:
    """Write the Label folder ``folder`` (``.../Step1X-3D-Geometry-Label-1300m``): the geometry
    folder's parts with ``dims``' label fields, the visual encoder with CLIP, and the label encoder."""
    if dims.clip is None or dims.label is None:
        raise ValueError("a Label replica needs CLIP and label-encoder fields")
    prepare_imports()
    from transformers import CLIPConfig, CLIPModel

    folder = Path(folder)
    entry = build(folder, dims)   # the visual encoder's file is written again below, whole CLIPModel and all
    (folder / STEP1X_LABEL_PART).mkdir(parents=True, exist_ok=True)
    write_json(folder / STEP1X_LABEL_PART / "config.json", dims.label)
    index = folder / "model_index.json"
    classes = json.loads(index.read_text(encoding="utf-8"))
    encoders = "step1x3d_geometry.models.conditional_encoders"
    classes["visual_encoder"] = [f"{encoders}.dinov2_clip_encoder", "Dinov2CLIPEncoder"]
    classes["label_encoder"] = [f"{encoders}.label_encoder", "LabelEncoder"]
    write_json(index, classes)
    visual_config = read_config(VisualEncoderConfig, folder / "visual_encoder" / "config.json")
    with default_dtype(dims.init_dtype):
        with seeded(dims.seed + 3):
            clip_whole = CLIPModel(CLIPConfig(text_config=dims.clip["text_config"],
                                              vision_config=dims.clip["vision_config"],
                                              projection_dim=dims.clip["projection_dim"]))
            visual = VisualEncoder(visual_config, dims.dino, _clip_vision(dims))
            visual.clip_model.vision_model.load_state_dict(clip_whole.vision_model.state_dict())
        unused = {f"clip_model.{key}": value.detach().float().contiguous()
                  for key, value in clip_whole.state_dict().items()
                  if not key.startswith("vision_model.") and not key.endswith("position_ids")}
        entry["params"]["visual_encoder"] = _save(visual, folder / "visual_encoder" / STEP1X_WEIGHTS, unused)
        with seeded(dims.seed + 4):
            label = LabelEncoder(LabelEncoderConfig(**_known(LabelEncoderConfig, dims.label)))
        entry["params"][STEP1X_LABEL_PART] = _save(label, folder / STEP1X_LABEL_PART / STEP1X_WEIGHTS)
    entry["folder"] = LABEL_FOLDER
    return entry
