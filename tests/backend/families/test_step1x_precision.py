"""The precision Step1X-3D's geometry models run in: one decision per device, the loader following it,
and latents that stay float32 between steps whatever the networks compute in.

The devices this machine lacks are described by hand (``DeviceKind``); the networks run on the CPU
in bf16 and fp16, which torch computes there as well.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image, ImageDraw

from img23d_backend.families.step1x.geometry import generate
from img23d_backend.families.step1x.geometry.generate import GeometrySettings, denoise
from img23d_backend.families.step1x.geometry.loader import load_geometry, step1x_loader
from img23d_backend.models import dtypes
from img23d_backend.families.step1x.specs import step1x_precision
from img23d_backend.models.dtypes import DeviceKind, Precision, device_kind
from img23d_backend.catalog import tiny_model_set


@pytest.mark.parametrize("capability", [(8, 0), (8, 6), (9, 0), (12, 0)])
def test_cuda_from_ampere_on_runs_bf16_unchecked(capability: tuple[int, int]) -> None:
    precision = step1x_precision(DeviceKind("cuda", capability))
    assert precision == Precision("bfloat16") and precision.dtype is torch.bfloat16
    assert (precision.bytes_per_parameter, precision.retry_bytes_per_parameter) == (2, 0)


@pytest.mark.parametrize("capability", [(7, 5), (7, 0), (6, 1)])
def test_older_cuda_runs_fp16_with_the_check(capability: tuple[int, int]) -> None:
    precision = step1x_precision(DeviceKind("cuda", capability))
    assert precision == Precision("float16", checked=True) and precision.dtype is torch.float16
    # The float32 retry widens every parameter from 2 bytes to 4 while it runs.
    assert (precision.bytes_per_parameter, precision.retry_bytes_per_parameter) == (2, 2)


def test_rocm_runs_bf16() -> None:
    assert step1x_precision(DeviceKind("cuda", (9, 4), hip=True)) == Precision("bfloat16")


def test_apple_gpus_run_fp32() -> None:
    assert step1x_precision(DeviceKind("mps")) == Precision("float32")


def test_the_cpu_runs_fp32() -> None:
    assert device_kind(torch.device("cpu")) == DeviceKind("cpu")
    assert device_kind("cpu") == DeviceKind("cpu")
    precision = step1x_precision(device_kind(torch.device("cpu")))
    assert precision == Precision("float32") and (precision.bytes_per_parameter, precision.retry_bytes_per_parameter) == (4, 0)


@pytest.mark.parametrize(("kind", "expected"), [(DeviceKind("cuda", (8, 9)), torch.bfloat16),
                                                 (DeviceKind("cuda", (7, 5)), torch.float16),
                                                 (DeviceKind("cpu"), torch.float32)])
def test_the_managers_loader_loads_in_the_devices_precision(tiny_root: Path, monkeypatch: pytest.MonkeyPatch,
                                                           kind: DeviceKind, expected: torch.dtype) -> None:
    monkeypatch.setattr(dtypes, "device_kind", lambda device: kind)
    spec = tiny_model_set(tiny_root, family="clean").shape
    model = step1x_loader(spec)(spec.local_path, torch.device("cpu")).obj
    assert {p.dtype for module in model.modules for p in module.parameters() if p.is_floating_point()} == {expected}
    assert model.checked is (expected == torch.float16)


def _disc() -> Image.Image:
    image = Image.new("RGBA", (96, 96), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((20, 20, 76, 76), fill=(200, 60, 40, 255))
    return image


def test_latents_stay_float32_between_steps_while_the_denoiser_runs_bf16(tiny_root: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tiny_model_set(tiny_root, family="clean").shape
    model = load_geometry(spec.local_path / spec.subfolder, "cpu", torch.bfloat16)
    fed: list[torch.dtype] = []
    model.denoiser.register_forward_pre_hook(lambda module, args: fed.append(args[0].dtype))
    stepped: list[tuple[torch.dtype, torch.dtype, torch.dtype]] = []
    make_scheduler = generate._scheduler

    def recording_scheduler(geometry: Any) -> Any:
        scheduler = make_scheduler(geometry)
        step = scheduler.step

        def recorded(velocity: torch.Tensor, timestep: Any, sample: torch.Tensor, **kwargs: Any) -> Any:
            result = step(velocity, timestep, sample, **kwargs)
            stepped.append((velocity.dtype, sample.dtype, result[0].dtype))
            return result

        scheduler.step = recorded
        return scheduler

    monkeypatch.setattr(generate, "_scheduler", recording_scheduler)
    latents = denoise(model, [_disc()], [7], GeometrySettings(steps=4))
    assert fed == [torch.bfloat16] * 4                              # the network is fed its dtype
    assert stepped == [(torch.float32, torch.float32, torch.float32)] * 4   # the Euler step is float32
    assert latents.dtype == torch.float32 and bool(torch.isfinite(latents).all())
    # Not rounded to bf16 between steps: bf16 keeps 8 bits of mantissa, these latents more.
    assert not torch.equal(latents, latents.to(torch.bfloat16).float())


def test_the_label_model_follows_the_same_rule(tiny_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dtypes, "device_kind", lambda device: DeviceKind("cuda", (8, 0)))
    spec = tiny_model_set(tiny_root, family="clean", shape="step1x-label").shape
    model = step1x_loader(spec)(spec.local_path, torch.device("cpu")).obj
    assert model.label is not None
    assert {p.dtype for module in model.modules for p in module.parameters() if p.is_floating_point()} == {torch.bfloat16}
    latents = denoise(model, [_disc()], [3], GeometrySettings(steps=2))
    assert latents.dtype == torch.float32 and bool(torch.isfinite(latents).all())
