"""FlashVDM decoding gives the surface dense decoding gives, at the same scale, with fewer queries.

On the tiny replica, whose occupancy field is near-binary like a trained one's, so FlashVDM's
pruning (refine only near the surface) behaves as it would on real weights. The grid is small
(octree 48, coarse level 11) to keep this cheap; the levels are computed as for octree 256.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.spatial import cKDTree

from img23d_backend.env.torch_shims import prepare_torchvision
from img23d_backend.families.hunyuan3d import shape, shape_decode
from img23d_backend.families.hunyuan3d.hy3dgen_fixes import FlashVDMDecoder, dilate, flashvdm_levels, sign_changes
from img23d_backend.catalog import tiny_model_set
from testdata import SUBJECT

RESOLUTION = 48
VOXEL = 2 * shape_decode.BOUNDS / RESOLUTION


@pytest.fixture(scope="module")
def pipe(tiny_root: Path):
    prepare_torchvision()  # what the model manager does before any loader runs
    spec = tiny_model_set(tiny_root).shape
    return shape.shape_loader(spec)(spec.local_path, torch.device("cpu")).obj


@pytest.fixture(scope="module")
def decoded(pipe):
    latents = pipe(image=Image.open(SUBJECT).convert("RGBA"), num_inference_steps=3, guidance_scale=5.0,
                   generator=torch.Generator().manual_seed(0), output_type="latent", enable_pbar=False)
    return shape_decode.decode_latents(pipe.vae, latents)  # the folder's VAE, for both decoders here


class CountingQueries:
    def __init__(self, geo_decoder) -> None:
        self.geo_decoder, self.count = geo_decoder, 0

    def __call__(self, *, queries, latents):
        self.count += queries.shape[0] * queries.shape[1]
        return self.geo_decoder(queries=queries, latents=latents)

    def __getattr__(self, name):
        return getattr(self.geo_decoder, name)


def dense_mesh(pipe, decoded):
    settings = shape_decode.DecodeSettings(decoder=shape_decode.DENSE, octree_resolution=RESOLUTION)
    return shape_decode.latents_to_mesh(pipe, decoded, settings)


def flash_mesh(pipe, decoded, select_keys: bool, *, frame_fixed: bool = True):
    counter = CountingQueries(pipe.vae.geo_decoder)
    grid, grid_resolution = FlashVDMDecoder(min_resolution=12, select_keys=select_keys)(
        decoded, counter, bounds=shape_decode.BOUNDS, octree_resolution=RESOLUTION, num_chunks=20_000)
    told = grid_resolution if frame_fixed else RESOLUTION  # hy3dgen tells the extractor the octree's
    mesh = shape_decode.extract(shape_decode.surface_extractor(pipe.device), grid, told, RESOLUTION)
    return mesh, counter.count


def distances(a, b) -> tuple[float, float]:
    """(Hausdorff, Chamfer) between two vertex sets, in voxels."""
    ab, ba = cKDTree(b).query(a)[0], cKDTree(a).query(b)[0]
    return max(ab.max(), ba.max()) / VOXEL, (ab.mean() + ba.mean()) / 2 / VOXEL


def test_the_levels_are_hy3dgens() -> None:
    assert flashvdm_levels(256) == [63, 126, 252]  # 253 points a side, not 257
    assert flashvdm_levels(380) == [95, 190, 380]
    assert flashvdm_levels(48, min_resolution=12) == [11, 22, 44]


def test_pruned_decoding_finds_the_dense_surface_within_a_voxel(pipe, decoded) -> None:
    dense = dense_mesh(pipe, decoded)
    flash, queries = flash_mesh(pipe, decoded, select_keys=False)
    hausdorff, _ = distances(np.asarray(dense.vertices), np.asarray(flash.vertices))
    # No inner wall where unrefined points used to read as "outside", nothing misplaced.
    assert hausdorff <= 1.0
    assert np.allclose(np.ptp(flash.vertices, axis=0), np.ptp(dense.vertices, axis=0), atol=VOXEL)
    assert queries < 0.5 * (RESOLUTION + 1) ** 3  # the near-binary field lets it skip most points


def test_with_key_selection_the_surface_stays_within_a_voxel_on_average(pipe, decoded) -> None:
    dense = dense_mesh(pipe, decoded)
    flash, _ = flash_mesh(pipe, decoded, select_keys=True)
    _, chamfer = distances(np.asarray(dense.vertices), np.asarray(flash.vertices))
    assert chamfer <= 1.0


def test_hy3dgens_frame_would_make_the_mesh_small(pipe, decoded) -> None:
    dense = dense_mesh(pipe, decoded)
    theirs, _ = flash_mesh(pipe, decoded, select_keys=False, frame_fixed=False)
    shrink = np.ptp(dense.vertices, axis=0) - np.ptp(theirs.vertices, axis=0)
    assert (shrink > VOXEL).all()  # what the frame correction above removes


def test_the_decoding_attends_without_cudnn_and_leaves_the_switch_as_it_was(pipe, decoded) -> None:
    """Each cell's attention has its own query length: cuDNN would build a plan per new shape (on a
    lent H200 a new object's decoding took about 10 s the first time, 0.7 s the second)."""
    seen: list[bool] = []

    class Watching(CountingQueries):
        def __call__(self, *, queries, latents):
            seen.append(torch.backends.cuda.cudnn_sdp_enabled())
            return super().__call__(queries=queries, latents=latents)

    assert torch.backends.cuda.cudnn_sdp_enabled()
    FlashVDMDecoder(min_resolution=12)(decoded, Watching(pipe.vae.geo_decoder), bounds=shape_decode.BOUNDS,
                                       octree_resolution=RESOLUTION, num_chunks=20_000)
    assert seen and not any(seen)
    assert torch.backends.cuda.cudnn_sdp_enabled()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_the_cells_near_the_surface_are_hy3dgens_and_no_warning_is_given(dtype: torch.dtype) -> None:
    """FlashVDM's near-surface cells: those hy3dgen's ``extract_near_surface_volume_fn`` marks, undecoded cells
    (-10000) left out, on every side and level; hy3dgen's own warned on every shape (a tensor indexed by a list)."""
    import warnings

    prepare_torchvision()
    from hy3dgen.shapegen.models.autoencoders.volume_decoders import extract_near_surface_volume_fn

    generator = torch.Generator().manual_seed(4)
    for side in (5, 17, 33):
        values = torch.randn(side, side, side, generator=generator) * 2
        values[torch.rand(side, side, side, generator=generator) < 0.2] = -10000
        values = values.to(dtype)
        for level in (0.0, 0.3, -1 / 512):
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                found = sign_changes(values, level)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = extract_near_surface_volume_fn(values, level).bool()
            assert torch.equal(found, expected), (side, level)


def test_the_near_cells_grow_by_hy3dgens_3x3x3_maximum() -> None:
    """The refinement grows its near-surface cells by one in every direction: the cells hy3dgen's ``max_pool3d``
    (3 x 3 x 3, stride 1, padded) gives, done as three passes on the bools (a tenth of the pooling's time)."""
    import torch.nn.functional as F

    generator = torch.Generator().manual_seed(5)
    for shape in ((9, 9, 9), (17, 5, 12), (1, 4, 4)):
        mask = torch.rand(shape, generator=generator) > 0.9
        mask[0, 0, 0] = mask[-1, -1, -1] = True  # the corners: the padding must add nothing
        expected = F.max_pool3d(mask[None, None].float(), 3, stride=1, padding=1)[0, 0] > 0
        assert torch.equal(dilate(mask), expected), shape
        assert dilate(mask).dtype == torch.bool and torch.equal(mask, mask.clone())
