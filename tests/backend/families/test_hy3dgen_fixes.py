"""Our corrections to hy3dgen 2.0.2's shape pipeline, on the real code paths with simulated devices."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from img23d_backend.env.job_control import CancelToken
from img23d_backend.env.torch_shims import prepare_torchvision
from img23d_backend.families.hunyuan3d import hy3dgen_fixes, shape, shape_decode
from img23d_backend.models.registry import ModelSpec
from img23d_backend.catalog import tiny_model_set

TURBO_SCHEDULER = """scheduler:
  target: hy3dgen.shapegen.schedulers.ConsistencyFlowMatchEulerDiscreteScheduler
  params:
    num_train_timesteps: 1000
    pcm_timesteps: 100
"""


class RefusesFloat64OnMPS:
    """``Tensor.to`` as MPS answers it: float64 cannot go onto the device.

    Nothing here has an MPS device, so a tensor sent to "mps" stays on the CPU; every move is
    recorded with the dtype it arrived in.
    """

    def __init__(self, real) -> None:
        self.real = real
        self.moved: list[torch.dtype] = []

    def __call__(self, tensor: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        device, dtype, non_blocking, _ = torch._C._nn._parse_to(*args, **kwargs)
        if device is None or device.type != "mps":
            return self.real(tensor, *args, **kwargs)
        arriving = dtype or tensor.dtype
        if arriving == torch.float64:
            raise TypeError("Cannot convert a MPS Tensor to float64 dtype as the MPS framework doesn't "
                            "support float64. Please use float32 instead.")
        self.moved.append(arriving)
        return self.real(tensor, dtype=arriving, non_blocking=non_blocking)


@pytest.fixture()
def turbo_spec(tiny_root: Path, tmp_path: Path) -> ModelSpec:
    """The tiny shape replica with the turbo variants' scheduler, as their config.yaml names it."""
    tiny = tiny_model_set(tiny_root).shape
    folder = tmp_path / "turbo"
    shutil.copytree(tiny.local_path, folder)
    config = folder / tiny.subfolder / "config.yaml"
    text = config.read_text()
    start = text.index("scheduler:")
    end = text.index("image_processor:")
    config.write_text(text[:start] + TURBO_SCHEDULER + text[end:])
    return ModelSpec(role="shape", repo_id="tiny/turbo", local_path=folder, subfolder=tiny.subfolder,
                     size_bytes=tiny.size_bytes)


def test_a_turbo_schedule_runs_on_a_device_without_float64(turbo_spec: ModelSpec, monkeypatch) -> None:
    pipe = shape.shape_loader(turbo_spec)(turbo_spec.local_path, torch.device("cpu")).obj
    from hy3dgen.shapegen.pipelines import retrieve_timesteps  # importable once the loader prepared torchvision

    assert type(pipe.scheduler).__name__ == "ConsistencyFlowMatchEulerDiscreteScheduler"
    device = RefusesFloat64OnMPS(torch.Tensor.to)
    monkeypatch.setattr(torch.Tensor, "to", lambda tensor, *args, **kwargs: device(tensor, *args, **kwargs))
    # The pipeline's own timestep and denoising path, with "mps" as its device.
    timesteps, steps = retrieve_timesteps(pipe.scheduler, 5, "mps")
    latents = torch.randn(1, 16, 8)
    for t in timesteps:
        latents = pipe.scheduler.step(torch.randn_like(latents), t, latents).prev_sample
    assert steps == 5 and device.moved and set(device.moved) == {torch.float32}
    assert latents.dtype == torch.float32 and torch.isfinite(latents).all()


def test_a_turbo_model_still_makes_a_mesh(turbo_spec: ModelSpec) -> None:
    pipe = shape.shape_loader(turbo_spec)(turbo_spec.local_path, torch.device("cpu")).obj
    settings = shape.ShapeSettings(steps=3, octree_resolution=32, guidance_scale=5.0, batch_size=0)
    [mesh] = shape.generate_shapes(pipe, [Image.new("RGBA", (64, 64), (120, 80, 40, 255))], [0], settings,
                                   cancel=CancelToken(), progress=lambda *args: None)
    assert mesh is not None and len(mesh.faces) > 0


# --- dual marching cubes (diso) gives meshes in the same frame as marching cubes ----------------

class StandInDiffDMC:
    """diso.DiffDMC's documented contract, on the CPU: the grid padded with +1 (outside), the
    ``isovalue`` level extracted, vertices in grid index units [0, dim - 1] (divided by dim - 1
    with ``normalize=True``), triangles as a long tensor [F, 3]. Marching cubes stands in for
    dual marching cubes: the surfaces differ within a cell, the frame is what is tested."""

    def __init__(self, dtype: torch.dtype = torch.float32, device: str = "cuda:0") -> None:
        self.dtype = dtype

    def to(self, device) -> "StandInDiffDMC":
        return self

    def __call__(self, grid, deform=None, isovalue=0.0, return_quads=False, device="cuda:0", normalize=True):
        from skimage import measure

        dims = torch.tensor(grid.shape, dtype=self.dtype)
        padded = torch.nn.functional.pad(grid, (1, 1, 1, 1, 1, 1), "constant", 1)
        verts, faces, _, _ = measure.marching_cubes(padded.cpu().numpy(), isovalue)
        verts = torch.from_numpy(verts.copy()).to(self.dtype) - 1
        if normalize:
            verts = verts / (dims - 1)
        return verts, torch.from_numpy(faces.copy()).long()


@pytest.fixture()
def diso(monkeypatch) -> types.ModuleType:
    module = types.ModuleType("diso")
    module.__spec__ = importlib.machinery.ModuleSpec("diso", None)
    module.DiffDMC = StandInDiffDMC
    monkeypatch.setitem(sys.modules, "diso", module)
    return module


def _ball_logits(resolution: int, bounds: float = 1.01, centre=(0.3, 0.0, -0.2), radius: float = 0.5):
    """Occupancy logits on hy3dgen's grid (resolution + 1 points a side over [-bounds, bounds])."""
    axis = torch.linspace(-bounds, bounds, resolution + 1)
    x, y, z = torch.meshgrid(axis, axis, axis, indexing="ij")
    distance = ((x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (z - centre[2]) ** 2).sqrt()
    return (radius - distance)[None]  # positive inside, batch of one


def _extent(vertices) -> np.ndarray:
    vertices = np.asarray(vertices)
    return np.stack([vertices.min(axis=0), vertices.max(axis=0)])


def test_dmc_meshes_have_the_size_and_place_of_mc_meshes(diso) -> None:
    prepare_torchvision()
    from hy3dgen.shapegen.models.autoencoders import SurfaceExtractors

    resolution, kwargs = 64, dict(bounds=1.01, mc_level=-1 / 512, octree_resolution=64)
    logits = _ball_logits(resolution)
    [mc] = SurfaceExtractors["mc"]()(logits, **kwargs)
    [ours] = hy3dgen_fixes.surface_extractor(torch.device("cuda"))(logits, **kwargs)
    [theirs] = SurfaceExtractors["dmc"]()(logits, **kwargs)
    cell = 2 * 1.01 / resolution
    assert np.allclose(_extent(ours.mesh_v), _extent(mc.mesh_v), atol=cell)
    # hy3dgen 2.0.2's own DMC: half the size, re-centred on the origin.
    size_ratio = np.ptp(theirs.mesh_v, axis=0) / np.ptp(mc.mesh_v, axis=0)
    assert np.allclose(size_ratio, 1 / 2.02, atol=0.03)


def test_dmc_is_used_only_with_diso_on_cuda(diso, monkeypatch) -> None:
    prepare_torchvision()
    from hy3dgen.shapegen.models.autoencoders import SurfaceExtractors

    assert isinstance(hy3dgen_fixes.surface_extractor(torch.device("cuda")), SurfaceExtractors["dmc"])
    for device in ("cpu", "mps"):
        assert type(hy3dgen_fixes.surface_extractor(torch.device(device))) is SurfaceExtractors["mc"]
    monkeypatch.delitem(sys.modules, "diso")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None)
    assert type(hy3dgen_fixes.surface_extractor(torch.device("cuda"))) is SurfaceExtractors["mc"]


def test_the_shape_stage_gives_one_scale_whichever_extractor(tiny_root: Path, diso, monkeypatch) -> None:
    spec = tiny_model_set(tiny_root).shape
    pipe = shape.shape_loader(spec)(spec.local_path, torch.device("cpu")).obj
    from hy3dgen.shapegen.models.autoencoders import SurfaceExtractors  # importable once the loader ran

    settings = shape.ShapeSettings(steps=2, octree_resolution=48, guidance_scale=5.0, batch_size=0)
    picture = Image.new("RGBA", (64, 64), (120, 80, 40, 255))

    def mesh_with(dmc: bool):
        # Only the choice is forced (this CPU has no CUDA); the extraction is the real code path.
        monkeypatch.setattr(hy3dgen_fixes, "dmc_available", lambda device: dmc)
        [mesh] = shape.generate_shapes(pipe, [picture], [7], settings, cancel=CancelToken(),
                                       progress=lambda *args: None)
        vae = shape_decode.decoding_vae(pipe, settings.decoder)  # the one that extracted
        assert isinstance(vae.surface_extractor, SurfaceExtractors["dmc"]) == dmc
        return mesh

    mc, dmc = mesh_with(False), mesh_with(True)
    assert np.allclose(_extent(dmc.vertices), _extent(mc.vertices), atol=2 * 1.01 / 48)

