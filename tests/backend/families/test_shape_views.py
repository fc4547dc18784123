"""Hunyuan3D-2mv (names with views): its replica loads through the production loader with exactly
hy3dgen's weights, its conditioning and first denoising output are hy3dgen's own pipeline's for the
same views, and a Generate job shapes a target with views by it and one without by the single-view model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from testdata import FAST_OPTIONS, SUBJECT
from img23d_backend.env.torch_shims import prepare_torchvision
from img23d_backend.families.hunyuan3d import shape
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.jobs.kinds.generate import GenerateRun
from img23d_backend.models import preflight
from img23d_backend.models.hub import refuse_unaccepted
from img23d_backend.models.registry import VIEWS_ROLE
from img23d_backend.catalog import model_set, tiny_model_set
from img23d_backend.mesh.shapes import ShapeSettings
from img23d_protocol import (FRONT, SHAPE_MODELS, SIDE_AZIMUTH_DEGREES, SIDES, GenerateRequest, JobOptions,
                             ProtocolError, camera_direction)

CPU = torch.device("cpu")


@pytest.fixture(scope="module", autouse=True)
def _torchvision() -> None:
    prepare_torchvision()  # hy3dgen imports torchvision


def _cutout(colour: tuple[int, int, int], width: int, height: int) -> Image.Image:
    """An RGBA cut-out: a coloured box of ``width`` x ``height`` on transparency, in 96 x 96."""
    pixels = np.zeros((96, 96, 4), dtype=np.uint8)
    top, left = (96 - height) // 2, (96 - width) // 2
    pixels[top:top + height, left:left + width] = (*colour, 255)
    pixels[top + 4:top + 12, left + 2:left + 6] = (250, 250, 250, 255)  # a mark, so flips differ
    return Image.fromarray(pixels, "RGBA")


VIEWS = {"front": _cutout((200, 40, 40), 40, 70), "left": _cutout((40, 200, 40), 24, 70),
         "back": _cutout((40, 40, 200), 40, 70)}


def _first_call(model: torch.nn.Module) -> dict[str, Any]:
    """Records the DiT's first call: its conditioning and its output (the first denoising output)."""
    seen: dict[str, Any] = {}

    def hook(module: Any, args: tuple, kwargs: dict, output: Any) -> None:
        if not seen:
            seen["cond"] = args[2]["main"].clone()
            seen["output"] = output.clone()

    model.register_forward_hook(hook, with_kwargs=True)
    return seen


def test_the_views_model_and_its_loader_follow_the_real_repository() -> None:
    spec = model_set("default").shape_views
    assert spec is not None and spec.role == VIEWS_ROLE
    assert (spec.repo_id, spec.subfolder, spec.revision) == (
        "tencent/Hunyuan3D-2mv", "hunyuan3d-dit-v2-mv-turbo", "3a761b539b29fe4ff64714813aa9560fd66f5de0")
    assert spec.allow_patterns == ("hunyuan3d-dit-v2-mv-turbo/config.yaml",
                                   "hunyuan3d-dit-v2-mv-turbo/model.fp16.safetensors")
    # The single-view model's kind decides: turbo for turbo, the 30-step model for the others.
    assert model_set("default", shape="2.0").shape_views.subfolder == "hunyuan3d-dit-v2-mv"
    assert model_set("default", shape="2mv-fast").shape_views is None  # it takes views itself
    assert model_set("default", family="clean").shape_views is None  # no openly licensed one exists
    assert spec.licence is not None and spec.licence.licence.excluded_territories
    assert SHAPE_MODELS["2mv-turbo"].views and SHAPE_MODELS["2mv-turbo"].steps == 5


def test_the_views_conditioning_and_first_step_are_hy3dgens_own(tiny_root: Path) -> None:
    from hy3dgen.shapegen import Hunyuan3DDiTFlowMatchingPipeline

    spec = tiny_model_set(tiny_root).shape_views
    slow = Hunyuan3DDiTFlowMatchingPipeline.from_pretrained(str(spec.local_path), subfolder=spec.subfolder,
                                                            device="cpu", dtype=torch.float32, use_safetensors=True,
                                                            variant="fp16")
    fast = shape.shape_loader(spec)(spec.local_path, CPU).obj  # the production loader
    assert type(fast.conditioner.main_image_encoder).__name__ == "DinoImageEncoderMV"
    for part in ("model", "vae", "conditioner"):
        expected, got = getattr(slow, part).state_dict(), getattr(fast, part).state_dict()
        assert expected.keys() == got.keys() and all(torch.equal(expected[k], got[k]) for k in expected), part

    theirs, ours = _first_call(slow.model), _first_call(fast.model)
    slow(image=dict(VIEWS), num_inference_steps=2, guidance_scale=5.0, generator=torch.Generator().manual_seed(7),
         output_type="latent", enable_pbar=False)
    # img23d's sampler, as a job runs it: the views in another order (hy3dgen sorts them by its view index).
    settings = ShapeSettings(steps=2, octree_resolution=32, guidance_scale=5.0, batch_size=1)
    shape.generate_shapes(fast, [{"back": VIEWS["back"], "front": VIEWS["front"], "left": VIEWS["left"]}], [7],
                          settings, cancel=_NeverCancelled(), progress=lambda *a: None)
    # Three views' tokens (front, left, back, each with its view embedding), then the unconditioned half.
    assert torch.equal(theirs["cond"], ours["cond"])
    assert torch.equal(theirs["output"], ours["output"])
    # The views count: the front alone conditions the DiT differently.
    alone = _first_call(fast.model)
    shape.generate_shapes(fast, [{"front": VIEWS["front"]}], [7], settings, cancel=_NeverCancelled(),
                          progress=lambda *a: None)
    assert alone["cond"].shape[1] == ours["cond"].shape[1] // 3


class _NeverCancelled:
    cancelled = False

    def check(self) -> None:
        return None


def test_a_job_shapes_a_name_with_views_by_2mv_and_one_without_by_the_single_view_model(
        tiny_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hy3dgen.shapegen import Hunyuan3DDiTFlowMatchingPipeline

    calls: list[tuple[str, list[str]]] = []
    original = Hunyuan3DDiTFlowMatchingPipeline.__call__

    def spy(self, *args, **kwargs):
        calls.append((type(self.image_processor).__name__,
                      [sorted(image) if isinstance(image, dict) else "picture" for image in kwargs["image"]]))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Hunyuan3DDiTFlowMatchingPipeline, "__call__", spy)
    plan = GenerateRun._plan_targets

    def with_views(self, image):  # what the generate-views step leaves in the run: a back cut-out for "x"
        records = plan(self, image)
        for record in records:
            if record.target == "x" and record.candidate_of is None:
                record.views = {"back": f"views_in/{record.stem}/back.png"}
                path = self.run_folder.path(record.views["back"])
                path.parent.mkdir(parents=True, exist_ok=True)
                VIEWS["back"].save(path)
        return records

    monkeypatch.setattr(GenerateRun, "_plan_targets", with_views)
    engine = Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path, device="cpu"))
    request = GenerateRequest(id="v", image=str(SUBJECT), targets=["x", "y"],
                              boxes={"x": [0.0, 0.0, 250.0, 500.0], "y": [250.0, 0.0, 500.0, 500.0]},
                              options=JobOptions(**{**FAST_OPTIONS, "texture": False, "variations": 2}))
    data = engine.run(request, Job(id="v", emit=lambda event: None))
    manifest = json.loads(Path(data.manifest).read_text())
    assert [r["status"] for r in manifest["records"]] == ["done"] * 4
    # The single-view model for "y"'s two candidates (one batch), then Hunyuan3D-2mv's replica for each
    # of "x"'s (its second candidate shares the first's cut-out and views), one object at a time.
    assert calls == [("ImageProcessorV2", ["picture", "picture"]),
                     ("MVImageProcessorV2", [["back", "front"]]), ("MVImageProcessorV2", [["back", "front"]])]
    first = next(r for r in manifest["records"] if r["target"] == "x" and r["candidate_of"] is None)
    assert first["views"] == {"back": f"views_in/{first['stem']}/back.png"}
    # Both went through the manager, the one place that moves weights.
    assert {"shape", VIEWS_ROLE} <= set(engine.manager.snapshot()["models"])



def test_the_sides_turn_a_quarter_per_view_index_of_hy3dgens_image_processor() -> None:
    # hy3dgen's MVImageProcessorV2.view2idx: front 0, left 1, back 2, right 3, a quarter turn each; the
    # example pictures fix the direction (docs/models.md, "Which side is left"): the left camera at +X.
    from hy3dgen.shapegen.preprocessors import MVImageProcessorV2

    view2idx = MVImageProcessorV2().view2idx
    assert set(view2idx) == {FRONT, *SIDES}
    assert {side: 90.0 * index for side, index in view2idx.items()} == SIDE_AZIMUTH_DEGREES
    assert camera_direction("left") == (1.0, 0.0, 0.0) and camera_direction("right") == (-1.0, 0.0, 0.0)


def test_the_preflight_counts_2mv_for_a_job_with_views(tiny_root: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path, device="cpu"))
    options = JobOptions(octree_resolution=64, texture=False)
    single = preflight.shape_need(64, 1, guidance=engine.classifier_free)
    # Room for the single-view model's one target, not for 2mv's (its DiT attends over the views' tokens too).
    room = preflight.Room(host=single.host + preflight.RESERVE_BYTES)
    monkeypatch.setattr(preflight, "total_room", lambda device: room)
    GenerateRun.check_memory(GenerateRequest(id="a", image="a.png", targets=["x"], options=options), engine)
    with pytest.raises(ProtocolError, match="octree resolution 64"):
        GenerateRun.check_memory(GenerateRequest(id="b", image="a.png", targets=["x"], options=options,
                                                 views={"x": {"back": "b.png"}}), engine)


def test_a_job_with_views_asks_for_2mvs_licence_before_anything_is_downloaded(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))  # nothing downloaded
    with_views = GenerateRequest(id="a", image="a.png", targets=["x"], views={"x": {"back": "b.png"}})
    assert VIEWS_ROLE in GenerateRun.roles_used(with_views)
    assert VIEWS_ROLE not in GenerateRun.roles_used(GenerateRequest(id="b", image="a.png", targets=["x"]))
    spec = model_set("default").shape_views
    with pytest.raises(ProtocolError, match="Hunyuan3D-2mv") as refused:
        refuse_unaccepted([spec], set())
    assert refused.value.code.value == "licence_not_accepted" and "South Korea" in refused.value.message
    refuse_unaccepted([spec], {spec.licence.licence.key})  # accepted: on to the download
