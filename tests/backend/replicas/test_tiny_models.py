"""Tests for the tiny replicas (img23d_backend.replicas): the offline replicas load with the production calls and behave.

One build per session (a few seconds); every loader is called exactly as production calls it
on the real weights, with the hub switched off.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "backend"))
os.environ["HF_HUB_OFFLINE"] = "1"

from img23d_backend.env.torch_shims import prepare_torchvision  # noqa: E402

prepare_torchvision()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors import safe_open  # noqa: E402

from img23d_backend.families.family import FamilyReplicas  # noqa: E402
from img23d_backend.families.table import FAMILIES  # noqa: E402
from img23d_backend.replicas import build as tiny_models  # noqa: E402
from img23d_backend.models.registry import TINY_FORMAT  # noqa: E402
from img23d_backend.replicas.build import build_tiny_models, ensure_tiny_models  # noqa: E402
from img23d_backend.grounding.qwen3_vl.replica_answer import ANSWER  # noqa: E402

SHAPE_CKPT = Path("hunyuan3d") / "hunyuan3d-dit-v2-mini" / "model.fp16.safetensors"
DELIGHT = Path("hunyuan3d-paint") / "hunyuan3d-delight-v2-0"
MULTIVIEW = Path("hunyuan3d-paint") / "hunyuan3d-paint-v2-0"
TURBO = Path("hunyuan3d-paint") / "hunyuan3d-paint-v2-0-turbo"
PAINT_UNET_BIN = MULTIVIEW / "unet" / "diffusion_pytorch_model.bin"
SAFETENSORS = [Path("qwen3-vl") / "model.safetensors", Path("birefnet") / "model.safetensors", SHAPE_CKPT,
               DELIGHT / "unet" / "diffusion_pytorch_model.safetensors",
               MULTIVIEW / "vae" / "diffusion_pytorch_model.safetensors", Path("depth-anything") / "model.safetensors"]


@pytest.fixture(scope="session")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_models(tmp_path_factory.mktemp("tiny") / f"v{TINY_FORMAT}")


@pytest.fixture(scope="session")
def qwen(root: Path):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    path = root / "qwen3-vl"
    processor = AutoProcessor.from_pretrained(path)
    model = AutoModelForImageTextToText.from_pretrained(path, dtype=torch.float32)
    return processor, model


@pytest.fixture(scope="session")
def shape_pipe(root: Path):
    from hy3dgen.shapegen.pipelines import Hunyuan3DDiTFlowMatchingPipeline

    return Hunyuan3DDiTFlowMatchingPipeline.from_pretrained(
        str(root / "hunyuan3d"),
        subfolder="hunyuan3d-dit-v2-mini",
        device="cpu",
        dtype=torch.float32,
        use_safetensors=True,
        variant="fp16",
    )


def _photo(seed: int, size: tuple[int, int]) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def _cutout(seed: int) -> Image.Image:
    """An RGBA object on a transparent background, like the matting stage's output."""
    rng = np.random.default_rng(seed)
    pixels = np.zeros((256, 256, 4), dtype=np.uint8)
    x0, y0 = rng.integers(10, 100, 2)
    pixels[y0 : y0 + 120, x0 : x0 + 100, :3] = rng.integers(0, 256, 3)
    pixels[y0 : y0 + 120, x0 : x0 + 100, 3] = 255
    return Image.fromarray(pixels, "RGBA")


def _ground(processor, model, messages, **kwargs) -> list[str]:
    """The production grounding flow: chat template -> generate -> decode the new tokens."""
    inputs = processor.apply_chat_template(
        messages, tokenize=True, add_generation_prompt=True, return_dict=True, return_tensors="pt", **kwargs
    )
    out = model.generate(**inputs, max_new_tokens=64, do_sample=False)
    return processor.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)


def _user(image: Image.Image, prompt: str) -> list[dict]:
    content = [{"type": "image", "image": image}, {"type": "text", "text": prompt}]
    return [{"role": "user", "content": content}]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------ manifest / API


def test_manifest_records_versions_and_fixed_answer(root: Path) -> None:
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["format"] == TINY_FORMAT
    assert manifest["transformers"] and manifest["hy3dgen"]
    assert set(manifest["models"]) == {"qwen3-vl", "birefnet", "birefnet-hr", "hunyuan3d", "hunyuan3d-mv", "hunyuan3d-paint",
                                       "depth-anything", "moge-2-vits-normal",
                                       "marigold-iid-appearance", "flux2-klein-4b", "qwen-image-edit-2511", "step1x-3d",
                                       "step1x-3d label", "step1x-texture", "autopartgen"}
    assert set(manifest["models"]) == set(tiny_models.replica_folders())  # what ensure_tiny_models looks for
    assert manifest["models"]["hunyuan3d-paint"]["subfolders"] == [DELIGHT.name, TURBO.name, MULTIVIEW.name]
    grounding = manifest["models"]["qwen3-vl"]
    assert grounding["grounding"] == "fixed-answer"
    assert grounding["answer"] == ANSWER


def test_ensure_does_not_rebuild_when_manifest_exists(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(_root: Path) -> Path:
        raise AssertionError("rebuilt although manifest.json exists")

    monkeypatch.setattr(tiny_models, "build_tiny_models", refuse)
    assert ensure_tiny_models(root) == root


def test_ensure_checks_only_the_families_a_job_names(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Checking a family's replicas imports its builders: a clean job's check must not ask Hunyuan3D-2's.
    def refuse() -> FamilyReplicas:
        raise AssertionError("the check asked a family the job does not use for its replicas")

    monkeypatch.setattr(tiny_models, "FAMILIES", {**FAMILIES, "hunyuan3d": dataclasses.replace(
        FAMILIES["hunyuan3d"], replicas=refuse)})
    monkeypatch.setattr(tiny_models, "build_tiny_models", lambda _root: pytest.fail("rebuilt a complete set"))
    assert ensure_tiny_models(root, families=("clean",)) == root
    with pytest.raises(AssertionError, match="does not use"):
        ensure_tiny_models(root)  # every family's, as the replica command checks


def test_build_is_deterministic(root: Path, tmp_path: Path) -> None:
    again = build_tiny_models(tmp_path / "again")
    for rel in SAFETENSORS + [PAINT_UNET_BIN]:
        assert _sha256(root / rel) == _sha256(again / rel), rel


# ------------------------------------------------------------------------------ Qwen3-VL


def test_qwen_loads_as_real_classes(qwen) -> None:
    from transformers import Qwen3VLForConditionalGeneration, Qwen3VLProcessor

    processor, model = qwen
    assert isinstance(processor, Qwen3VLProcessor)
    assert type(processor.tokenizer).__name__ == "Qwen2TokenizerFast"
    assert isinstance(model, Qwen3VLForConditionalGeneration)
    assert model.dtype == torch.float32


def test_qwen_image_processor_caps_pixels(qwen) -> None:
    processor, _ = qwen
    inputs = processor.apply_chat_template(
        _user(_photo(0, (1024, 1024)), "x"), tokenize=True, add_generation_prompt=True,
        return_dict=True, return_tensors="pt",
    )
    # 1024x1024 -> 256x256 pixels -> 16x16 patches of 16 px.
    assert inputs["image_grid_thw"].tolist() == [[1, 16, 16]]


@pytest.mark.parametrize("image_seed,size", [(1, (1024, 1024)), (2, (640, 480))])
@pytest.mark.parametrize("prompt", ["Detect every object and answer with JSON boxes.", "Where is the house?"])
def test_grounding_answers_fixed_string(qwen, image_seed: int, size: tuple[int, int], prompt: str) -> None:
    processor, model = qwen
    assert _ground(processor, model, _user(_photo(image_seed, size), prompt)) == [ANSWER]


def test_qwen_batch_of_two_with_left_padding(qwen) -> None:
    processor, model = qwen
    batch = [_user(_photo(1, (1024, 1024)), "Find all objects."), _user(_photo(2, (640, 480)), "Where?")]
    side = processor.tokenizer.padding_side
    processor.tokenizer.padding_side = "left"  # batched generation needs left padding
    try:
        answers = _ground(processor, model, batch, padding=True)
    finally:
        processor.tokenizer.padding_side = side
    assert answers == [ANSWER, ANSWER]


def test_fixed_answer_has_parseable_fenced_json() -> None:
    block = re.search(r"```json\n(.*?)```", ANSWER, re.S)
    assert block is not None
    objects = json.loads(block.group(1))
    assert len(objects) == 11
    boxes = [o["bbox_2d"] for o in objects]
    assert all(len(b) == 4 and 0 <= min(b) <= max(b) <= 1000 for b in boxes)


# ------------------------------------------------------------------------------ BiRefNet


@pytest.fixture(scope="session")
def birefnet(root: Path):
    from transformers import AutoModelForImageSegmentation

    model = AutoModelForImageSegmentation.from_pretrained(
        root / "birefnet", trust_remote_code=True, revision="0123456789abcdef0123456789abcdef01234567"
    )
    model.eval()
    return model


def _imagenet_batch(batch: int) -> torch.Tensor:
    x = torch.rand(batch, 3, 1024, 1024, generator=torch.Generator().manual_seed(0))
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    return (x - mean) / std


def test_birefnet_final_logits_shape(birefnet) -> None:
    with torch.no_grad():
        preds = birefnet(_imagenet_batch(2))
    assert isinstance(preds, list)
    assert preds[-1].shape == (2, 1, 1024, 1024)
    assert preds[-1].dtype == torch.float32
    mask = preds[-1].sigmoid() > 0.5
    assert mask.any() and not mask.all()  # a usable, non-trivial cut-out


def test_birefnet_half(root: Path) -> None:
    from transformers import AutoModelForImageSegmentation

    model = AutoModelForImageSegmentation.from_pretrained(root / "birefnet", trust_remote_code=True)
    model = model.eval().half()
    try:
        with torch.no_grad():
            preds = model(_imagenet_batch(1).half())
    except RuntimeError as exc:  # some CPU builds lack fp16 convolutions
        pytest.skip(f"fp16 conv unsupported on this CPU build: {exc}")
    assert preds[-1].shape == (1, 1, 1024, 1024) and preds[-1].dtype == torch.float16


# ------------------------------------------------------------------------------ Hunyuan3D


def test_shape_checkpoint_is_fp16_with_component_prefixes(root: Path) -> None:
    with safe_open(str(root / SHAPE_CKPT), "pt") as f:
        keys = list(f.keys())
        assert {k.split(".", 1)[0] for k in keys} == {"model", "vae", "conditioner"}
        assert all(f.get_tensor(k).dtype == torch.float16 for k in keys)


def test_conditioner_keys_use_transformers_4_dinov2_names(root: Path) -> None:
    with safe_open(str(root / SHAPE_CKPT), "pt") as f:
        keys = set(f.keys())
    assert "conditioner.main_image_encoder.model.encoder.layer.0.attention.attention.query.weight" in keys


def test_shape_config_mirrors_real_structure(root: Path) -> None:
    config = yaml.safe_load((root / "hunyuan3d" / "hunyuan3d-dit-v2-mini" / "config.yaml").read_text())
    assert config["model"]["target"] == "hy3dgen.shapegen.models.Hunyuan3DDiT"
    assert config["vae"]["target"] == "hy3dgen.shapegen.models.ShapeVAE"
    assert config["conditioner"]["target"] == "hy3dgen.shapegen.models.SingleImageEncoder"
    assert config["scheduler"]["target"] == "hy3dgen.shapegen.schedulers.FlowMatchEulerDiscreteScheduler"
    assert config["image_processor"]["target"] == "hy3dgen.shapegen.preprocessors.ImageProcessorV2"
    dit, vae = config["model"]["params"], config["vae"]["params"]
    encoder = config["conditioner"]["params"]["main_image_encoder"]
    assert encoder["type"] == "DinoImageEncoder"
    assert dit["in_channels"] == vae["embed_dim"]
    assert dit["context_in_dim"] == encoder["kwargs"]["config"]["hidden_size"]
    assert sum(dit["axes_dim"]) == dit["hidden_size"] // dit["num_heads"]
    assert encoder["kwargs"]["image_size"] % 14 == 0


def test_shape_pipeline_two_images(shape_pipe) -> None:
    import trimesh

    meshes = shape_pipe(
        image=[_cutout(0), _cutout(1)], num_inference_steps=3, octree_resolution=32, guidance_scale=5.0,
        generator=torch.manual_seed(0), output_type="trimesh", mc_algo="mc",
    )
    assert len(meshes) == 2
    built = [m for m in meshes if isinstance(m, trimesh.Trimesh) and len(m.faces) > 0]
    assert built
    assert all(m.is_watertight for m in built)  # the shaped occupancy gives a closed blob


def test_shape_pipeline_single_image(shape_pipe) -> None:
    meshes = shape_pipe(
        image=_cutout(2), num_inference_steps=3, octree_resolution=32, guidance_scale=5.0,
        generator=torch.manual_seed(1), output_type="trimesh", mc_algo="mc",
    )
    assert len(meshes) == 1 and meshes[0] is not None and len(meshes[0].faces) > 0


# ------------------------------------------------------------------------------ Hunyuan3D-2 paint


def test_paint_replica_is_small(root: Path) -> None:
    size = sum(f.stat().st_size for f in (root / "hunyuan3d-paint").rglob("*") if f.is_file())
    # Each multiview UNet twice (.bin and .safetensors), the 2.0 VAE twice, as in the real folders.
    assert size < 48 << 20


def test_multiview_layout_is_what_hy3dgen_reads(root: Path) -> None:
    from hy3dgen.texgen.hunyuanpaint.unet.modules import UNet2p5DConditionModel

    index = json.loads((root / MULTIVIEW / "model_index.json").read_text())
    assert index["_class_name"] == "HunyuanPaintPipeline"
    assert index["unet"] == ["modules", "UNet2p5DConditionModel"]
    assert (root / MULTIVIEW / "unet" / "modules.py").is_file()
    state = torch.load(root / PAINT_UNET_BIN, map_location="cpu", weights_only=True)
    assert state["unet.learned_text_clip_gen"].shape == state["unet.learned_text_clip_ref"].shape == (1, 77, 1024)
    assert state["unet.class_embedding.weight"].shape[1] == 1280
    assert state["unet.conv_in.weight"].shape[1] == 12
    assert any(k.startswith("unet_dual.") for k in state)
    unet = UNet2p5DConditionModel.from_pretrained(str(root / MULTIVIEW / "unet"), torch_dtype=torch.float32)
    assert unet.unet.config.in_channels == 4 and unet.unet.config.cross_attention_dim == 1024


def test_multiview_loads_the_way_hy3dgen_loads_it(root: Path) -> None:
    """hy3dgen's own call (custom pipeline folder + the snapshot's unet/modules.py) also works."""
    import hy3dgen.texgen.hunyuanpaint as hunyuanpaint
    from diffusers import DiffusionPipeline

    pipe = DiffusionPipeline.from_pretrained(str(root / MULTIVIEW),
                                             custom_pipeline=os.path.dirname(hunyuanpaint.__file__),
                                             torch_dtype=torch.float32, trust_remote_code=True)
    assert type(pipe).__name__ == "HunyuanPaintPipeline"
    assert type(pipe.unet).__name__ == "UNet2p5DConditionModel"
    assert pipe.text_encoder is not None and pipe.tokenizer("a cat").input_ids[0] == pipe.tokenizer.bos_token_id


def test_delight_is_an_instruct_pix2pix_folder(root: Path) -> None:
    from diffusers import StableDiffusionInstructPix2PixPipeline

    pipe = StableDiffusionInstructPix2PixPipeline.from_pretrained(str(root / DELIGHT), torch_dtype=torch.float32,
                                                                  safety_checker=None)
    assert pipe.unet.config.in_channels == 8 and pipe.vae.config.latent_channels == 4
    assert pipe.vae_scale_factor == 8  # like the real VAE
    image = pipe(prompt="", image=_photo(3, (64, 64)), num_inference_steps=2, image_guidance_scale=1.5,
                 guidance_scale=1.0, generator=torch.manual_seed(0)).images[0]
    assert image.size == (64, 64)


def test_paint_replica_loads_through_production_loaders(root: Path) -> None:
    from img23d_backend.models.hub import resolve_model_dir
    from img23d_backend.catalog import tiny_model_set
    from img23d_backend.families.hunyuan3d.paint_models import Delighter, MultiviewDiffusion, delight_loader
    from img23d_backend.families.hunyuan3d.turbo import TurboMultiview, paint_loader

    models = tiny_model_set(root)
    for spec, loader, kind in ((models.delight, delight_loader, Delighter),
                               (models.paint, paint_loader, TurboMultiview),
                               (tiny_model_set(root, paint="2.0").paint, paint_loader, MultiviewDiffusion)):
        folder = resolve_model_dir(spec)  # also checks the folder is complete
        loaded = loader(spec)(folder, torch.device("cpu"))
        assert isinstance(loaded.obj, kind) and loaded.obj.pipeline.unet.dtype == torch.float32


def test_a_replica_folder_missing_a_model_or_of_another_format_is_rebuilt(tmp_path: Path, monkeypatch) -> None:
    # Another checkout's code may have made a folder of the same name (the cache is shared).
    built: list[Path] = []
    monkeypatch.setattr(tiny_models, "build_tiny_models", lambda root: built.append(root) or root)
    everything = {name: {} for name in tiny_models.replica_folders()}
    cases = {"complete": {"format": TINY_FORMAT, "models": everything},
             "no depth": {"format": TINY_FORMAT, "models": {k: {} for k in everything if k != "depth-anything"}},
             "older": {"format": TINY_FORMAT - 1, "models": everything}, "broken": None}
    for name, manifest in cases.items():
        (tmp_path / name).mkdir()
        if manifest is not None:
            (tmp_path / name / "manifest.json").write_text(json.dumps(manifest))
        else:
            (tmp_path / name / "manifest.json").write_text("{not json")
        tiny_models.ensure_tiny_models(tmp_path / name)
    assert [p.name for p in built] == ["no depth", "older", "broken"]
