"""The painted views' back-projection (issue 66 item 6): img23d's ``back_project`` gives hy3dgen's
``MeshRender.back_project`` result, texel for texel, with its box filters as separable max pooling."""

from __future__ import annotations

import pytest
import torch
import trimesh

from img23d_backend.families.hunyuan3d.back_project import back_project, grown
from img23d_backend.families.hunyuan3d.paint import PaintSettings, _mesh_renderer
from img23d_backend.uv.uvs import with_uvs


def test_growing_a_mask_is_the_box_convolutions_test_above_zero() -> None:
    generator = torch.Generator().manual_seed(3)
    mask = (torch.rand(64, 80, 1, generator=generator) > 0.97).float()
    for kernel in (1, 3, 17):
        box = torch.nn.functional.conv2d(mask.permute(2, 0, 1)[None], torch.ones(1, 1, kernel, kernel),
                                         padding=kernel // 2)
        assert torch.equal(grown(mask, kernel), (box > 0).float()[0].permute(1, 2, 0))


@pytest.mark.parametrize("elevation, azimuth", [(0, 0), (0, 90), (90, 0), (-90, 180)])
def test_a_view_goes_into_the_atlas_as_hy3dgens_back_projection_puts_it(elevation: int, azimuth: int) -> None:
    mesh = with_uvs(trimesh.creation.icosphere(3), None)
    settings = PaintSettings(texture_size=256, render_size=512, view_size=256)
    render = _mesh_renderer(mesh, settings, "cpu")
    image = torch.rand(512, 512, 3, generator=torch.Generator().manual_seed(elevation * 7 + azimuth))
    expected_texture, expected_weight, _ = render.back_project(image, elevation, azimuth)
    texture, weight = back_project(render, image, elevation, azimuth)
    assert render.bake_unreliable_kernel_size == 2 and float(weight.sum()) > 100.0   # a 5 px box; texels seen
    assert torch.equal(weight, expected_weight) and torch.equal(texture, expected_texture)


def test_a_card_seen_edge_on_adds_nothing_and_face_on_adds_its_colour() -> None:
    """A flat card (one quad in the XY plane, glTF's Y up: facing the front and back views). hy3dgen's back
    projection takes the min() of an empty depth edge-on (a RuntimeError: a re-texture of a card failed
    "internal") and divides by a zero depth range face-on (NaN); here the edge-on view adds nothing, and the
    front view puts its colour, finite, where the card is seen."""
    card = trimesh.Trimesh([[-0.5, -0.5, 0], [0.5, -0.5, 0], [0.5, 0.5, 0], [-0.5, 0.5, 0]], [[0, 1, 2], [0, 2, 3]])
    render = _mesh_renderer(with_uvs(card.subdivide().subdivide(), None),
                            PaintSettings(texture_size=128, render_size=256, view_size=128), "cpu")
    image = torch.full((256, 256, 3), 0.5)
    texture, weight = back_project(render, image, 0, 90)
    assert texture.shape == (128, 128, 3) and weight.shape == (128, 128, 1)
    assert not texture.any() and not weight.any()
    texture, weight = back_project(render, image, 0, 0)
    assert torch.isfinite(texture).all() and torch.isfinite(weight).all() and float(weight.sum()) > 100.0
    seen = weight[..., 0] > 0
    assert torch.allclose(texture[seen] / weight[seen], torch.tensor(0.5), atol=1e-4)


def test_the_bakes_take_each_cameras_pixels_as_the_condition_renders_found_them() -> None:
    """The condition renders rasterize each camera once; the colour's bake and the material maps' take the
    trusted pixels found then, and give what a bake of their own gives."""
    from img23d_backend.families.hunyuan3d.paint import _bake, _render_conditions

    settings = PaintSettings(texture_size=64, render_size=128, view_size=64)
    render = _mesh_renderer(with_uvs(trimesh.creation.icosphere(1), None), settings, "cpu")
    generator = torch.Generator().manual_seed(5)
    colour, maps = (torch.rand(settings.views, 3, 64, 64, generator=generator) for _ in range(2))
    geometry: dict = {}
    rasterized = []
    rasterize = render.raster_rasterize
    render.raster_rasterize = lambda *args, **kwargs: rasterized.append(1) or rasterize(*args, **kwargs)
    _render_conditions(render, settings, geometry)
    assert len(rasterized) == settings.views and len(geometry) == settings.views
    first = _bake(render, colour, settings, lambda message: None, geometry)
    second = _bake(render, maps, settings, lambda message: None, geometry)
    assert len(rasterized) == settings.views   # none more
    for views, baked in ((colour, first), (maps, second)):
        alone = _bake(render, views, settings, lambda message: None)
        assert torch.equal(baked[0], alone[0]) and torch.equal(baked[1], alone[1])
    assert not torch.equal(first[0], second[0])
