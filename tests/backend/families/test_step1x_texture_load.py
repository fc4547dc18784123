"""The Step1X-3D texture model's loader, on the replica of its three repositories.

The replica is written with diffusers' and transformers' own classes and the adapter keyed as
upstream's ``save_custom_adapter`` keys it; these tests read it back through the production
loader and check every tensor against the files, the strictness upstream's ``strict=False`` lacks,
and the key conversions the libraries' own loaders make (legacy VAE attention names,
``position_ids`` kept by older text-encoder files).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from clean_texture_replica import texture_folders

from img23d_backend.families.step1x.texture.loader import loaded_model, load_texture_model, texture_dtype
from img23d_backend.models import placement
from img23d_backend.families.step1x.texture_folders import TextureFolders, hub_sources, sdxl_files
from img23d_backend.families.step1x.texture import replica
from img23d_backend.models.replica_common import parameters

pytestmark = pytest.mark.clean_texture  # the clean family's texture model (pytest.ini)

SDXL_PUBLISHED = {"unet": 2_567_463_684, "vae": 83_653_863, "text_encoder": 123_060_480,
                  "text_encoder_2": 694_659_840}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("step1x-texture")
    replica.build(root, replica.config("tiny"))
    return root


def _copy(root: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(root, target)
    return target


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    with safe_open(str(path), framework="pt") as reader:
        return {key: reader.get_tensor(key) for key in reader.keys()}


@pytest.mark.parametrize("variant", ["fp16", None])
def test_every_loaded_weight_equals_its_files_tensor(root: Path, variant: str | None) -> None:
    folders = texture_folders(root, variant)
    model = load_texture_model(folders, "cpu", torch.float32)
    suffix = f".{variant}.safetensors" if variant else ".safetensors"
    files = {"unet": folders.sdxl / "unet" / f"diffusion_pytorch_model{suffix}",
             "text_encoder": folders.sdxl / "text_encoder" / f"model{suffix}",
             "text_encoder_2": folders.sdxl / "text_encoder_2" / f"model{suffix}",
             "vae": folders.vae / "diffusion_pytorch_model.safetensors"}
    for part, path in files.items():
        loaded = getattr(model, part).state_dict()
        stored = _tensors(path)
        for key, tensor in stored.items():
            assert torch.equal(loaded[key], tensor.float()), f"{part}: {key} differs from {path.name}"
        assert set(stored) == {k for k in loaded if ".processor." not in k}, part
    adapter = _tensors(folders.adapter)
    unet, encoder = model.unet.state_dict(), model.condition_encoder.state_dict()
    for key, tensor in adapter.items():
        assert torch.equal((unet[key] if ".processor." in key else encoder[key]), tensor.float()), key
    # Every processor parameter and every condition-encoder parameter came from the adapter file.
    assert {k for k in unet if ".processor." in k} | set(encoder) == set(adapter)
    assert not any(t.is_meta for m in model.modules for t in [*m.parameters(), *m.buffers()])


def test_the_adapter_file_holds_upstreams_keys(root: Path) -> None:
    keys = set(_tensors(texture_folders(root).adapter))
    processors = sorted(k for k in keys if not k.startswith("adapter."))
    # Upstream's names: <block>.attentions.<i>.transformer_blocks.<j>.attn1.processor.to_*_{mv,ref}
    assert processors and all(".attn1.processor.to_" in k and ("_mv" in k or "_ref" in k) for k in processors)
    assert "mid_block.attentions.0.transformer_blocks.0.attn1.processor.to_out_mv.0.bias" in keys
    assert "down_blocks.1.attentions.0.transformer_blocks.0.attn1.processor.to_k_ref.weight" in keys
    assert {"adapter.conv_in.weight", "adapter.body.0.resnets.0.block1.weight", "adapter.body.1.in_conv.weight"} <= keys


def test_the_full_size_configs_make_sdxls_published_parameter_counts() -> None:
    with torch.device("meta"):
        parts = replica.construct(replica.config("full"))
    unet = parts["unet"]
    processors = sum(p.numel() for name, p in unet.named_parameters() if ".processor." in name)
    assert parameters(unet) - processors == SDXL_PUBLISHED["unet"]
    for part in ("vae", "text_encoder", "text_encoder_2"):
        assert parameters(parts[part]) == SDXL_PUBLISHED[part], part
    # The adapter: eight width x width projections per self-attention (70 of them in SDXL).
    assert processors == 8 * (10 * 640 * 640 + 60 * 1280 * 1280) + 2 * (10 * 640 + 60 * 1280)


def _rewrite(path: Path, change) -> None:
    state = load_file(str(path))
    change(state)
    save_file(state, str(path), metadata={"format": "pt"})


ADAPTER_KEY = "mid_block.attentions.0.transformer_blocks.0.attn1.processor.to_q_mv.weight"


@pytest.mark.parametrize("fault, message", [
    ("missing", r"^the adapter file does not fit this UNet: 1 of its \d+ weights are missing, e.g. "
                + ADAPTER_KEY.replace(".", r"\.") + "$"),
    ("shape", r"^the adapter file does not fit this UNet: its " + ADAPTER_KEY.replace(".", r"\.")
              + r" is \[64, 63\] where the model's is \[64, 64\]$")])
def test_an_adapter_file_that_does_not_fit_is_refused(root: Path, tmp_path: Path, fault: str, message: str) -> None:
    copy = _copy(root, tmp_path)
    folders = texture_folders(copy)

    def change(state: dict[str, torch.Tensor]) -> None:
        if fault == "missing":
            del state[ADAPTER_KEY]
        else:
            state[ADAPTER_KEY] = state[ADAPTER_KEY][:, :-1].contiguous()

    _rewrite(folders.adapter, change)
    with pytest.raises((ValueError, RuntimeError), match=message):
        load_texture_model(folders, "cpu", torch.float32)


def test_an_adapter_file_with_keys_beyond_what_it_needs_loads_and_says_so_once(
        root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Upstream loads the file with strict=False: a real file carrying more than the keys read runs."""
    folders = texture_folders(_copy(root, tmp_path))
    extra = {"mid_block.attentions.0.transformer_blocks.0.attn1.processor.to_x_mv.weight": torch.ones(2, 2),
             **{f"adapter.unused.{index}.bias": torch.zeros(3) for index in range(4)}}
    _rewrite(folders.adapter, lambda state: state.update(extra))
    with caplog.at_level("WARNING", logger="img23d_backend.families.step1x.texture.loader"):
        model = load_texture_model(folders, "cpu", torch.float32)
    said = [record.getMessage() for record in caplog.records if "adapter file" in record.getMessage()]
    assert len(said) == 1 and said[0].startswith("the adapter file holds 5 key(s) this model does not use, ignored")
    assert "adapter.unused.0.bias" in said[0] and said[0].endswith(", ...")
    adapter = _tensors(folders.adapter)
    assert torch.equal(model.unet.state_dict()[ADAPTER_KEY], adapter[ADAPTER_KEY])
    encoder = model.condition_encoder.state_dict()
    assert torch.equal(encoder["adapter.conv_in.weight"], adapter["adapter.conv_in.weight"])


# SDXL's own parameters, not the adapter's: the UNet's first convolution and a base self-attention's query.
UNET_OWN_KEYS = ["conv_in.weight", "mid_block.attentions.0.transformer_blocks.0.attn1.to_q.weight"]


@pytest.mark.parametrize("key", UNET_OWN_KEYS)
def test_a_unet_weight_in_the_adapter_file_replaces_sdxls_as_upstream_loads_it(
        root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, key: str) -> None:
    """Issue 54, item 14: upstream's ``_load_custom_adapter`` runs ``unet.load_state_dict(state_dict,
    strict=False)`` after the base weights, so a key of the file naming one of the UNet's own
    parameters is loaded over SDXL's; ignoring it would run another model than upstream's."""
    folders = texture_folders(_copy(root, tmp_path))
    sdxl = _tensors(folders.sdxl / "unet" / "diffusion_pytorch_model.fp16.safetensors")[key]
    own = torch.full(sdxl.shape, 0.125)
    _rewrite(folders.adapter, lambda state: state.update({key: own}))
    with caplog.at_level("INFO", logger="img23d_backend.families.step1x.texture.loader"):
        model = load_texture_model(folders, "cpu", torch.float32)
    assert torch.equal(model.unet.state_dict()[key], own), f"{key} kept SDXL's tensor, not the adapter file's"
    said = [record.getMessage() for record in caplog.records if "adapter file" in record.getMessage()]
    assert said == [f"the adapter file replaces 1 of SDXL's UNet weights with its own, as upstream's load does: {key}"]


def test_a_unet_weight_of_another_shape_in_the_adapter_file_is_refused(root: Path, tmp_path: Path) -> None:
    """Upstream's ``load_state_dict`` refuses a tensor of another shape even when not strict."""
    folders = texture_folders(_copy(root, tmp_path))
    _rewrite(folders.adapter, lambda state: state.update({"conv_in.weight": torch.zeros(32, 6, 3, 3)}))
    with pytest.raises(ValueError, match=r"^the adapter file does not fit this UNet: its conv_in\.weight is "
                                         r"\[32, 6, 3, 3\] where the model's is \[32, 4, 3, 3\]$"):
        load_texture_model(folders, "cpu", torch.float32)


def test_a_condition_encoder_key_missing_from_the_adapter_is_refused(root: Path, tmp_path: Path) -> None:
    folders = texture_folders(_copy(root, tmp_path))
    _rewrite(folders.adapter, lambda state: state.pop("adapter.conv_in.bias"))
    with pytest.raises(ValueError, match="adapter.conv_in.bias"):
        load_texture_model(folders, "cpu", torch.float32)


def test_a_unet_file_missing_a_weight_is_refused(root: Path, tmp_path: Path) -> None:
    folders = texture_folders(_copy(root, tmp_path))
    _rewrite(folders.sdxl / "unet" / "diffusion_pytorch_model.fp16.safetensors",
             lambda state: state.pop("conv_in.weight"))
    with pytest.raises(RuntimeError, match="conv_in.weight"):
        load_texture_model(folders, "cpu", torch.float32)


def test_legacy_vae_attention_names_load_as_diffusers_renames_them(root: Path, tmp_path: Path) -> None:
    folders = texture_folders(_copy(root, tmp_path))
    path = folders.vae / "diffusion_pytorch_model.safetensors"
    original = load_file(str(path))
    legacy = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}

    def rename(state: dict[str, torch.Tensor]) -> None:
        for key in [k for k in state if ".mid_block.attentions.0." in k]:
            for new, old in legacy.items():
                if f".{new}." in key:
                    state[key.replace(f".{new}.", f".{old}.")] = state.pop(key)

    _rewrite(path, rename)
    assert "decoder.mid_block.attentions.0.query.weight" in load_file(str(path))
    model = load_texture_model(folders, "cpu", torch.float32)
    loaded = model.vae.state_dict()
    assert all(torch.equal(loaded[key], tensor) for key, tensor in original.items())


def test_position_ids_kept_by_an_older_text_encoder_file_are_ignored(root: Path, tmp_path: Path) -> None:
    folders = texture_folders(_copy(root, tmp_path))
    path = folders.sdxl / "text_encoder_2" / "model.fp16.safetensors"
    _rewrite(path, lambda state: state.update({"text_model.embeddings.position_ids": torch.arange(77)[None]}))
    model = load_texture_model(folders, "cpu", torch.float32)
    assert torch.equal(model.text_encoder_2.text_model.embeddings.position_ids, torch.arange(77)[None])
    _rewrite(path, lambda state: state.pop("text_projection.weight"))
    with pytest.raises(RuntimeError, match="text_projection.weight"):
        load_texture_model(folders, "cpu", torch.float32)


def test_an_incomplete_folder_names_every_missing_file(root: Path, tmp_path: Path) -> None:
    folders = texture_folders(_copy(root, tmp_path))
    (folders.sdxl / "tokenizer_2" / "vocab.json").unlink()
    folders.adapter.unlink()
    with pytest.raises(FileNotFoundError) as caught:
        load_texture_model(folders, "cpu", torch.float32)
    assert "tokenizer_2/vocab.json" in str(caught.value) and "step1x-3d-ig2v.safetensors" in str(caught.value)
    assert "tokenizer_2/vocab.json" in sdxl_files()


def test_the_loaded_model_moves_as_one(root: Path) -> None:
    model = load_texture_model(texture_folders(root), "cpu", torch.bfloat16)
    assert all(p.dtype == torch.bfloat16 for m in model.modules for p in m.parameters())
    held = loaded_model(model)
    read = sum(model.weight_bytes[k] for k in ("unet", "condition_encoder", "vae", "text_encoder", "text_encoder_2"))
    buffers = sum(b.numel() * b.element_size() for m in model.modules for b in m.buffers())
    # What was read from the files is what the manager will move, plus the buffers made in place.
    assert len(held.modules) == 5 and placement.weight_bytes(held) == read + buffers
    placement.move(held, "meta")
    assert model.device == torch.device("meta") and next(model.unet.parameters()).is_meta


def test_the_downloads_fetch_exactly_what_the_loader_opens(root: Path, tmp_path: Path) -> None:
    sdxl, vae, step1x = hub_sources()
    names = (replica.SDXL_FOLDER, replica.VAE_FOLDER, replica.STEP1X_FOLDER)
    # Snapshots holding only the listed files (as allow_patterns would fetch them) load.
    for source, name in zip((sdxl, vae, step1x), names):
        assert len(source.revision) == 40, source.repo_id
        for file in source.files:
            (tmp_path / name / file).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(root / name / file, tmp_path / name / file)
    load_texture_model(TextureFolders.from_snapshots(*(tmp_path / name for name in names)), "cpu", torch.float32)
    assert not any(name.startswith("vae/") or name.endswith("model.safetensors") and ".fp16." not in name
                   for name in sdxl.files), "SDXL's own VAE and float32 weights are not fetched"


def test_the_dtype_is_half_on_a_gpu_and_float32_or_bfloat16_on_a_cpu() -> None:
    assert texture_dtype(torch.device("cuda")) == torch.float16 == texture_dtype("mps")
    assert texture_dtype("cpu") == torch.float32 and texture_dtype("cpu", cpu_bfloat16=True) == torch.bfloat16
