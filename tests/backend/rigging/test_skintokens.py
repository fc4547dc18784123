"""SkinTokens in img23d's own code (issue 65 item 1): the tiny replica through the production loader, the
pickled-code refusal, the grammar, seeds, farthest points, FSQ, the perceiver, and a whole tiny rig."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from img23d_backend.models.damage import find_damage
from img23d_backend.rigging.skintokens import config as cfg
from img23d_backend.rigging.skintokens.decoding import DecodingSettings
from img23d_backend.rigging.skintokens.grammar import State, parse_grammar
from img23d_backend.rigging.skintokens.kv_steps import StaticSteps
from img23d_backend.rigging.skintokens.loader import load_skintokens, loaded_network
from img23d_backend.rigging.skintokens.pipeline import RigSettings, rig_mesh
from img23d_backend.rigging.skintokens.replica import random_state, write_replica
from img23d_backend.rigging.skintokens.rigger import SPEC
from img23d_backend.rigging.skintokens.shape_encoder import ShapeEncoder
from img23d_backend.rigging.skintokens.skin_vae import FSQ
from img23d_backend.rigging.skintokens.surface import farthest_points
from img23d_backend.rigging.skintokens.weights import CheckpointRefused, is_unused, read_lightning_state

SETTINGS = RigSettings(decoding=DecodingSettings(beams=2, max_new_tokens=30, seed=3), samples=800)


@pytest.fixture(scope="module")
def replica_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_replica(tmp_path_factory.mktemp("skintokens"))


@pytest.fixture(scope="module")
def network(replica_folder: Path):
    return loaded_network(load_skintokens(replica_folder))


def _box() -> tuple[np.ndarray, np.ndarray]:
    import trimesh

    mesh = trimesh.creation.box(extents=(0.4, 1.8, 0.3))
    mesh = mesh.subdivide()
    return np.asarray(mesh.vertices, np.float32) + np.float32(5.0), np.asarray(mesh.faces)


def test_key_names_round_trip(replica_folder: Path, network) -> None:
    """Every used name in the file is a parameter of the built module, bf16 on disk, nothing left on meta."""
    state = read_lightning_state(replica_folder / cfg.CHECKPOINT_FILE)
    used = {k for k in state if not is_unused(k)}
    assert used == set(network.state_dict())
    assert {t.dtype for t in state.values()} == {torch.bfloat16}
    assert not any(p.is_meta for p in network.parameters())
    assert network.config.encoder.width == cfg.TINY.encoder.width
    assert network.config.lm.layers == cfg.TINY.lm.layers and network.config.vocab == 33_036
    assert (replica_folder / cfg.CHECKPOINT_FILE).with_suffix(".safetensors").exists()


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_pickled_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "payload": _Evil()}, path)
    with pytest.raises(CheckpointRefused, match="will not run"):
        read_lightning_state(path)


def test_lightning_metadata_classes_are_inert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A class from Lightning's modules in the metadata loads as an inert stand-in: its code never runs."""
    import types

    class Loop:
        ran = False

        def __setstate__(self, state):  # would run if the real class were used
            Loop.ran = True

    Loop.__module__, Loop.__qualname__ = "lightning.loops", "Loop"
    package, module = types.ModuleType("lightning"), types.ModuleType("lightning.loops")
    module.Loop, package.loops = Loop, module
    monkeypatch.setitem(sys.modules, "lightning", package)  # not installed here: a stand-in to pickle with
    monkeypatch.setitem(sys.modules, "lightning.loops", module)
    path = tmp_path / "meta.ckpt"
    torch.save({"state_dict": {"w": torch.ones(2)}, "loops": Loop()}, path)
    assert torch.equal(read_lightning_state(path)["w"], torch.ones(2))
    assert not Loop.ran


def test_decoded_sequences_always_parse(network) -> None:
    """Whatever random weights say, the mask keeps decoding inside the grammar: skeleton, 4 codes a joint, end."""
    vertices, faces = _box()
    for seed in range(2):
        settings = RigSettings(decoding=DecodingSettings(beams=2, max_new_tokens=24, seed=seed), samples=600)
        rig = rig_mesh(network, vertices, faces, settings)
        state = parse_grammar(rig.tokens, network.config.end)
        assert state.state is State.DONE
        assert state.skin == 4 * state.joints == 4 * len(rig.joints)


def test_grammar_refuses_a_short_skin() -> None:
    end = cfg.FULL.end
    tokens = [cfg.BOS, cfg.CLASSES["articulation"], 1, 2, 3, cfg.EOS, 300, 301, 302]
    with pytest.raises(ValueError):
        parse_grammar([*tokens, end], end)  # three codes for one joint, then the end
    assert parse_grammar([*tokens, 303, end], end).state is State.DONE


def test_seeds_reproduce(network) -> None:
    vertices, faces = _box()
    a = rig_mesh(network, vertices, faces, SETTINGS)
    b = rig_mesh(network, vertices, faces, SETTINGS)
    assert a.tokens == b.tokens
    np.testing.assert_array_equal(a.vertex_weights, b.vertex_weights)


def test_end_to_end_tiny_rig(network) -> None:
    vertices, faces = _box()
    rig = rig_mesh(network, vertices, faces, SETTINGS)
    j = len(rig.joints)
    assert j >= 1 and rig.joints.shape == rig.tails.shape == (j, 3)
    assert rig.parents[0] == -1 and all(0 <= p < i for i, p in enumerate(rig.parents) if i)
    assert rig.vertex_joints.shape == rig.vertex_weights.shape == (len(vertices), 4)
    np.testing.assert_allclose(rig.vertex_weights.sum(axis=1), 1.0, atol=1e-5)
    assert rig.vertex_joints.max() < j
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)  # joints come back in the mesh's frame: the fitted cube
    centre, half = (lo + hi) / 2, (hi - lo).max() / 2
    assert np.all(np.abs(rig.joints - centre) <= half * 1.01)


def test_farthest_points_follow_the_rule() -> None:
    points = torch.rand(200, 3, generator=torch.Generator().manual_seed(1))
    chosen = farthest_points(points, 20).tolist()
    expected, nearest = [0], np.full(200, np.inf)
    p = points.numpy().astype(np.float64)
    for _ in range(19):
        nearest = np.minimum(nearest, ((p - p[expected[-1]]) ** 2).sum(axis=1))
        expected.append(int(np.argmax(nearest)))
    assert chosen == expected


def test_fsq_round_trip() -> None:
    """indices -> grid -> indices is the identity; any latent quantises onto the grid of valid indices."""
    fsq = FSQ((8, 8, 8, 8, 8), latent=4)
    indices = torch.randint(0, 8 ** 5, (64,))
    grid = fsq.indices_to_grid(indices)
    assert grid.min() >= -1 and grid.max() < 1
    assert torch.equal(fsq.grid_to_indices(grid), indices)
    quantised = fsq.quantize(torch.randn(256, 5) * 3)
    back = fsq.grid_to_indices(quantised)
    assert back.min() >= 0 and back.max() < 8 ** 5
    assert torch.equal(fsq.indices_to_grid(back), quantised)
    assert fsq.indices_to_codes(indices).shape == (64, 4)


def test_perceiver_shapes() -> None:
    encoder = ShapeEncoder(cfg.TINY.encoder)
    points, normals = torch.rand(2, 300, 3) * 2 - 1, torch.randn(2, 300, 3)
    out = encoder(points, normals, torch.arange(cfg.TINY.encoder.queries))
    assert out.shape == (2, cfg.TINY.encoder.queries, cfg.TINY.encoder.width)
    assert cfg.FULL.encoder.heads == 8 and cfg.FULL.vae.heads == 12 and cfg.FULL.vocab == 33_036


def test_replica_state_is_the_full_layout_in_miniature() -> None:
    names = set(random_state(cfg.TINY))
    assert "output_proj.1.weight" in names and "vae.model.FSQ.project_out.weight" in names
    assert "mesh_encoder.encoder.self_attn.resblocks.0.attn.c_qkv.weight" in names
    assert "transformer.model.layers.1.self_attn.q_norm.weight" in names


def test_the_rigger_turns_the_mesh_to_y_up_for_the_model_and_its_joints_back(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """An asymmetric mesh (tall in img23d's Z, deep in -Y): the model reads it +Y up, and a joint it puts at
    the model's top and front comes back at img23d's top and front."""
    from img23d_backend.rigging import rigger as base
    from img23d_backend.rigging.skintokens import rigger
    from img23d_backend.rigging.skintokens.pipeline import SkinTokensRig

    seen = {}

    def fake_rig(network, vertices, faces, settings):
        seen["vertices"] = vertices
        top_front = [0.0, float(vertices[:, 1].max()), float(vertices[:, 2].max())]   # the model's +Y and +Z
        return SkinTokensRig(joints=np.array([[0.0, 0.0, 0.0], top_front], np.float32),
                             tails=np.array([top_front, [0.0, top_front[1] + 0.1, top_front[2]]], np.float32),
                             parents=np.array([-1, 0]), vertex_joints=np.zeros((len(vertices), 4), np.int64),
                             vertex_weights=np.tile([1.0, 0, 0, 0], (len(vertices), 1)).astype(np.float32),
                             tokens=[])

    monkeypatch.setattr(rigger, "rig_mesh", fake_rig)
    monkeypatch.setattr(rigger, "load_skintokens", lambda folder, device, dtype: None)
    monkeypatch.setattr(rigger, "loaded_network", lambda loaded: None)
    box = np.array([[x, y, z] for x in (0, 0.2) for y in (-0.6, 0) for z in (0, 1.8)], float)  # Z up, deep in -Y
    faces = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                      [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])
    made = rigger.rig(base.RigMesh(box, faces), None, base.RigOptions(model_folder=tmp_path))
    extent = np.ptp(seen["vertices"], axis=0)
    assert np.allclose(extent, [0.2, 1.8, 0.6])           # the model's Y is img23d's Z (tall)
    assert seen["vertices"][:, 2].max() == pytest.approx(0.6)   # img23d's -Y (the front, deep) is the model's +Z
    assert np.allclose(made.skeleton.heads[1], [0.0, -0.6, 1.8])   # back at img23d's top and front


def test_the_download_is_pinned_and_a_checkpoint_that_is_not_the_pinned_one_is_damage(tmp_path: Path) -> None:
    """The hub download names the port's commit, and its checkpoint is checked against the pinned SHA-256:
    a file with other bytes (here the tiny replica's) is named as damage, not loaded."""
    assert SPEC.revision == cfg.REVISION and len(SPEC.revision) == 40
    write_replica(tmp_path)
    damaged = find_damage([(SPEC, tmp_path)], digests=True)
    assert [d.name for d in damaged] == [cfg.CHECKPOINT_FILE]
    assert "sha256" in damaged[0].why and cfg.CHECKPOINT_SHA256[:12] in damaged[0].why


# The tiny replica's tokens for these settings, as the beam search gave them before its per-token host reads
# were gathered into one copy and the repetition penalty kept on the device (issue 74 item 2): the same on
# Python 3.11 and 3.13 here. Decoding must stay the same search, token for token.
TOKENS_BEFORE = {
    (2, 30, 3): [257, 266, 174, 13, 59, 224, 105, 142, 215, 184, 226, 258, 18336, 8924, 5096, 18540, 17307, 26164,
                 9751, 31734, 3861, 15163, 15081, 31803, 33035],
    (4, 40, 7): [257, 266, 167, 105, 205, 162, 177, 142, 112, 250, 109, 146, 28, 224, 258, 28658, 6151, 14631,
                 21934, 17027, 22670, 3359, 6569, 10565, 24995, 30873, 5257, 6639, 4077, 19379, 29612, 33035],
}


@pytest.mark.parametrize("beams, budget, seed", list(TOKENS_BEFORE))
@pytest.mark.parametrize("cache", ["growing", "static"])
def test_the_beam_search_makes_the_tokens_it_made_before(network, beams: int, budget: int, seed: int,
                                                        cache: str) -> None:
    """With the growing cache (a CPU's) and the static one (a GPU's, there replayed as a CUDA graph): the
    static cache's masked positions and in-place reorders change no token."""
    vertices, faces = _box()
    decoding = DecodingSettings(beams=beams, max_new_tokens=budget, seed=seed, cache=cache)
    settings = RigSettings(decoding=decoding, samples=800)
    assert rig_mesh(network, vertices, faces, settings).tokens == TOKENS_BEFORE[(beams, budget, seed)]


def test_a_step_that_cannot_be_captured_runs_eagerly_and_says_so(network, monkeypatch, caplog) -> None:
    """A CUDA graph capture that fails (a release whose step reads the host) leaves the static cache stepping
    eagerly, with the same logits, and one warning."""
    def refuse(self) -> None:
        raise RuntimeError("operation not permitted when stream is capturing")

    lm = network.transformer
    inputs = torch.randn((1, 6, lm.config.hidden_size), generator=torch.Generator().manual_seed(0))
    embeds = torch.randn((3, 1, lm.config.hidden_size), generator=torch.Generator().manual_seed(1))
    order = torch.tensor([2, 0, 0])
    with torch.no_grad():
        eager = StaticSteps(lm, inputs, 3, 12).step(order, embeds)
        monkeypatch.setattr(StaticSteps, "_capture", refuse)
        with caplog.at_level("WARNING"):
            fallen_back = StaticSteps(lm, inputs, 3, 12, graph=True).step(order, embeds)
    assert torch.equal(fallen_back, eager)
    assert "could not be captured as a CUDA graph (operation not permitted" in caplog.text


def test_the_skin_decoded_a_few_joints_at_a_time_is_the_skin_decoded_at_once(network) -> None:
    """Joints asked in groups (a small device's budget, ``pipeline.skin_batch``) give every weight as one batch does."""
    vertices, faces = _box()
    settings = RigSettings(decoding=DecodingSettings(beams=4, max_new_tokens=40, seed=7), samples=800)
    at_once = rig_mesh(network, vertices, faces, replace(settings, skin_bytes=0))
    one_by_one = rig_mesh(network, vertices, faces, replace(settings, skin_bytes=1))
    assert len(at_once.joints) > 1
    np.testing.assert_allclose(one_by_one.vertex_weights, at_once.vertex_weights, atol=1e-6)
    np.testing.assert_array_equal(one_by_one.vertex_joints, at_once.vertex_joints)
