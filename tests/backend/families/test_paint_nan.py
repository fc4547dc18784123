"""Paint models whose output is not a number: run again in fp32, or the target says so; never black.

Half precision can overflow (fp16 on Apple GPUs), and NaN views baked into a texture come out
black. The tiny paint models run in fp16 on the CPU here, as they would on a GPU, and a wrapper
around a pipeline turns chosen calls' output into NaN, as an overflow does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from PIL import Image, ImageDraw

from img23d_backend.env.torch_shims import prepare_torchvision

prepare_torchvision()

import torch  # noqa: E402
import trimesh  # noqa: E402

from stand_ins import StandInMatting  # noqa: E402
from testdata import FAST_OPTIONS, FAST_PAINT  # noqa: E402
from img23d_backend.jobs import loaders  # noqa: E402
from img23d_backend.jobs import Engine, EngineSettings, Job  # noqa: E402
from img23d_backend.models.placement import LoadedModel  # noqa: E402
from img23d_backend.env.room_table import Held  # noqa: E402
from img23d_backend.matting.table import MATTING_CODE  # noqa: E402
from img23d_backend.catalog import tiny_model_set  # noqa: E402
from img23d_backend.grounding import driver as grounding
from img23d_backend.families.hunyuan3d import paint_models  # noqa: E402
from img23d_backend.env.job_control import CancelToken# noqa: E402
from img23d_backend.families.hunyuan3d.paint import PaintSettings, paint_mesh  # noqa: E402
from img23d_backend.families.hunyuan3d.paint_models import NotFinite, delight_loader, multiview_loader  # noqa: E402
from img23d_protocol import Error, GenerateRequest, JobOptions  # noqa: E402

pytestmark = pytest.mark.lane_a  # whole jobs in this process, run in lane A for the lanes' balance (pytest.ini)

CPU = torch.device("cpu")
FAST = dict(texture_size=128, render_size=64, view_size=64, delight_steps=2, multiview_steps=2)


class Poisoned:
    """A diffusers pipeline whose output is NaN on the calls numbered in ``nan_on`` (from 1);
    it records the weights' dtype of every call."""

    def __init__(self, pipeline: Any, nan_on: set[int]) -> None:
        self._pipeline = pipeline
        self.nan_on = nan_on
        self.dtypes: list[torch.dtype] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipeline, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.dtypes.append(next(self._pipeline.unet.parameters()).dtype)
        output = self._pipeline(*args, **kwargs)
        if len(self.dtypes) in self.nan_on:
            output.images = output.images * float("nan")
        return output


@pytest.fixture(scope="module")
def half_models(tiny_root: Path) -> tuple[Any, Any]:
    """The tiny delight and multiview models, loaded in fp16 as on a GPU (the 2.0 multiview model:
    ``Poisoned`` wraps its pipeline call, which the turbo model does not make)."""
    models = tiny_model_set(tiny_root, paint="2.0")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(paint_models, "working_dtype", lambda device: torch.float16)
        delighter = delight_loader(models.delight)(models.delight.local_path, CPU).obj
        multiview = multiview_loader(models.paint)(models.paint.local_path, CPU).obj
    return delighter, multiview


@pytest.fixture()
def poison(half_models) -> Iterator[Any]:
    """poison(wrapper, calls) -> the Poisoned pipeline now inside ``wrapper``; undone after the test."""
    undo = []

    def apply(wrapper: Any, nan_on: set[int]) -> Poisoned:
        undo.append((wrapper, wrapper.pipeline))
        wrapper.pipeline = Poisoned(wrapper.pipeline, nan_on)
        return wrapper.pipeline

    yield apply
    for wrapper, pipeline in undo:
        wrapper.pipeline = pipeline


def _paint(half_models, keep: dict | None = None) -> trimesh.Trimesh:
    delighter, multiview = half_models
    pixels = np.zeros((160, 200, 4), dtype=np.uint8)
    pixels[30:130, 40:150] = (220, 120, 40, 255)
    return paint_mesh(trimesh.creation.icosphere(subdivisions=2), Image.fromarray(pixels, "RGBA"),
                      delighter=delighter, multiview=multiview, settings=PaintSettings(**FAST), device=CPU,
                      cancel=CancelToken(), progress=lambda *args: None, keep=keep)


def _black_fraction(mesh: trimesh.Trimesh) -> float:
    texture = np.asarray(mesh.visual.material.baseColorTexture.convert("RGB"))
    return float((texture.max(axis=-1) < 8).mean())


@pytest.mark.parametrize("which", [0, 1], ids=["delight", "multiview"])
def test_output_that_is_not_a_number_in_half_precision_is_made_again_in_fp32(half_models, poison, which) -> None:
    wrapper = half_models[which]
    pipeline = poison(wrapper, nan_on={1})
    keep: dict = {}
    painted = _paint(half_models, keep)
    assert pipeline.dtypes == [torch.float16, torch.float32]
    assert keep["redone_in_fp32"] == [wrapper.name]
    assert _black_fraction(painted) < 0.5
    assert all(next(m.parameters()).dtype == torch.float16 for m in wrapper.modules)  # as the manager placed it


@pytest.mark.parametrize("which", [0, 1], ids=["delight", "multiview"])
def test_output_still_not_a_number_in_fp32_raises_instead_of_painting_black(half_models, poison, which) -> None:
    wrapper = half_models[which]
    pipeline = poison(wrapper, nan_on={1, 2})
    with pytest.raises(NotFinite) as caught:
        _paint(half_models)
    assert pipeline.dtypes == [torch.float16, torch.float32] and caught.value.model == wrapper.name
    assert all(next(m.parameters()).dtype == torch.float16 for m in wrapper.modules)


def test_a_model_already_in_fp32_is_not_run_again(half_models, poison) -> None:
    _, multiview = half_models
    pipeline = poison(multiview, nan_on={1, 2})
    with multiview.full_precision(), pytest.raises(NotFinite):
        _paint(half_models)
    assert pipeline.dtypes == [torch.float32]


# ------------------------------------------------------------------------------ in a job

RED_BOX, BLUE_BOX = (120, 100, 220, 200), (220, 70, 320, 230)


def _two_boxes(path: Path) -> Path:
    picture = Image.new("RGB", (440, 300), (255, 255, 255))
    draw = ImageDraw.Draw(picture)
    draw.rectangle((RED_BOX[0], RED_BOX[1], RED_BOX[2] - 1, RED_BOX[3] - 1), fill=(170, 20, 20))
    draw.rectangle((BLUE_BOX[0], BLUE_BOX[1], BLUE_BOX[2] - 1, BLUE_BOX[3] - 1), fill=(20, 20, 170))
    picture.save(path)
    return path


def _answer() -> grounding.GroundingAnswer:  # a box each, in the 440 x 300 picture's pixels
    found = [grounding.Detection("red box", RED_BOX), grounding.Detection("blue box", BLUE_BOX)]
    return grounding.GroundingAnswer(found, tokens=60, budget=126)


def test_a_target_whose_views_are_never_numbers_fails_saying_so_and_the_next_is_painted(
        tiny_root: Path, tmp_path: Path, monkeypatch) -> None:
    # In fp16 as on a GPU. Calls 1-2 (red box: fp16, then fp32) give NaN; call 3 (blue box, fp16)
    # gives NaN once and is made again in fp32 (call 4).
    monkeypatch.setattr(paint_models, "working_dtype", lambda device: torch.float16)
    poisoned: list[Poisoned] = []

    def poisoned_loader(spec: Any) -> Any:
        def load(folder: Path, device: Any) -> LoadedModel:
            loaded = multiview_loader(spec)(folder, device)
            loaded.obj.pipeline = Poisoned(loaded.obj.pipeline, nan_on={1, 2, 3})
            poisoned.append(loaded.obj.pipeline)
            return loaded
        return load

    stand_in = StandInMatting()
    monkeypatch.setitem(loaders.LOADERS, "paint", poisoned_loader)
    monkeypatch.setitem(loaders.LOADERS, "matting",
                        lambda spec: lambda folder, device: LoadedModel(obj=Held(MATTING_CODE["birefnet"], stand_in),
                                                                 modules=[stand_in]))
    monkeypatch.setattr(grounding, "ask", lambda *args, **kwargs: _answer())
    engine = Engine(EngineSettings(models=tiny_model_set(tiny_root, paint="2.0"), runs_dir=tmp_path / "runs",
                                   device="cpu"))
    events: list = []
    request = GenerateRequest(id="t", image=str(_two_boxes(tmp_path / "pair.png")), targets=["red box", "blue box"],
                              options=JobOptions(**{**FAST_OPTIONS, **FAST_PAINT, "margin": 0.3}))
    data = engine.run(request, Job(id="t", emit=events.append))

    [pipeline] = poisoned
    assert pipeline.dtypes == [torch.float16, torch.float32, torch.float16, torch.float32]
    red, blue = data.targets
    [error] = [e for e in events if isinstance(e, Error) and e.target == "red box"]
    assert error.code == "internal"
    assert "invalid values (NaN or inf) for 'red box'" in error.message and "untextured" in error.message
    assert not red.textured and blue.textured
    manifest = json.loads(Path(data.manifest).read_text())
    [redone] = [e for e in manifest["errors"] if e.get("retried") and e.get("target") == "blue box"]
    assert "multiview" in redone["message"] and "fp32" in redone["message"]
    assert not [e for e in events if isinstance(e, Error) and e.target == "blue box"]
