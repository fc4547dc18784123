"""AutoPartGen's networks (issue 64 item 1) loaded from the tiny replica (item 2) through the production
loader: the checkpoint's keys and wrapper, the older naming, the conditioner's features, the DiT's part
history and skips, and the VAE's encode and decode (the shared blocks' head split and farthest-point
sampling: test_neural_blocks.py)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from img23d_backend.parts.autopartgen import config as sizes
from img23d_backend.parts.autopartgen import replica
from img23d_backend.parts.autopartgen.loader import DIT_FILES, VAE_FILE, load_autopartgen
from img23d_backend.parts.autopartgen.sampling import surface_cloud
from img23d_backend.parts.autopartgen.weights import read_checkpoint, renamed_dit_keys


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("autopartgen")
    replica.build(dest, sizes.tiny())
    return dest


@pytest.fixture(scope="module")
def networks(tiny: Path):
    loaded = load_autopartgen(tiny, tiny / replica.DINO_FOLDER, sizes.tiny(), "cpu")
    return loaded.obj


def test_the_files_hold_the_release_key_names_wrapped(tiny: Path) -> None:
    raw = torch.load(tiny / DIT_FILES[2048], weights_only=True)
    assert set(raw) == {"model"}
    keys = set(raw["model"])
    # Part cross-attention in blocks 0 and 1 (below the tiny middle), with norm3 as its norm.
    assert {"blocks.0.norm3.weight", "blocks.0.attn3.to_k.weight", "blocks.0.attn3.norm_q.weight",
            "blocks.1.attn3.to_out.0.bias", "blocks.0.norm_ff.weight", "blocks.0.ff.net.0.proj.weight"} <= keys
    assert not any(k.startswith(("blocks.2.attn3", "blocks.3.attn3")) for k in keys)
    # Long skips only above the middle block; no qkv bias anywhere.
    assert {"blocks.3.skip_linear.weight", "blocks.4.skip_norm.weight"} <= keys
    assert not any(k.startswith("blocks.2.skip") for k in keys)
    assert not any(k.endswith(("to_q.bias", "to_k.bias", "to_v.bias")) for k in keys)
    assert {"cond_proj.0.weight", "cond_proj.2.weight", "cond_proj.3.weight", "map_position.weight",
            "part_position_embedding.linear.weight", "sigma_history_proj.linear_1.weight",
            "sigma_per_part_proj.linear_2.weight", "time_proj.linear_2.bias", "norm_out.weight"} <= keys
    vae = set(read_checkpoint(tiny / VAE_FILE))
    assert {"encoder.blocks.0.attn2.norm_cross.weight", "encoder.blocks.1.attn1.to_q.weight",
            "encoder.blocks.1.norm3.weight", "decoder.blocks.2.attn2.norm_cross.bias", "decoder.proj_query.weight",
            "quant.weight", "post_quant.bias"} <= vae
    assert not any("embedder" in k or "frequencies" in k for k in vae)


def test_full_size_counts_follow_the_architecture() -> None:
    with torch.device("meta"):
        networks = replica.construct(sizes.full())
    dit = networks["dit"]
    assert len(dit.blocks) == 21 and sum(hasattr(b, "attn3") for b in dit.blocks) == 10
    assert [i for i, b in enumerate(dit.blocks) if b.skip] == list(range(11, 21))
    assert dit.blocks[0].attn1.heads == 16 and dit.blocks[0].attn3.to_k.in_features == 64
    assert dit.cond_proj[0].in_features == 2048 and dit.cond_proj[3].out_features == 1024
    vae = networks["vae"]
    assert len(vae.encoder.blocks) == 9 and len(vae.decoder.blocks) == 17
    assert vae.encoder.proj_in.in_features == 54 and vae.decoder.proj_query.in_features == 51
    assert vae.quant.out_features == 128 and vae.post_quant.out_features == 1024


def test_the_loader_takes_an_unwrapped_file_and_the_older_naming(tiny: Path, tmp_path: Path) -> None:
    state = read_checkpoint(tiny / DIT_FILES[2048])
    older = {"blocks.5.attn_cross.0.to_q.weight": 1, "blocks.5.norm_cross.0.weight": 2, "blocks.5.norm3.bias": 3}
    assert renamed_dit_keys(older) == {"blocks.5.attn2.to_q.weight": 1, "blocks.5.norm2.weight": 2,
                                       "blocks.5.norm_ff.bias": 3}
    assert renamed_dit_keys(state) is state  # the release's naming passes untouched
    folder = tmp_path / "unwrapped"
    folder.mkdir()
    torch.save(dict(state), folder / DIT_FILES[2048])
    torch.save(read_checkpoint(tiny / VAE_FILE), folder / VAE_FILE)
    loaded = load_autopartgen(folder, tiny / replica.DINO_FOLDER, sizes.tiny(), "cpu").obj
    assert torch.equal(loaded.dit.proj_in.weight, state["proj_in.weight"])
    assert not any(p.is_meta for p in loaded.dit.parameters())


def test_a_checkpoint_with_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    torch.save({"model": {"w": torch.zeros(1)}, "hook": Path("x")}, path)  # a pickled object, not a tensor
    with pytest.raises(pickle.UnpicklingError):  # weights_only: no object but tensors is rebuilt
        read_checkpoint(path)


def test_conditioner_features_are_dinos_hidden_states_before_the_final_norm(networks) -> None:
    conditioner = networks.conditioner
    size = conditioner.config.image_size
    pictures = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    features = conditioner.features(pictures)
    assert features.shape == (2, conditioner.config.tokens, conditioner.config.width) == (2, 21, 32)
    # Directly: embeddings (CLS, registers, patches) then each layer, no final layernorm.
    dino = conditioner.dino
    mean = torch.tensor((0.485, 0.456, 0.406)).view(1, 3, 1, 1)
    std = torch.tensor((0.229, 0.224, 0.225)).view(1, 3, 1, 1)
    with torch.no_grad():
        x = dino.embeddings((pictures - mean) / std)
        for layer in dino.encoder.layer:
            out = layer(x)
            x = out[0] if isinstance(out, tuple) else out
        assert torch.allclose(features, x, atol=1e-5)
        assert not torch.allclose(features, dino.layernorm(x), atol=1e-3)
    black = conditioner.dropped()
    assert torch.allclose(black, conditioner.features(torch.zeros(1, 3, size, size)))


def test_the_dit_reads_the_image_and_the_part_history(networks) -> None:
    dit, cfg = networks.dit, networks.config.dit
    g = torch.Generator().manual_seed(2)
    latents = torch.randn(1, cfg.latents, cfg.in_channels, generator=g)
    image = torch.randn(1, 21, 2 * cfg.cross_attention_dim, generator=g)
    history = torch.randn(1, 2, cfg.latents, cfg.latent_dim, generator=g)
    t = torch.tensor([500.0])
    with torch.no_grad():
        out = dit(latents, t, image, history)
        assert out.shape == latents.shape and torch.isfinite(out).all()
        assert not torch.allclose(out, dit(latents, t, image, None))
        assert not torch.allclose(out, dit(latents, t, image, history.flip(1)))  # the part position counts
        assert not torch.allclose(out, dit(latents, torch.tensor([20.0]), image, history))
        assert torch.allclose(out, dit(latents, t, image, history))


def test_the_vae_encodes_a_surface_and_decodes_a_field(networks) -> None:
    cfg = networks.config
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32) - 0.3
    faces = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    cloud = surface_cloud(vertices, faces, cfg.surface_samples, cfg.fps_pool, cfg.surface_points, seed=3)
    assert cloud.shape == (cfg.surface_points, 6)
    assert torch.allclose(cloud[:, 3:].norm(dim=1), torch.ones(len(cloud)), atol=1e-5)
    again = surface_cloud(vertices, faces, cfg.surface_samples, cfg.fps_pool, cfg.surface_points, seed=3)
    assert torch.equal(cloud, again)
    with torch.no_grad():
        latents = networks.vae.encode(cloud[None], torch.Generator().manual_seed(0))
        assert latents.shape == (1, cfg.dit.latents, cfg.vae.latent_channels)
        tokens = networks.vae.tokens(latents)
        field = networks.vae.query(torch.rand(1, 10, 3) * 2 - 1, tokens)
    assert field.shape == (1, 10) and field.dtype == torch.float32 and torch.isfinite(field).all()
