"""The material model (Marigold-IID-Appearance v1.1) as a model like the others: pinned in the registry
with its licence, its tiny replica in the real folder's layout loaded through the model manager and
run on painted views, its full-size configuration at the published sizes, and one sentence when it
cannot be loaded or run."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open

from damaged_replicas import linked_copy, rewrite
from img23d_backend.env.job_control import CancelToken
from img23d_backend.env.torch_shims import prepare_torchvision
from img23d_backend.models.manager import ModelManager
from img23d_backend.materials.memory import materials_need, views_at_once
from img23d_backend.models.preflight import RESERVE_BYTES, Room
from img23d_protocol import ErrorCode, ProtocolError
from img23d_backend.materials.table import MATERIAL_ROWS
from img23d_backend.catalog import DEFAULT_MATERIALS, MATERIALS, model_set, tiny_model_set
from img23d_backend.materials.marigold import replica
from img23d_backend.materials.costs import materials_seconds
from img23d_backend.materials.driver import material_maps, materials_loader, processing_side
from img23d_backend.materials.marigold.pipeline import estimate_materials, find_channel, load_materials
from img23d_backend.stages.skips import MaterialsUnavailable

# The pinned repository's inventory, as public code that downloads this commit and checks each weights
# file's sha256 lists it (materials/marigold/model.py names it): configs, tokenizer, the fp16 weights.
REAL_FILES = {"model_index.json", "scheduler/scheduler_config.json", "text_encoder/config.json",
              "text_encoder/model.fp16.safetensors", "tokenizer/merges.txt", "tokenizer/special_tokens_map.json",
              "tokenizer/tokenizer_config.json", "tokenizer/vocab.json", "unet/config.json",
              "unet/diffusion_pytorch_model.fp16.safetensors", "vae/config.json",
              "vae/diffusion_pytorch_model.fp16.safetensors"}
# The float32 originals the repository holds beside them (not fetched; the tiny replica has both).
ORIGINALS = {"text_encoder/model.safetensors", "unet/diffusion_pytorch_model.safetensors",
             "vae/diffusion_pytorch_model.safetensors"}
SIZES = [(40, 48), (40, 48)]  # two painted views of one object: the same size, as a bake's views are


def _views() -> list[Image.Image]:
    rng = np.random.default_rng(7)
    noise = Image.fromarray(rng.integers(0, 256, (48, 40, 3), dtype=np.uint8), "RGB")
    return [noise, Image.new("RGB", (40, 48), (180, 40, 30))]


def _manager(spec) -> ModelManager:  # noqa: ANN001 - a ModelSpec
    manager = ModelManager(torch.device("cpu"))
    manager.register(spec, materials_loader(spec))
    return manager


def _copy(tiny_root: Path, tmp_path: Path) -> Path:
    return linked_copy(tiny_root, tmp_path, "marigold-iid-appearance")


# --- the registry ---------------------------------------------------------------------------------

def test_the_real_model_is_pinned_with_exactly_the_files_the_loader_reads() -> None:
    spec = MATERIALS[DEFAULT_MATERIALS]
    assert spec.repo_id == "prs-eth/marigold-iid-appearance-v1-1"
    assert spec.revision == "e7280a0a0fc5a0df0b36050882b3d8b77da22fd9"
    assert set(spec.allow_patterns) == REAL_FILES and spec.exact_files and not spec.trust_remote_code
    assert 2.5e9 < spec.size_bytes < 2.7e9  # float16: "about 2.5 GB"
    assert spec.family is None  # every family shares it: it runs on views, not on a family's models
    assert model_set("default").materials == spec and model_set("default", family="clean").materials == spec


# --- the tiny replica -----------------------------------------------------------------------------

def test_the_tiny_replica_has_the_real_layout_and_key_names(tiny_root: Path) -> None:
    spec = tiny_model_set(tiny_root).materials
    folder = spec.local_path
    assert spec.licence.replicates == "prs-eth/marigold-iid-appearance-v1-1"
    files = {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}
    assert files == REAL_FILES | ORIGINALS
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "MarigoldIntrinsicsPipeline"
    assert {part: index[part] for part in ("unet", "vae", "scheduler", "text_encoder", "tokenizer")} == {
        "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
        "scheduler": ["diffusers", "DDIMScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"]}
    # Every key the tiny files hold is a key of the real architecture (the full size's configs, built on
    # the meta device): the same classes, fewer blocks; the fp16 variant is float16, the original float32.
    with torch.device("meta"):
        full = replica.construct(replica.config("full"))
    for part, name in (("unet", "diffusion_pytorch_model"), ("vae", "diffusion_pytorch_model"),
                       ("text_encoder", "model")):
        real_keys = set(full[part].state_dict())
        for variant, dtype in ((".fp16", torch.float16), ("", torch.float32)):
            with safe_open(str(folder / part / f"{name}{variant}.safetensors"), framework="pt") as reader:
                keys = set(reader.keys())
                assert keys and keys <= real_keys, (part, sorted(keys - real_keys)[:3])
                assert {reader.get_tensor(key).dtype for key in keys} == {dtype}
                if part == "unet":  # the image latent and two targets' latents in, two targets' out
                    assert reader.get_tensor("conv_in.weight").shape[1] == 12
                    assert reader.get_tensor("conv_out.weight").shape[0] == 8


def test_the_tiny_replica_runs_through_the_manager_on_two_views(tiny_root: Path) -> None:
    manager = _manager(tiny_model_set(tiny_root).materials)
    maps = material_maps(manager, _views(), CancelToken())
    assert len(maps) == 2
    for view_maps, (width, height) in zip(maps, SIZES):
        for values in (view_maps.roughness, view_maps.metallic):
            assert values.shape == (height, width) and values.dtype == np.float32
            assert np.isfinite(values).all() and values.min() >= 0 and values.max() <= 1
        assert not np.array_equal(view_maps.roughness, view_maps.metallic)
    # Loaded once, in float32 on the CPU; a second call reuses it and, from the same seed, gives the same maps.
    with manager.use("materials") as model:
        pipeline = model.pipeline
        assert pipeline.unet.dtype == torch.float32 and pipeline.scheduler.config.timestep_spacing == "trailing"
    again = material_maps(manager, _views(), CancelToken())
    assert all(np.array_equal(a.roughness, b.roughness) and np.array_equal(a.metallic, b.metallic)
               for a, b in zip(maps, again))
    assert manager.counters()["materials"].loads_from_disk == 1


class _SidesSeen:
    """The loaded pipeline, recording the side each call processes its views at and how many views it takes."""

    def __init__(self, pipeline) -> None:  # noqa: ANN001 - a MarigoldIntrinsicsPipeline
        self.pipeline, self.sides, self.views = pipeline, [], []

    def __getattr__(self, name: str):  # noqa: ANN204 - the pipeline's own attributes
        return getattr(self.pipeline, name)

    def __call__(self, images, **kwargs):  # noqa: ANN001, ANN003, ANN204
        self.sides.append(kwargs["processing_resolution"])
        self.views.append(len(images))
        return self.pipeline(images, **kwargs)


def test_views_smaller_than_the_models_side_are_processed_at_their_own(tiny_root: Path) -> None:
    """Hunyuan3D-2's 512 px views were upscaled to Marigold's 768 (2.25 times the pixels) and their maps
    brought back to 512 to be baked: a view is processed at the smaller of the two sides, and the
    material step's estimate counts those pixels."""
    assert processing_side(768, [512, 512]) == 512 and processing_side(768, [1024]) == 768
    manager = _manager(tiny_model_set(tiny_root).materials)  # its own side: 64
    with manager.use("materials") as model:
        spy = model.pipeline = _SidesSeen(model.pipeline)
    maps = material_maps(manager, _views(), CancelToken())
    big = [Image.new("RGB", (96, 80), (90, 90, 90))]
    [big_maps] = material_maps(manager, big, CancelToken())
    assert spy.sides == [48, 64] and spy.views == [2, 1]  # both views of one size in one call
    assert [m.roughness.shape for m in maps] == [(48, 40)] * 2 and big_maps.roughness.shape == (80, 96)
    spec = MATERIALS[DEFAULT_MATERIALS]
    cpu = torch.device("cpu")
    assert materials_seconds(spec, cpu, 512) == pytest.approx(materials_seconds(spec, cpu) * (512 / 768) ** 2)
    assert materials_seconds(spec, cpu, 1024) == materials_seconds(spec, cpu, 768) == materials_seconds(spec, cpu)


def test_the_estimate_counts_the_steps_the_step_runs() -> None:
    """The benchmark ran each view's 4 steps; the step now runs 1: its encoding and decodings as measured,
    its steps' share a quarter (about 0.73 of the benchmark's seconds, not all of them)."""
    row = MATERIAL_ROWS["marigold"]
    bench = row.benchmark
    assert row.steps == 1 and bench.steps == 4
    assert bench.scaled_to_steps(4) == bench.seconds
    assert bench.scaled_to_steps(1) == pytest.approx(bench.seconds * (1 - 0.36 * 3 / 4))
    spec, cpu = MATERIALS[DEFAULT_MATERIALS], torch.device("cpu")
    four = replace(row, steps=4)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("img23d_backend.materials.costs.row_of", lambda _: four)
        at_four = materials_seconds(spec, cpu)
    assert materials_seconds(spec, cpu) == pytest.approx(at_four * bench.scaled_to_steps(1) / bench.seconds)


def test_a_call_takes_as_many_views_as_fit_beside_the_model() -> None:
    """Six views in one call hold six views' activations: a call takes as many as the free memory holds, one at
    least; when not even one fits, out of memory in one sentence (the job keeps the colour)."""
    memory = MATERIAL_ROWS["marigold"].memory
    one = materials_need(memory, 0, 512, 4).host
    per_view = materials_need(memory, 0, 512, 4, views=2).host - one
    cpu = torch.device("cpu")
    assert per_view > 0 and materials_need(memory, 0, 512, 4, views=6).host == one + 5 * per_view
    for extra, fits in ((0, 1), (2 * per_view, 3), (5 * per_view, 6), (50 * per_view, 6)):
        assert views_at_once(memory, 512, 4, cpu, 6, Room(host=one + RESERVE_BYTES + extra)) == fits
    with pytest.raises(ProtocolError) as caught:
        views_at_once(memory, 512, 4, cpu, 6, Room(host=one))
    assert caught.value.code is ErrorCode.OUT_OF_MEMORY and "for one view at 512 px" in caught.value.message


def test_views_in_one_call_get_the_maps_each_gets_alone(tiny_root: Path) -> None:
    """A painted object's views go through the model together (one UNet call a step for all of them, where
    each view had its own), each from its own noise: its maps are those it gets alone, whatever its batch."""
    manager = _manager(tiny_model_set(tiny_root).materials)
    views = [*_views(), _views()[0].transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    with manager.use("materials") as model:
        calls: list[int] = []
        hook = model.pipeline.unet.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
        try:
            together = estimate_materials(model, views, CancelToken())
            alone = [estimate_materials(model, [view], CancelToken())[0] for view in views]
            pairs = estimate_materials(model, views, CancelToken(), batch=2)
        finally:
            hook.remove()
    assert calls == [3] + [1] * 3 + [2, 1]  # one step each (the fewest), a UNet call a batch
    for found in (together, pairs):
        for a, b in zip(found, alone):
            np.testing.assert_allclose(a.roughness, b.roughness, atol=1e-5)
            np.testing.assert_allclose(a.metallic, b.metallic, atol=1e-5)
    assert not np.allclose(together[0].roughness, together[2].roughness)  # the flipped view's own maps


def test_the_channels_and_defaults_come_from_the_models_own_config(tiny_root: Path, tmp_path: Path) -> None:
    folder = _copy(tiny_root, tmp_path)
    index = json.loads((folder / "model_index.json").read_text())
    properties = index["target_properties"]
    assert find_channel(properties, "roughness").channel == 0 and find_channel(properties, "metallicity").channel == 1
    spec = tiny_model_set(tmp_path / "tiny").materials
    # At the model's own side, as estimate_materials below runs by default, and the steps it runs below.
    [before] = material_maps(_manager(spec), _views()[:1], CancelToken(), steps=4, resolution=64)
    # The same weights, the material stack's channels named the other way round, 2 default steps.
    properties["material"]["sub_target_names"] = ["metallicity", "roughness", None]
    rewrite(folder / "model_index.json", json.dumps({**index, "default_denoising_steps": 2}).encode())
    manager = _manager(spec)
    calls: list[int] = []
    with manager.use("materials") as model:
        hook = model.pipeline.unet.register_forward_hook(lambda *args: calls.append(1))
        try:
            [swapped] = estimate_materials(model, _views()[:1], CancelToken(), steps=4)
            assert len(calls) == 4
            calls.clear()
            estimate_materials(model, _views()[:1], CancelToken())
            # v1.1's recipe (DDIM, trailing, zero terminal SNR): the fewest steps its checkpoints allow, one,
            # whatever model_index.json's default (2 here, 4 in the published folder)
            assert len(calls) == 1 and model.default_steps == 2
        finally:
            hook.remove()
    assert np.array_equal(swapped.roughness, before.metallic) and np.array_equal(swapped.metallic, before.roughness)


def test_the_scheduler_is_the_one_the_models_own_index_names(tiny_root: Path, tmp_path: Path) -> None:
    """The published folder names DDIM; a folder whose model_index.json names another scheduler (as
    Marigold's few-step LCM variants do) gets that one, configured from its own scheduler_config.json."""
    folder = _copy(tiny_root, tmp_path)
    index = json.loads((folder / "model_index.json").read_text())
    assert index["scheduler"] == ["diffusers", "DDIMScheduler"]
    rewrite(folder / "model_index.json", json.dumps({**index, "scheduler": ["diffusers", "LCMScheduler"]}).encode())
    config = json.loads((folder / "scheduler" / "scheduler_config.json").read_text())
    rewrite(folder / "scheduler" / "scheduler_config.json",
             json.dumps({**config, "_class_name": "LCMScheduler", "num_train_timesteps": 500}).encode())
    manager = _manager(tiny_model_set(tmp_path / "tiny").materials)
    with manager.use("materials") as model:
        scheduler = model.pipeline.scheduler
        assert type(scheduler).__name__ == "LCMScheduler" and scheduler.config.num_train_timesteps == 500
        assert model.fewest_steps == model.default_steps == 4  # not v1.1's recipe: its own default steps
        [maps] = estimate_materials(model, _views()[:1], CancelToken())
    assert maps.roughness.shape == (48, 40) and np.isfinite(maps.roughness).all()


def test_a_scheduler_that_diffusers_does_not_have_is_one_sentence(tiny_root: Path, tmp_path: Path) -> None:
    folder = _copy(tiny_root, tmp_path)
    index = json.loads((folder / "model_index.json").read_text())
    rewrite(folder / "model_index.json", json.dumps({**index, "scheduler": ["diffusers", "os"]}).encode())
    with pytest.raises(MaterialsUnavailable) as caught:
        material_maps(_manager(tiny_model_set(tmp_path / "tiny").materials), _views(), CancelToken())
    assert "names the scheduler ['diffusers', 'os'], which is not a diffusers scheduler" in caught.value.message


# --- when it cannot load or run: one sentence (and test_optional_model_failures.py) -------------------

def test_a_model_that_estimates_no_roughness_is_refused_by_name(tiny_root: Path, tmp_path: Path) -> None:
    folder = _copy(tiny_root, tmp_path)
    index = json.loads((folder / "model_index.json").read_text())
    index["target_properties"]["material"]["sub_target_names"] = ["shading", "metallicity", None]
    rewrite(folder / "model_index.json", json.dumps(index).encode())
    with pytest.raises(MaterialsUnavailable) as caught:
        material_maps(_manager(tiny_model_set(tmp_path / "tiny").materials), _views(), CancelToken())
    assert "names no 'roughness' among its targets (albedo, material)" in caught.value.message


# --- the full size ---------------------------------------------------------------------------------

def test_the_full_size_configuration_is_consistent() -> None:
    dims = replica.config("full")
    targets = 2  # albedo and the material stack
    assert (dims.unet["in_channels"], dims.unet["out_channels"]) == (4 * (targets + 1), 4 * targets)
    assert dims.unet["cross_attention_dim"] == dims.text_encoder["hidden_size"] == 1024
    assert (dims.steps, dims.resolution) == (4, 768) and dims.variants == ("fp16",)
    assert 2 ** (len(dims.vae["block_out_channels"]) - 1) == 8  # the VAE's scale: resolution a multiple of it


def test_the_preflight_counts_weights_and_views_where_they_run() -> None:
    weights, memory = MATERIALS[DEFAULT_MATERIALS].size_bytes, MATERIAL_ROWS[DEFAULT_MATERIALS].memory
    half, full = materials_need(memory, weights, 768), materials_need(memory, weights, 768, bytes_per_value=4)
    assert weights < half.host < full.host  # the weights, then activations that grow with the dtype
    assert materials_need(memory, weights, 384).host < half.host  # and with the processing resolution
    on_gpu = materials_need(memory, weights, 768, on_gpu=True)
    assert on_gpu.device == half.host and on_gpu.host == 0


def test_the_fast_loader_reads_what_diffusers_own_from_pretrained_reads(tiny_root: Path) -> None:
    """The meta-device loader against the library's own load path on the same folder, tensor by tensor
    (the fp16 variant read in float32, as on a CPU), the pipeline's configuration included."""
    prepare_torchvision()  # what the model manager does before any load: the pipeline imports CLIP
    from diffusers import MarigoldIntrinsicsPipeline

    folder = tiny_model_set(tiny_root).materials.local_path
    fast = load_materials(folder, torch.device("cpu")).obj.pipeline
    reference = MarigoldIntrinsicsPipeline.from_pretrained(folder, variant="fp16", torch_dtype=torch.float32,
                                                           use_safetensors=True, local_files_only=True)
    for part in ("unet", "vae", "text_encoder"):
        ours, theirs = getattr(fast, part).state_dict(), getattr(reference, part).state_dict()
        assert ours.keys() == theirs.keys(), part
        assert all(ours[key].dtype == theirs[key].dtype and torch.equal(ours[key], theirs[key]) for key in ours), part
    assert dict(fast.scheduler.config) == dict(reference.scheduler.config)
    assert (fast.target_properties, fast.default_denoising_steps, fast.default_processing_resolution) == (
        reference.target_properties, reference.default_denoising_steps, reference.default_processing_resolution)
