"""Step1X-3D in float16 (CUDA GPUs before Ampere): a target float16 cannot compute is made again in
float32, and the job says so once.

The overflow is real, not simulated: a copy of the tiny replica whose last layer (the denoiser's
output projection, or the decoder's) is scaled up so that its outputs pass float16's largest
number (65504) while its weights still fit in it, as a real model's activations can. The device
is the CPU described as a Turing GPU (compute capability 7.5), so the production path picks float16
with its check; jobs run through the engine as in test_clean_family_jobs.py.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from safetensors.torch import load_file, save_file

from testdata import FAST_OPTIONS, HOUSE
from img23d_backend.env.job_control import CancelToken
from img23d_backend.families.step1x.geometry import generate as step1x_generate
from img23d_backend.families.step1x.geometry.generate import GeometrySettings, generate_geometry
from img23d_backend.families.step1x.geometry.loader import load_geometry
from img23d_backend.surfaces.volume import GridSettings
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.jobs.steps.shaping import REDONE_IN_FLOAT32
from img23d_backend.models import dtypes, placement, preflight
from img23d_backend.families.step1x.specs import STEP1X_WEIGHTS
from img23d_backend.models.placement import LoadedModel
from img23d_backend.models.preflight import Room, shape_need
from img23d_backend.catalog import tiny_model_set
from img23d_protocol import GenerateJobResult, GenerateRequest, JobOptions, Progress, ProtocolError

BOXES = {"chimney": [600.0, 80.0, 760.0, 600.0], "door": [365.0, 600.0, 460.0, 840.0]}
TURING = dtypes.DeviceKind("cuda", (7, 5))
# (part, layer, factor): outputs past 65504, weights within it (the decoder's reach 50 already).
LATENTS_OVERFLOW = ("transformer", "dit_model.proj_out", 1e5)
FIELD_OVERFLOW = ("vae", "decoder.output_proj", 1e3)


def _overflowing(root: Path, tiny_root: Path, part: str, layer: str, factor: float) -> Path:
    """A copy of the tiny geometry replica whose ``layer`` in ``part`` is scaled by ``factor``."""
    spec = tiny_model_set(tiny_root, family="clean").shape
    copy = root / "step1x-3d"
    shutil.copytree(spec.local_path, copy)
    path = copy / spec.subfolder / part / STEP1X_WEIGHTS
    state = load_file(str(path))
    for name in (f"{layer}.weight", f"{layer}.bias"):
        state[name] = state[name] * factor
    assert state[f"{layer}.weight"].abs().max() < 65504
    save_file(state, str(path))
    return copy


def _engine(tiny_root: Path, folder: Path, runs: Path) -> Engine:
    models = tiny_model_set(tiny_root, family="clean")
    return Engine(EngineSettings(models=replace(models, shape=replace(models.shape, local_path=folder)),
                                 runs_dir=runs, device="cpu"))


@pytest.fixture
def turing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dtypes, "device_kind", lambda device: TURING)


@pytest.fixture
def sampled(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, torch.dtype]]:
    """(images, the weights' dtype) of each call of Step1X-3D's sampler."""
    calls: list[tuple[int, torch.dtype]] = []
    real = step1x_generate.denoise

    def recording(model: Any, images: list[Any], seeds: list[int], *args: Any, **kwargs: Any) -> torch.Tensor:
        calls.append((len(images), model.dtype))
        return real(model, images, seeds, *args, **kwargs)

    monkeypatch.setattr(step1x_generate, "denoise", recording)
    return calls


def _run(engine: Engine, targets: list[str]) -> tuple[GenerateJobResult, list[Any]]:
    events: list[Any] = []
    request = GenerateRequest(id="f", image=str(HOUSE), targets=targets, boxes={t: BOXES[t] for t in targets},
                              options=JobOptions(**FAST_OPTIONS))
    return engine.run(request, Job(id="f", emit=events.append)), events


def _notices(events: list[Any]) -> list[str]:
    return [e.message for e in events if isinstance(e, Progress) and e.message.startswith("shape: float16 gave")]


def test_overflowing_latents_are_made_again_in_float32_and_said_once(
        tiny_root: Path, tmp_path: Path, turing: None, sampled: list, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine(tiny_root, _overflowing(tmp_path, tiny_root, *LATENTS_OVERFLOW), tmp_path / "runs")
    widened, full_precision = [], engine.manager.full_precision
    monkeypatch.setattr(engine.manager, "full_precision", lambda role: widened.append(role) or full_precision(role))
    with caplog.at_level(logging.WARNING):
        data, events = _run(engine, ["chimney", "door"])
    assert [r.status for r in data.targets] == ["done", "done"]
    # The batch in float16, then each target alone with the weights in float32 (by the model manager).
    assert sampled == [(2, torch.float16), (1, torch.float32), (1, torch.float32)]
    assert widened == ["shape", "shape"]
    [notice] = _notices(events)
    assert "latents that are not finite after a denoising step" in notice and "'chimney'" in notice
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("shape: float16 gave")] == [notice]
    manifest = json.loads(Path(data.manifest).read_text())
    [warning] = [w for w in manifest["warnings"] if w["code"] == REDONE_IN_FLOAT32]
    assert warning["targets"] == ["chimney", "door"] and warning["message"] == notice
    # Back in float16 after the retry, at its float16 size, read from disk once.
    model = engine.manager.snapshot()["models"]["shape"]
    with engine.manager.use("shape") as geometry:
        assert geometry.dtype == torch.float16
        assert model["bytes"] == placement.weight_bytes(LoadedModel(obj=geometry, modules=geometry.modules))
    assert engine.manager.counters()["shape"].loads_from_disk == 1


def test_an_overflowing_field_is_made_again_in_float32(tiny_root: Path, tmp_path: Path, turing: None,
                                                      sampled: list) -> None:
    engine = _engine(tiny_root, _overflowing(tmp_path, tiny_root, *FIELD_OVERFLOW), tmp_path / "runs")
    data, events = _run(engine, ["door"])
    assert [r.status for r in data.targets] == ["done"]
    assert sampled == [(1, torch.float16), (1, torch.float32)]
    [notice] = _notices(events)
    assert "a decoded field that is not finite" in notice


def test_a_model_that_computes_in_float16_is_not_redone(tiny_root: Path, tmp_path: Path, turing: None,
                                                       sampled: list) -> None:
    engine = _engine(tiny_root, tiny_model_set(tiny_root, family="clean").shape.local_path, tmp_path / "runs")
    data, events = _run(engine, ["door"])
    assert [r.status for r in data.targets] == ["done"] and sampled == [(1, torch.float16)]
    assert _notices(events) == []
    assert json.loads(Path(data.manifest).read_text())["warnings"] == []


def _disc() -> Image.Image:
    image = Image.new("RGBA", (96, 96), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((20, 20, 76, 76), fill=(200, 60, 40, 255))
    return image


def test_the_redone_target_is_the_float32_run_of_the_same_weights(tiny_root: Path, tmp_path: Path) -> None:
    folder = _overflowing(tmp_path, tiny_root, *LATENTS_OVERFLOW) / tiny_model_set(tiny_root, family="clean").shape.subfolder
    settings = GeometrySettings(steps=3, grid=GridSettings(resolution=32))
    half = load_geometry(folder, "cpu", torch.float16)
    redone: list[tuple[int, str]] = []
    [mesh] = generate_geometry(half, [_disc()], [4], settings, cancel=CancelToken(), progress=lambda *a: None,
                               on_redo=lambda index, why: redone.append((index, why)))
    assert redone == [(0, "latents that are not finite after a denoising step")]
    assert half.dtype == torch.float16
    # The retry computes in float32 on the float16 weights widened (exactly): the same as a model
    # loaded in float16 and cast to float32 for good.
    widened = load_geometry(folder, "cpu", torch.float16)
    for module in widened.modules:
        module.float()
    [expected] = generate_geometry(widened, [_disc()], [4], settings, cancel=CancelToken(), progress=lambda *a: None)
    assert mesh is not None and len(mesh.faces) > 0
    np.testing.assert_array_equal(mesh.vertices, expected.vertices)
    np.testing.assert_array_equal(mesh.faces, expected.faces)


def test_a_float32_retry_that_cannot_fit_fails_its_target_alone_and_says_why(
        tiny_root: Path, tmp_path: Path, turing: None, sampled: list, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine(tiny_root, _overflowing(tmp_path, tiny_root, *LATENTS_OVERFLOW), tmp_path / "runs")
    memory = engine.shape_memory
    # Room for the float16 run (its 16-bit activations), not for one target's float32 run.
    room = Room(host=shape_need(FAST_OPTIONS["octree_resolution"], 1, memory=memory).host + 2 * preflight.RESERVE_BYTES)
    assert not room.fits(preflight.retry_need(FAST_OPTIONS["octree_resolution"], memory=memory))
    monkeypatch.setattr(preflight, "total_room", lambda device: room)
    monkeypatch.setattr(preflight, "free_room", lambda device: room)
    with pytest.raises(ProtocolError, match="no target produced a mesh"):
        _run(engine, ["door"])
    [run] = (tmp_path / "runs").iterdir()
    manifest = json.loads((run / "manifest.json").read_text())
    [record] = manifest["records"]
    assert record["status"] == "failed" and record["error"]["code"] == "out_of_memory"
    assert record["error"]["message"].startswith("float16 gave latents that are not finite after a denoising step "
                                                 "for 'door', and making it again in float32 needs about ")
    assert sampled == [(1, torch.float16)]   # never tried: running out of memory there helps no one
