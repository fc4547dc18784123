"""What a complete download of each real model holds, in miniature: the file names its loader
opens (see ``models/completeness.py``) with a few bytes each, for fake Hugging Face caches."""

from __future__ import annotations

import json

from img23d_backend.models.registry import ModelSpec

WEIGHT_BYTES = b"w" * 64


def _json(data: object) -> bytes:
    return json.dumps(data).encode()


def complete_files(spec: ModelSpec, sharded: bool = False) -> dict[str, bytes]:
    """Every file a complete download of ``spec`` has (``sharded``: weights in two shards)."""
    sub = f"{spec.subfolder}/" if spec.subfolder else ""
    if spec.role == "grounding":
        files = {"config.json": b"{}", "generation_config.json": b"{}", "preprocessor_config.json": b"{}",
                 "video_preprocessor_config.json": b"{}", "tokenizer_config.json": b"{}",
                 "tokenizer.json": b"{}", "vocab.json": b"{}", "merges.txt": b"#", "chat_template.json": b"{}"}
        if sharded:
            shards = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
            weight_map = {"a.weight": shards[0], "b.weight": shards[1]}
            files["model.safetensors.index.json"] = _json({"weight_map": weight_map})
            files.update({shard: WEIGHT_BYTES for shard in shards})
        else:
            files["model.safetensors"] = WEIGHT_BYTES
        return files
    if spec.role == "matting":
        auto_map = {"AutoConfig": "BiRefNet_config.BiRefNetConfig",
                    "AutoModelForImageSegmentation": "birefnet.BiRefNet"}
        return {"config.json": _json({"auto_map": auto_map}), "BiRefNet_config.py": b"#", "birefnet.py": b"#",
                "model.safetensors": WEIGHT_BYTES}
    if spec.role == "depth" and spec.exact_files:  # MoGe-2: its list (model.pt) is every file the loader opens
        return {name: WEIGHT_BYTES for name in spec.allow_patterns}
    if spec.role == "depth":
        return {"config.json": b"{}", "preprocessor_config.json": b"{}", "model.safetensors": WEIGHT_BYTES}
    if spec.role in ("materials", "editor"):  # exact_files: its list is every file the loader opens
        return {name: WEIGHT_BYTES if name.endswith(".safetensors") else b"{}" for name in spec.allow_patterns}
    if spec.role == "shape" and spec.shape_kind is not None and spec.shape_kind.family == "clean":
        # Step1X-3D's geometry folder (step1x.configs.FOLDER_FILES): each part's config and weights;
        # the Label model's has its label encoder besides.
        parts = ("transformer", "vae", "visual_encoder", *(("label_encoder",) if spec.shape_kind.labels else ()))
        return {f"{sub}model_index.json": b"{}", f"{sub}scheduler/scheduler_config.json": b"{}",
                **{f"{sub}{part}/config.json": b"{}" for part in parts},
                **{f"{sub}{part}/diffusion_pytorch_model.safetensors": WEIGHT_BYTES for part in parts}}
    if spec.role == "shape":
        vae = f"{spec.flashvdm_vae}/" if spec.flashvdm_vae else None
        return {f"{sub}config.yaml": b"model: {}", f"{sub}model.fp16.safetensors": WEIGHT_BYTES,
                **({f"{vae}config.yaml": b"params: {}", f"{vae}model.fp16.safetensors": WEIGHT_BYTES} if vae else {})}
    if spec.role == "delight":
        index = {"_class_name": "StableDiffusionInstructPix2PixPipeline", "safety_checker": [None, None],
                 "feature_extractor": [None, None], "scheduler": ["diffusers", "EulerAncestralDiscreteScheduler"],
                 "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
                 "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}
        return {f"{sub}model_index.json": _json(index), f"{sub}scheduler/scheduler_config.json": b"{}",
                f"{sub}text_encoder/config.json": b"{}", f"{sub}text_encoder/model.safetensors": WEIGHT_BYTES,
                f"{sub}tokenizer/vocab.json": b"{}", f"{sub}tokenizer/merges.txt": b"#",
                f"{sub}unet/config.json": b"{}", f"{sub}unet/diffusion_pytorch_model.safetensors": WEIGHT_BYTES,
                f"{sub}vae/config.json": b"{}", f"{sub}vae/diffusion_pytorch_model.safetensors": WEIGHT_BYTES}
    if spec.role == "paint":
        index = {"_class_name": "HunyuanPaintPipeline", "scheduler": ["diffusers", "DDIMScheduler"],
                 "unet": ["modules", "UNet2p5DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}
        # The turbo folder has its VAE only as a pickle (registry: PAINT_TURBO_WEIGHTS).
        vae = "diffusion_pytorch_model.bin" if spec.paint_kind is not None and spec.paint_kind.turbo \
            else "diffusion_pytorch_model.safetensors"
        return {f"{sub}model_index.json": _json(index), f"{sub}scheduler/scheduler_config.json": b"{}",
                f"{sub}unet/config.json": b"{}", f"{sub}unet/diffusion_pytorch_model.safetensors": WEIGHT_BYTES,
                f"{sub}vae/config.json": b"{}", f"{sub}vae/{vae}": WEIGHT_BYTES}
    raise ValueError(f"no file list for role {spec.role!r}")


def weight_files(files: dict[str, bytes]) -> list[str]:
    """The weights among ``files``: what arrives last, and what an interrupted download lacks."""
    return sorted(name for name in files if name.endswith((".safetensors", ".bin")))


def without_weights(files: dict[str, bytes]) -> dict[str, bytes]:
    weights = set(weight_files(files))
    return {name: data for name, data in files.items() if name not in weights}
