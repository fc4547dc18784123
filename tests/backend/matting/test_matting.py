"""Matting's numerics: the dtype per device, and mattes that are not numbers never becoming cut-outs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from stand_ins import StandInMatting
from testdata import FAST_OPTIONS, HOUSE
from img23d_backend.jobs import loaders
from img23d_backend.models import preflight
from img23d_backend.matting.memory import matting_batch
from img23d_backend.matting.birefnet.model import MEMORY
from img23d_backend.catalog import MATTING
from img23d_backend.matting.table import input_side
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.models.placement import LoadedModel
from img23d_backend.catalog import tiny_model_set
from img23d_protocol import Error, GenerateRequest, JobOptions, ProtocolError
from img23d_backend.matting import driver as matting
from img23d_backend.env.job_control import CancelToken
from img23d_backend.matting.birefnet import network as birefnet_network
from img23d_backend.matting.birefnet.network import matting_dtype
from img23d_backend.env.room_table import Held
from img23d_backend.matting.table import MATTING_CODE
from img23d_backend.env.torch_shims import prepare_torchvision


def _square_on_white(size: int = 96) -> Image.Image:
    image = Image.new("RGB", (size, size), (255, 255, 255))
    ImageDraw.Draw(image).rectangle((size // 4, size // 4, 3 * size // 4, 3 * size // 4), fill=(40, 40, 40))
    return image


def _matte(model: torch.nn.Module, crops: list[Image.Image]) -> list:
    return matting.matte(Held(MATTING_CODE["birefnet"], model), crops, batch_size=len(crops),
                         cancel=CancelToken(), progress=lambda *args: None, input_size=1024)


@pytest.mark.parametrize("kind, expected", [("cuda", torch.float16), ("mps", torch.float32),
                                            ("cpu", torch.float32)])
def test_birefnet_runs_in_fp32_on_mps(kind: str, expected: torch.dtype) -> None:
    assert matting_dtype(torch.device(kind)) == expected


def test_the_matting_loader_uses_the_matting_dtype(tiny_root: Path, monkeypatch) -> None:
    prepare_torchvision()  # what the loaders' own preparation does; not under test here
    asked = []
    monkeypatch.setattr(birefnet_network, "matting_dtype", lambda device: asked.append(device) or torch.float16)
    spec = tiny_model_set(tiny_root).matting
    loaded = matting.matting_loader(spec)(spec.local_path, torch.device("cpu"))
    assert asked == [torch.device("cpu")] and next(loaded.obj.model.parameters()).dtype == torch.float16


def test_a_half_precision_matte_that_is_not_a_number_is_redone_in_fp32() -> None:
    model = StandInMatting(nan_in=(torch.float16,)).to(torch.float16)
    [cutout] = _matte(model, [_square_on_white()])
    assert isinstance(cutout, Image.Image)
    alpha = np.asarray(cutout.getchannel("A"))
    assert alpha[48, 48] > 250 and alpha[2, 2] < 5  # the square, not an empty cut-out
    assert model.dtypes_seen == [torch.float16, torch.float32]
    assert next(model.parameters()).dtype == torch.float16  # the model is left as the manager placed it


def test_a_matte_that_is_not_a_number_even_in_fp32_is_never_an_empty_cutout() -> None:
    model = StandInMatting(nan_in=(torch.float16, torch.float32)).to(torch.float16)
    results = _matte(model, [_square_on_white(), _square_on_white(64)])
    assert all(isinstance(r, matting.UnusableMatte) and "NaN" in r.reason for r in results)


def test_a_target_whose_matte_is_not_a_number_fails_saying_so(tiny_root: Path, tmp_path: Path,
                                                              monkeypatch) -> None:
    stand_in = StandInMatting(nan_in=(torch.float32,))  # fails in fp32 too: nothing left to retry
    monkeypatch.setitem(loaders.LOADERS, "matting",
                        lambda spec: lambda folder, device: LoadedModel(obj=Held(MATTING_CODE["birefnet"], stand_in),
                                                                 modules=[stand_in]))
    engine = Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path, device="cpu"))
    events: list = []
    request = GenerateRequest(id="t", image=str(HOUSE), targets=["house"], options=JobOptions(**FAST_OPTIONS))
    with pytest.raises(ProtocolError):
        engine.run(request, Job(id="t", emit=events.append))
    [error] = [e for e in events if isinstance(e, Error) and e.target == "house"]
    assert error.code == "shape_failed" and "NaN" in error.message and "empty" not in error.message


GB = 1 << 30


def test_a_batch_holds_the_crops_the_free_memory_holds() -> None:
    """1.03 GB a BiRefNet crop at 1024 in fp16 (the H100's figure): 4 GB free mattes 3 at a time (the
    reserve kept), BiRefNet_HR's crops (four times the pixels) one at a time, 40 GB all eight; on a
    CPU float32 halves the count."""
    assert MEMORY.batch_bytes_per_input_pixel * 1024 * 1024 == pytest.approx(1.03e9, rel=0.01)
    gpu_4 = preflight.Room(host=64 * GB, device=4 * GB, shared=False)
    assert matting_batch(MATTING["birefnet"], "cuda", 8, gpu_4) == 3
    assert matting_batch(MATTING["birefnet-hr"], "cuda", 8, gpu_4) == 1
    assert matting_batch(MATTING["birefnet"], "cuda", 8, preflight.Room(host=64 * GB, device=40 * GB,
                                                                         shared=False)) == 8
    assert matting_batch(MATTING["birefnet"], "cpu", 8, preflight.Room(host=8 * GB)) == 3
    assert matting_batch(MATTING["birefnet"], "cuda", 2, gpu_4) == 2  # never more than there are
    assert matting_batch(MATTING["birefnet"], "cuda", 8, preflight.Room(host=0, device=0, shared=False)) == 1


@pytest.mark.parametrize("crops_held, batches", [(1, [1, 1, 1]), (3, [3])])
def test_a_job_mattes_its_crops_in_batches_the_memory_holds(tiny_root: Path, tmp_path: Path, monkeypatch,
                                                            crops_held: int, batches: list[int]) -> None:
    """Three names, the memory free beside the matting model holding one crop or three: one batch of
    each size the room allows, and no out-of-memory retry."""
    stand_in = StandInMatting()
    monkeypatch.setitem(loaders.LOADERS, "matting",
                        lambda spec: lambda folder, device: LoadedModel(obj=Held(MATTING_CODE["birefnet"], stand_in),
                                                                 modules=[stand_in]))
    models = tiny_model_set(tiny_root)
    per_crop = MEMORY.batch_bytes_per_input_pixel * input_side(models.matting) ** 2 * 2 * (
        models.matting.size_bytes / MEMORY.published_bytes)  # float32 on the CPU, scaled to the replica's size
    room = preflight.Room(host=int(preflight.RESERVE_BYTES + (crops_held + 0.5) * per_crop))
    monkeypatch.setattr(matting, "matting_batch",
                        lambda spec, device, crops: matting_batch(spec, device, crops, room))
    engine = Engine(EngineSettings(models=models, runs_dir=tmp_path, device="cpu"))
    events: list = []
    request = GenerateRequest(id="t", image=str(HOUSE), targets=["house", "chimney", "barrel"],
                              options=JobOptions(**FAST_OPTIONS))
    engine.run(request, Job(id="t", emit=events.append))
    assert stand_in.batches_seen == batches
    manifest = next(tmp_path.glob("*/manifest.json")).read_text()
    assert "ran out of memory" not in manifest
