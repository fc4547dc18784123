"""The clean texture model's texture sync on the tiny replica: views synchronised through the mesh's
latent UV texture agree where they show the same texel, a seed gives the same views, the sync off
leaves the sampling as it was, and the option reaches the sampler from a job.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import trimesh

from clean_texture_replica import red_cutout, texture_folders

from img23d_backend.commands.options import add_job_options, job_options
from img23d_backend.families.step1x.texture import sync as sync_module
from img23d_backend.families.step1x.texture.bake import uv_mesh
from img23d_backend.families.step1x.texture.conditions import control_maps
from img23d_backend.families.step1x.texture.generate import MultiviewSettings, sample_latents
from img23d_backend.families.step1x.texture.loader import load_texture_model
from img23d_backend.families.step1x.texture.render import render_maps
from img23d_backend.families.step1x.texture.scheduler import make_scheduler
from img23d_backend.families.step1x.texture.sync import SyncSettings, TextureSync
from img23d_backend.families.step1x.texture.uv_latents import LatentAtlas, build_atlas
from img23d_backend.families.step1x.texture.paint_step import texture_settings
from img23d_backend.families.step1x.texture_folders import CLEAN_PAINT, TINY_CLEAN_PAINT
from img23d_backend.families.step1x.texture import replica

pytestmark = pytest.mark.clean_texture  # the clean family's texture model (pytest.ini)

SIZE, LATENT, TEXELS = 64, 8, 32
# Two steps of the shifted schedule: t = 501 (synchronised: t > 500) and t = 1 (not).
ON = MultiviewSettings(steps=2, size=SIZE, sync=SyncSettings(texture_size=TEXELS))
OFF = dataclasses.replace(ON, sync=SyncSettings(enabled=False, texture_size=TEXELS))
# One latent pixel (row 3, column 4) of each view, per channel, from main before the sync existed
# (generate_views, seed 7, three steps at 64 px, the random control maps below): the sync off must
# keep these. Random-weight replicas are built from fixed seeds, so the numbers are the replica's.
BEFORE_SYNC = [[-14.6504, -3.4533, 1.6253, -2.2648], [8.8229, 13.4840, 2.4517, 4.3949],
               [6.5877, 5.2699, 8.8238, 11.5832], [-3.0462, 1.5167, 0.4546, 2.5172],
               [6.6809, -5.8525, 8.8170, 2.0356], [-13.8485, -5.1476, 3.2507, 4.4443]]


@pytest.fixture(scope="module")
def model(tiny_root: Path):
    root = tiny_root / TINY_CLEAN_PAINT   # the tiny set's replica, as replica.build makes it
    return load_texture_model(texture_folders(root), "cpu", torch.float32)


@pytest.fixture(scope="module")
def sphere() -> tuple[torch.Tensor, LatentAtlas]:
    mesh = uv_mesh(trimesh.creation.icosphere(subdivisions=2, radius=2.0))
    maps = render_maps(mesh, SIZE)
    return control_maps(maps.positions, maps.normals, maps.masks), build_atlas(mesh, LATENT, TEXELS)


def _disagreement(latents: torch.Tensor, atlas: LatentAtlas) -> tuple[int, float]:
    """How many pairs of pixels in two views read one texel, and their latents' mean absolute difference."""
    flat = latents.reshape(len(atlas.views), latents.shape[1], -1)
    differences = []
    for a in range(len(atlas.views)):
        for b in range(a + 1, len(atlas.views)):
            first, second = atlas.views[a], atlas.views[b]
            pairs = (first.texels[:, None] == second.texels[None, :]).nonzero()
            left = flat[a][:, first.pixels[pairs[:, 0]]]
            right = flat[b][:, second.pixels[pairs[:, 1]]]
            differences.append((left - right).abs().mean(dim=0))
    every = torch.cat(differences)
    return every.numel(), float(every.mean())


def test_the_latent_texture_bakes_a_weighted_mean_and_renders_it_back(sphere) -> None:
    _, atlas = sphere
    # Views that agree bake to their value on every texel (the weights sum to one; texels no view
    # weighs take their nearest weighted texel's), and render back as it on the mesh, zero off it.
    value = torch.tensor([0.5, -1.0, 2.0, 0.25])
    texture = atlas.bake(value.view(1, 4, 1, 1).expand(6, 4, LATENT, LATENT), exp=4.0)
    torch.testing.assert_close(texture, value.expand(atlas.texels, 4), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(atlas.render(texture), value.view(1, 4, 1, 1) * atlas.masks)
    # A view's own pixels come back from a texture baked from it alone (its weight the only one),
    # where the texel a pixel reads is its own and weighs something: upstream's cosine looks from
    # the point to the camera's centre, 1.8 away, so the outermost ring of a sphere weighs nothing.
    front = torch.randn(6, 4, LATENT, LATENT, generator=torch.Generator().manual_seed(3))
    view = atlas.views[0]
    alone = dataclasses.replace(atlas, views=[view] + [dataclasses.replace(
        other, visible=torch.zeros_like(other.visible)) for other in atlas.views[1:]])
    own = (view.hit_count[view.hit] == 1) & (view.cos[view.texels] > 0) & view.visible[view.texels]
    assert int(own.sum()) >= 0.6 * view.pixels.numel()
    pixels = view.pixels[own]
    rendered = alone.render(alone.bake(front, exp=1.0))[0].reshape(4, -1)
    torch.testing.assert_close(rendered[:, pixels], front[0].reshape(4, -1)[:, pixels])


def test_synchronised_views_agree_where_they_show_the_same_texel(model, sphere) -> None:
    controls, atlas = sphere
    on = sample_latents(model, controls, red_cutout(), 7, ON, atlas=atlas)
    off = sample_latents(model, controls, red_cutout(), 7, OFF, atlas=atlas)
    pairs, synchronised = _disagreement(on, atlas)
    _, independent = _disagreement(off, atlas)
    assert pairs >= 20, "the sphere's views should share texels"
    # After the synchronised step every view reads the one texture; the last step (t = 1) moves the
    # views apart by sqrt(1 - abar_1) of their noise predictions only.
    assert synchronised < 0.05 * independent, (synchronised, independent)
    # Off the mesh each view's latents are its background colour's, noised: not the texture's.
    masks = atlas.masks.expand_as(on) > 0
    assert torch.isfinite(on).all() and not torch.equal(on[~masks], off[~masks])


def test_a_seed_gives_the_same_synchronised_views_and_another_seed_others(model, sphere) -> None:
    controls, atlas = sphere
    first = sample_latents(model, controls, red_cutout(), 7, ON, atlas=atlas)
    again = sample_latents(model, controls, red_cutout(), 7, ON, atlas=atlas)
    other = sample_latents(model, controls, red_cutout(), 8, ON, atlas=atlas)
    assert torch.equal(first, again)
    assert not torch.allclose(first, other)


def test_the_sync_off_samples_as_before_and_never_enters_the_sync(model, sphere, monkeypatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the sync ran with the sync off")

    monkeypatch.setattr(sync_module.TextureSync, "start", refuse)
    monkeypatch.setattr(sync_module.TextureSync, "step", refuse)
    generator = torch.Generator().manual_seed(0)
    positions = torch.rand(6, SIZE, SIZE, 3, generator=generator) - 0.5
    normals = torch.nn.functional.normalize(torch.randn(6, SIZE, SIZE, 3, generator=generator), dim=-1)
    controls = control_maps(positions, normals, torch.rand(6, SIZE, SIZE, generator=generator) > 0.3)
    settings = dataclasses.replace(OFF, steps=3)
    _, atlas = sphere
    latents = sample_latents(model, controls, red_cutout(), 7, settings, atlas=atlas)
    torch.testing.assert_close(latents[:, :, 3, 4], torch.tensor(BEFORE_SYNC), atol=1e-3, rtol=0)
    assert torch.equal(latents, sample_latents(model, controls, red_cutout(), 7, settings))   # no atlas at all


def test_an_atlas_for_other_latents_is_refused(model, sphere) -> None:
    controls, atlas = sphere
    with pytest.raises(ValueError, match="8-pixel latents, not 6 of 4"):
        sample_latents(model, torch.zeros(6, 6, 32, 32), red_cutout(), 0, dataclasses.replace(ON, size=32), atlas=atlas)


def test_the_first_25_of_50_steps_are_synchronised() -> None:
    scheduler = make_scheduler(replica.SDXL_SCHEDULER)
    scheduler.set_timesteps(50)
    sync = TextureSync(model=None, atlas=None, scheduler=scheduler, generator=torch.Generator(),
                       settings=SyncSettings(), size=768)
    chosen = [int(t) for t in scheduler.timesteps if sync.applies(t)]
    assert chosen == list(range(981, 500, -20)) and len(chosen) == 25   # upstream's t > 500


def test_the_command_line_flag_reaches_the_sampler() -> None:
    parser = argparse.ArgumentParser()
    add_job_options(parser)
    for flags, chosen in (([], True), (["--no-texture-sync"], False)):
        options = job_options(parser.parse_args(flags))
        assert options.texture_sync is chosen
        run = SimpleNamespace(options=options, manager=SimpleNamespace(spec=lambda role: CLEAN_PAINT))
        sync = texture_settings(run).views.sync
        assert sync.enabled is chosen and sync.texture_size == 1536   # upstream's, for the real model
