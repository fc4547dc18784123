"""The fast loaders (meta-device build, weights read straight into place) give exactly the
weights the libraries' own slow loaders give: every tensor equal, same dtype, same device, the
keys renamed or dropped as the library's own load renames or drops them (docs/models.md, "Where
each loader's file layout comes from")."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from img23d_backend.env.torch_shims import prepare_torchvision
from img23d_backend.families.hunyuan3d import fast_load
from img23d_backend.catalog import tiny_model_set
from img23d_backend.families.hunyuan3d.specs import DELIGHT_SUBFOLDER, PAINT_SUBFOLDER, PAINT_TURBO_SUBFOLDER

CPU = torch.device("cpu")


def tensors(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Parameters and every buffer, persistent or not (non-persistent ones are not in the checkpoint)."""
    return {**dict(module.named_parameters()), **dict(module.named_buffers())}


def assert_same_weights(slow: torch.nn.Module, fast: torch.nn.Module) -> None:
    expected, got = tensors(slow), tensors(fast)
    assert expected.keys() == got.keys()
    for name, tensor in expected.items():
        assert not got[name].is_meta, name
        assert (got[name].dtype, got[name].device) == (tensor.dtype, tensor.device), name
        assert torch.equal(got[name], tensor), name


@pytest.fixture(scope="module", autouse=True)
def _torchvision() -> None:
    prepare_torchvision()  # hy3dgen imports torchvision; the loaders' own preparation does this


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_the_shape_pipeline_has_hy3dgens_weights(tiny_root: Path, dtype: torch.dtype) -> None:
    from hy3dgen.shapegen import Hunyuan3DDiTFlowMatchingPipeline

    spec = tiny_model_set(tiny_root).shape
    slow = Hunyuan3DDiTFlowMatchingPipeline.from_pretrained(str(spec.local_path), subfolder=spec.subfolder,
                                                            device="cpu", dtype=dtype, use_safetensors=True,
                                                            variant="fp16")
    fast = fast_load.load_shape_pipeline(spec.local_path, spec.subfolder, CPU, dtype)
    for part in fast_load.SHAPE_PARTS:
        assert_same_weights(getattr(slow, part), getattr(fast, part))
    # The buffer the checkpoint lacks was computed, not left empty.
    assert torch.equal(fast.vae.fourier_embedder.frequencies, slow.vae.fourier_embedder.frequencies)


# The paint model's parts that diffusers' from_pretrained reads: the library's class (imported in the test,
# once torchvision is prepared), its folder, and fast_load's loader of it in the dtype a job reads it in.
PAINT_PARTS = [
    pytest.param("hy3dgen.texgen.hunyuanpaint.unet.modules", "UNet2p5DConditionModel", (PAINT_SUBFOLDER, "unet"),
                 fast_load.load_paint_unet, torch.float16, id="paint-unet"),
    # The turbo folder's VAE is an SD 2.x pickle with diffusers' legacy attention names (as the
    # real file): diffusers' from_pretrained renames them on load, and so must the fast loader.
    pytest.param("diffusers", "AutoencoderKL", (PAINT_TURBO_SUBFOLDER, "vae"), fast_load.load_paint_vae,
                 torch.float32, id="turbo-paint-vae"),
]


@pytest.mark.parametrize("module, name, folders, load, dtype", PAINT_PARTS)
def test_a_paint_part_has_its_librarys_weights(tiny_root: Path, module: str, name: str, folders: tuple[str, str],
                                               load: Callable[[Path, torch.device, torch.dtype], torch.nn.Module],
                                               dtype: torch.dtype) -> None:
    folder = tiny_root.joinpath("hunyuan3d-paint", *folders)
    slow = getattr(importlib.import_module(module), name).from_pretrained(str(folder), torch_dtype=dtype)
    assert_same_weights(slow, load(folder, CPU, dtype))


def test_the_flashvdm_vae_has_hy3dgens_weights(tiny_root: Path) -> None:
    from hy3dgen.shapegen.models import ShapeVAE

    spec = tiny_model_set(tiny_root).shape
    folder = Path(spec.local_path)
    slow = ShapeVAE.from_pretrained(str(folder), subfolder=spec.flashvdm_vae, device="cpu", dtype=torch.float16,
                                    use_safetensors=True, variant="fp16")
    assert_same_weights(slow, fast_load.load_shape_vae(folder, spec.flashvdm_vae, CPU, torch.float16))


def test_matting_is_read_in_its_dtype_with_the_weights_of_a_plain_load(tiny_root: Path) -> None:
    from transformers import AutoModelForImageSegmentation

    from img23d_backend.matting.driver import matting_loader

    spec = tiny_model_set(tiny_root).matting
    slow = AutoModelForImageSegmentation.from_pretrained(str(spec.local_path), trust_remote_code=True,
                                                         revision=spec.revision, use_safetensors=True)
    assert_same_weights(slow.to(torch.float32), matting_loader(spec)(spec.local_path, CPU).obj.model)


def test_a_checkpoint_missing_a_weight_is_refused(tiny_root: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    spec = tiny_model_set(tiny_root).shape
    source = fast_load.shape_files(spec.local_path, spec.subfolder)
    folder = tmp_path / spec.subfolder
    folder.mkdir()
    (folder / "config.yaml").write_bytes(source.config.read_bytes())
    state = load_file(str(source.checkpoint))
    dropped = next(key for key in state if key.startswith("conditioner."))
    del state[dropped]
    save_file(state, str(folder / "model.fp16.safetensors"))
    with pytest.raises(RuntimeError, match="Missing key"):
        fast_load.load_shape_pipeline(tmp_path, spec.subfolder, CPU, torch.float32)


def test_delight_is_untouched_by_the_fast_path(tiny_root: Path) -> None:
    """diffusers already builds on the meta device; the loader reads it in the working dtype."""
    from img23d_backend.families.hunyuan3d.paint_models import delight_loader

    spec = tiny_model_set(tiny_root).delight
    loaded = delight_loader(spec)(tiny_root / "hunyuan3d-paint", CPU)
    assert spec.subfolder == DELIGHT_SUBFOLDER
    assert all(not t.is_meta and t.dtype == torch.float32 for m in loaded.modules for t in m.parameters())
