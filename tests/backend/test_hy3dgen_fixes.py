"""Our corrections to hy3dgen 2.0.2's shape pipeline, on the real code paths with simulated devices."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image

from img23d_backend.models.registry import ModelSpec, tiny_model_set
from img23d_backend.stages import shape
from img23d_backend.stages._common import CancelToken

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
