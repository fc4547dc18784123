"""FlashVDM decodes with the family's distilled VAE, as upstream's enable_flashvdm() does: it is
downloaded with the shape model at the same pinned commit, loaded by the fast loader, and used
for FlashVDM volume decoding only (dense decoding keeps the DiT folder's VAE)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors import safe_open

from model_files import complete_files
from hub_stand_in import FakeHub, use_fake_hub
from img23d_backend.env.job_control import CancelToken
from img23d_backend.env.torch_shims import prepare_torchvision
from img23d_backend.families.hunyuan3d import shape
from img23d_backend.models import download
from img23d_backend.catalog import SHAPE, tiny_model_set
from img23d_backend.families.hunyuan3d.specs import FLASHVDM_VAES


def test_every_shape_model_has_its_familys_flashvdm_vae_in_its_download() -> None:
    assert FLASHVDM_VAES == {"tencent/Hunyuan3D-2mini": "hunyuan3d-vae-v2-mini-turbo",
                             "tencent/Hunyuan3D-2": "hunyuan3d-vae-v2-0-turbo"}  # upstream's mapping
    for spec in SHAPE.values():
        if spec.repo_id not in FLASHVDM_VAES:   # Step1X-3D has no FlashVDM VAE
            assert not spec.flashvdm_vae, spec.repo_id
            continue
        assert spec.flashvdm_vae == FLASHVDM_VAES[spec.repo_id]
        assert {f"{spec.flashvdm_vae}/config.yaml", f"{spec.flashvdm_vae}/model.fp16.safetensors"} <= \
            set(spec.allow_patterns)


def test_downloading_a_turbo_model_fetches_its_flashvdm_vae_at_the_pinned_commit(hub_cache: Path) -> None:
    spec = SHAPE["2mini-turbo"]
    ours = complete_files(spec)
    # The repository holds more: the other variants, the plain VAE, .ckpt twins.
    others = {"hunyuan3d-vae-v2-mini/config.yaml": b"x", "hunyuan3d-vae-v2-mini/model.fp16.safetensors": b"x",
              f"{spec.flashvdm_vae}/model.fp16.ckpt": b"x", "hunyuan3d-dit-v2-mini/model.fp16.safetensors": b"x"}
    fake = FakeHub(hub_cache, spec.repo_id, str(spec.revision), {**ours, **others})
    with pytest.MonkeyPatch.context() as patch:
        use_fake_hub(patch, fake)
        folder = download.download(spec, offline=False, progress=lambda *a: None, cancelled=lambda: False,
                                   accepted_licences={spec.licence.licence.key})  # its refusal: test_licences
    assert sorted(fake.fetched) == sorted(ours)
    assert f"{spec.flashvdm_vae}/model.fp16.safetensors" in fake.fetched
    assert fake.asked_revisions == [spec.revision]
    assert (folder / spec.flashvdm_vae / "config.yaml").is_file()


@pytest.fixture(scope="module")
def pipe(tiny_root: Path):
    prepare_torchvision()  # what the model manager does before any loader runs
    spec = tiny_model_set(tiny_root).shape
    return shape.shape_loader(spec)(spec.local_path, torch.device("cpu"))


def test_the_flashvdm_vae_loads_through_the_fast_loader_with_the_files_tensors(pipe, tiny_root: Path) -> None:
    spec = tiny_model_set(tiny_root).shape
    vae = pipe.obj.flashvdm_vae
    assert vae is not None and vae in pipe.modules  # placement moves it with the rest of the model
    with safe_open(str(tiny_root / "hunyuan3d" / spec.flashvdm_vae / "model.fp16.safetensors"), "pt") as file:
        expected = {key: file.get_tensor(key) for key in file.keys()}
    state = vae.state_dict()
    assert set(expected) <= set(state)  # unprefixed keys, every one of them read
    for key, tensor in expected.items():
        assert torch.equal(state[key], tensor.to(state[key].dtype)), key
    # Not the folder's VAE: its own weights and a slimmer occupancy decoder.
    folder_vae = pipe.obj.vae
    mlp = [v.geo_decoder.cross_attn_decoder.mlp.c_fc.out_features for v in (vae, folder_vae)]
    assert mlp[0] < mlp[1]
    assert not torch.equal(vae.post_kl.weight, folder_vae.post_kl.weight)


def _vae_calls(vae) -> list[str]:
    calls: list[str] = []
    vae.register_forward_hook(lambda *args: calls.append("transformer"))
    vae.geo_decoder.register_forward_hook(lambda *args: calls.append("occupancy"))
    return calls


@pytest.mark.parametrize("decoder", ["flashvdm", "dense"])
def test_flashvdm_decodes_with_the_flashvdm_vae_and_dense_with_the_folders(pipe, decoder: str) -> None:
    model = pipe.obj
    flashvdm, folder = _vae_calls(model.flashvdm_vae), _vae_calls(model.vae)
    settings = shape.ShapeSettings(steps=2, octree_resolution=32, guidance_scale=5.0, batch_size=0, decoder=decoder)
    picture = Image.new("RGBA", (64, 64), (120, 80, 40, 255))
    try:
        [mesh] = shape.generate_shapes(model, [picture], [3], settings, cancel=CancelToken(),
                                       progress=lambda *args: None)
    finally:
        for vae in (model.flashvdm_vae, model.vae):
            vae._forward_hooks.clear()
            vae.geo_decoder._forward_hooks.clear()
    used, unused = (flashvdm, folder) if decoder == "flashvdm" else (folder, flashvdm)
    assert "transformer" in used and "occupancy" in used and unused == []
    assert mesh is not None and len(mesh.faces) > 0
