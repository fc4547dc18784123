"""The full-size replicas' configs (``config("full")`` of each replica module) build the published sizes.

Every model is constructed on the meta device (no weights are made, nothing is written), so a
broken config is caught in seconds; the multi-GB builds themselves are not part of the suite.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from img23d_protocol import ProtocolError
from img23d_backend.catalog import GROUNDING
from img23d_backend.families.hunyuan3d.specs import DELIGHT_SUBFOLDER, PAINT_SUBFOLDER, PAINT_TURBO_SUBFOLDER
from img23d_backend.families.step1x.texture_folders import CLEAN_PAINT
from img23d_backend.families.hunyuan3d import mv_replica
from img23d_backend.families.hunyuan3d import shape_replica as hunyuan_shape
from img23d_backend.replicas import full as fsm
from img23d_backend.grounding.qwen3_vl import replica as grounding_replica
from img23d_backend.grounding.qwen3_vl.replica_answer import answer_pieces

# (part, low, high) in parameters: the published sizes (see each replica module's FULL).
EXPECTED = {
    "grounding": [("model", 2.05e9, 2.2e9)],           # Qwen3-VL-2B: 1.72B text + 0.41B vision
    "matting": [("model", 2.1e8, 2.3e8)],              # BiRefNet (Swin-L): 215M-220M
    # Marigold-IID-Appearance v1.1: SD-2's UNet (865.9M, conv_in 12 and conv_out 8 channels: +35K),
    # VAE (83.7M) and OpenCLIP-H text encoder (340.4M); within 0.1% of materials/marigold/model.py's figures.
    "materials": [("unet", 8.65e8, 8.67e8), ("vae", 8.36e7, 8.37e7), ("text_encoder", 3.40e8, 3.41e8)],
    # FLUX.2 [klein] 4B: the published files' sizes at 2 bytes a parameter, less their headers
    # (7,751,109,744 B, 168,120,878 B and 8,044,982,992 B in two shards: editors/flux2_klein/model.py).
    "editor": [("transformer", 3.8755e9, 3.8756e9), ("vae", 8.404e7, 8.406e7), ("text_encoder", 4.0224e9, 4.0225e9)],
    # Qwen-Image-Edit-2511: the published files' sizes at 2 bytes a parameter, less at most their headers
    # (40,861,028,288 B in five shards, 16,584,414,544 B in four, 253,806,966 B: editors/qwen_edit/model.py).
    "qwen-editor": [("transformer", 20.4303e9, 20.430515e9), ("text_encoder", 8.2921e9, 8.292208e9),
                    ("vae", 1.2688e8, 1.26904e8)],
    "shape": [("model", 5.4e8, 6.2e8),                 # hunyuan3d-dit-v2-mini: "0.6B"
              ("conditioner", 1.1e9, 1.17e9),          # DINOv2-giant: 1.14B
              ("vae", 1.9e8, 2.4e8)],                  # ShapeVAE decoder, width 1024, 16 layers
    # Hunyuan3D-2mv turbo: the 2.0-sized DiT ("1.1B") with its guidance embedding, the same VAE and DINOv2-giant.
    "shape-views": [("model", 1.11e9, 1.12e9), ("conditioner", 1.1e9, 1.17e9), ("vae", 1.9e8, 2.4e8)],
    "delight": [("unet", 8.6e8, 8.7e8),                # SD-2.x UNet: 865.9M
                ("vae", 8.3e7, 8.4e7),                 # SD VAE: 83.7M
                ("text_encoder", 3.3e8, 3.5e8)],       # OpenCLIP-H text, 23 layers
    "paint": [("unet", 1.75e9, 1.9e9),                 # two SD-2.x UNets + multiview/reference attention
              ("vae", 8.3e7, 8.4e7)],
    "paint-turbo": [("unet", 1.75e9, 1.9e9),           # the same architecture, distilled weights
                    ("vae", 8.3e7, 8.4e7)],
    # Step1X-3D's training config's table: FluxDenoiser 1.3B, the whole autoencoder 191M (the
    # decoder half loaded: post_kl, 16 blocks of width 768, the query decoder), DINOv2-large 304M.
    "step1x": [("transformer", 1.28e9, 1.35e9), ("vae", 1.1e8, 1.3e8), ("visual_encoder", 3.0e8, 3.1e8)],
    # SDXL base 1.0's UNet (2.567B) with the adapter's multiview and reference processors (0.82B), its
    # condition encoder (a T2I-Adapter over six channels, 81M), CLIP ViT-L (123M) and OpenCLIP bigG's
    # text encoders (695M), the SDXL VAE (83.7M).
    "step1x-texture": [("unet", 3.35e9, 3.42e9), ("condition_encoder", 7.5e7, 8.5e7),
                       ("text_encoder", 1.22e8, 1.24e8), ("text_encoder_2", 6.9e8, 7.0e8), ("vae", 8.3e7, 8.4e7)],
    # AutoPartGen publishes no parameter count: its DiT is TripoSG's 1.5B design (width 2048, 21 blocks) with
    # ten part cross-attentions and a wider image projection beside it; its VAE is TripoSG's (~0.24B).
    "parts": [("dit", 1.5e9, 1.65e9), ("vae", 2.3e8, 2.5e8)],
    # SkinTokens publishes no count: its checkpoint is 1.1 GB in bf16 (the skin VAE's unused encoder in it); the
    # parts inference builds are 543,938,689 (rigging/skintokens/costs.py's benchmark, of config.FULL).
    "rigging": [("model", 5.43e8, 5.45e8)],
}


@pytest.mark.parametrize("name", fsm.COMPONENTS)
def test_parameter_counts_match_the_published_sizes(name: str) -> None:
    counts = fsm.parameter_counts(name)
    for part, low, high in EXPECTED[name]:
        assert low <= counts[part] <= high, f"{name}.{part}: {counts[part] / 1e6:.1f}M parameters"


def test_shape_config_is_consistent() -> None:
    config = hunyuan_shape.hunyuan_config(hunyuan_shape.config("full"))
    dit, vae = config["model"]["params"], config["vae"]["params"]
    dino = config["conditioner"]["params"]["main_image_encoder"]["kwargs"]["config"]
    assert dit["in_channels"] == vae["embed_dim"]
    assert dit["context_in_dim"] == dino["hidden_size"]
    assert sum(dit["axes_dim"]) == dit["hidden_size"] // dit["num_heads"]
    assert (dit["depth"], dit["depth_single_blocks"], vae["num_latents"]) == (8, 16, 512)


def test_qwen_config_has_the_2b_sizes() -> None:
    config, _ = grounding_replica.qwen_config(grounding_replica.FULL, grounding_replica.tokenizer(grounding_replica.FULL))
    text, vision = config.text_config, config.vision_config
    assert (text.vocab_size, text.hidden_size, text.num_hidden_layers, text.intermediate_size) == (
        151936, 2048, 28, 6144)
    assert (text.num_attention_heads, text.num_key_value_heads, text.head_dim) == (16, 8, 128)
    assert sum(text.rope_scaling["mrope_section"]) == text.head_dim // 2
    assert (vision.depth, vision.hidden_size, vision.out_hidden_size) == (24, 1024, text.hidden_size)
    assert max(vision.deepstack_visual_indexes) < vision.depth


def test_the_full_size_grounding_replica_has_room_for_its_answer() -> None:
    # The wiring gives every answer token (and the trigger) its own embedding direction and
    # last-layer lookup unit; test_replica_answer proves it on a tiny tied model.
    tokens = len(answer_pieces(grounding_replica.FULL.answer_chars)) + 2
    assert tokens <= min(grounding_replica.FULL.hidden, grounding_replica.FULL.intermediate)
    assert grounding_replica.FULL.tied_embeddings


def test_model_set_points_at_the_replica_folders(tmp_path: Path) -> None:
    models = fsm.full_size_model_set(tmp_path)
    assert models.grounding.local_path == tmp_path / "qwen3-vl"
    assert models.matting.trust_remote_code and models.matting.revision
    assert models.shape.subfolder == "hunyuan3d-dit-v2-mini-turbo"  # the default preset's model
    # The default paint model is turbo; the 2.0 model is its own component.
    assert (models.delight.subfolder, models.paint.subfolder) == (DELIGHT_SUBFOLDER, PAINT_TURBO_SUBFOLDER)
    assert fsm.full_size_model_set(tmp_path, paint="2.0").paint.subfolder == PAINT_SUBFOLDER
    assert models.paint.options == {"view_size": 512}  # the real model's, without the real file's digest
    assert models.paint.paint_kind is not None and models.paint.paint_kind.turbo
    assert models.grounding.size_bytes > 4 << 30
    # The replica answers by itself: no option tells the jobs it is a replica.
    assert models.grounding.options == GROUNDING["2b"].options
    for name in fsm.COMPONENTS:
        spec = fsm.component_spec(tmp_path, name)
        if name == "step1x-texture":  # three repositories' folders side by side: the target holds them all
            assert [Path(part.local_path).parent for part in spec.parts] == [tmp_path / fsm.TARGETS[name]] * 3
            assert spec.options == {"view_size": 768} and spec.size_bytes == CLEAN_PAINT.size_bytes
            continue
        assert tmp_path / fsm.TARGETS[name] == Path(spec.local_path) / (spec.subfolder or "")
    assert fsm.TARGETS["paint-turbo"].name == PAINT_TURBO_SUBFOLDER and fsm.TARGETS["paint"].name == PAINT_SUBFOLDER


def test_unknown_model_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown model"):
        fsm.build_full_size_models(tmp_path, only=["grounding", "nope"])
    assert not (tmp_path / "manifest.json").exists()
    with pytest.raises(ValueError, match=r"unknown model\(s\) nope; choose from grounding, matting"):
        fsm.component_spec(tmp_path, "nope")
    with pytest.raises(ProtocolError, match="unknown paint model 'nope'; choose from"):
        fsm.full_size_model_set(tmp_path, paint="nope")


def test_two_components_of_one_name_are_refused() -> None:
    # The shared models' and every family's components are gathered by name (``--only`` picks by it).
    grounding, matting = fsm.SHARED[:2]
    with pytest.raises(ValueError, match="two full-size components are named 'grounding'"):
        fsm.components_by_name([grounding, matting, replace(matting, name="grounding")])


def test_the_turbo_replica_embeds_the_guidance_and_loads_through_the_production_loader(tmp_path: Path) -> None:
    # The full size builds FULL_TURBO; the same switch at tiny sizes proves the folder it writes
    # is what the production loader and the default preset's 5 steps run, with no CFG batch.
    import torch
    from PIL import Image

    from img23d_backend.models.registry import ModelSpec
    from img23d_backend.catalog import SHAPE
    from img23d_backend.env.job_control import CancelToken
    from img23d_backend.families.hunyuan3d.shape import ShapeSettings, generate_shapes, shape_loader
    from img23d_backend.env.torch_shims import prepare_torchvision
    from testdata import SUBJECT

    assert hunyuan_shape.FULL_TURBO.turbo and not hunyuan_shape.FULL.turbo
    assert fsm.full_size_model_set(tmp_path).shape.subfolder == SHAPE["2mini-turbo"].subfolder
    subfolder = SHAPE["2mini-turbo"].subfolder
    hunyuan_shape.build(tmp_path / "hunyuan3d" / subfolder, replace(hunyuan_shape.TINY, turbo=True))
    spec = ModelSpec(role="shape", repo_id="tiny/turbo", local_path=tmp_path / "hunyuan3d", subfolder=subfolder,
                     size_bytes=1 << 20)
    prepare_torchvision()
    pipe = shape_loader(spec)(spec.local_path, torch.device("cpu")).obj
    assert pipe.model.guidance_embed is True
    assert type(pipe.scheduler).__name__ == "ConsistencyFlowMatchEulerDiscreteScheduler"
    batches: list[int] = []
    forward = pipe.model.forward
    pipe.model.forward = lambda x, *args, **kwargs: batches.append(x.shape[0]) or forward(x, *args, **kwargs)
    settings = ShapeSettings(steps=5, octree_resolution=32, guidance_scale=5.0, batch_size=1)
    meshes = generate_shapes(pipe, [Image.open(SUBJECT).convert("RGBA")], [0], settings, cancel=CancelToken(),
                             progress=lambda *args: None)
    assert batches == [1] * 5  # one image, five steps, no unconditional copy beside it
    assert meshes[0] is not None and len(meshes[0].faces) > 0


def test_the_shape_component_builds_its_flashvdm_vae_beside_it(tmp_path: Path, monkeypatch) -> None:
    # The full-size build's layout at tiny sizes: the production loader finds both folders.
    from img23d_backend.families.hunyuan3d.shape import shape_loader
    from img23d_backend.env.torch_shims import prepare_torchvision

    prepare_torchvision()
    monkeypatch.setattr(hunyuan_shape, "FULL_TURBO", replace(hunyuan_shape.TINY, turbo=True))
    monkeypatch.setattr(hunyuan_shape, "FULL", hunyuan_shape.TINY)
    fsm.build_full_size_models(tmp_path, only=["shape"])
    spec = fsm.full_size_model_set(tmp_path).shape
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["models"]["shape"]["flashvdm_vae"]["path"] == f"hunyuan3d/{spec.flashvdm_vae}"
    pipe = shape_loader(spec)(spec.local_path, torch.device("cpu")).obj
    assert pipe.flashvdm_vae is not None


# The published files' sizes (families/hunyuan3d/mv_specs.py): hunyuan3d-dit-v2-mv/model.fp16.safetensors at the
# pinned revision, and hunyuan3d-dit-v2-mv-fast's, which embeds the guidance as the turbo model does.
MV_FILE_BYTES = {"mv": 4_928_151_562, "mv-fast": 4_930_777_530}
SAFETENSORS_HEADER_MAX = 400_000  # the JSON header of ~1,400 tensors' names, dtypes and offsets


@pytest.mark.parametrize("variant", sorted(MV_FILE_BYTES))
def test_the_2mv_replica_has_the_published_files_size_in_float16(variant: str) -> None:
    with torch.device("meta"):
        parts = mv_replica.construct(mv_replica.FULL, variant)
    weights = 2 * sum(p.numel() for part in parts.values() for p in part.state_dict().values())
    # Each part's every tensor in float16, plus the file's header: the architecture is the published one
    # (the base model without the guidance embedding, the -fast one with it).
    assert 0 < MV_FILE_BYTES[variant] - weights < SAFETENSORS_HEADER_MAX, (variant, MV_FILE_BYTES[variant] - weights)
