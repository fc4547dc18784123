"""The depth pass: its tiny replica through the production loader, the matte statistic, and what
a generate job records (the depth map, each statistic, the camera, each placement)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from testdata import FAST_OPTIONS, HOUSE
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_protocol.layout import LayoutSettings, solve, targets_from_records
from img23d_backend.models import hub
from img23d_backend.catalog import DEPTH
from img23d_backend.catalog import tiny_model_set
from img23d_protocol import Artifact, ErrorCode, GenerateRequest, JobOptions, ProtocolError, TargetRecord
from img23d_backend.layout.scene import mesh_extents
from img23d_backend.env.job_control import CancelToken
from img23d_backend.depth.driver import DepthMap, depth_loader, estimate_depth, matte_statistic, measured_values
from img23d_backend.env.torch_shims import prepare_torchvision


@pytest.fixture(scope="module")
def engine(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    # Depth Anything V2 Small's module: its replica, whatever the default depth model is.
    return Engine(EngineSettings(models=tiny_model_set(tiny_root, depth="da2-small"),
                                 runs_dir=tmp_path_factory.mktemp("runs"), device="cpu"))


# --- the replica, loaded as production loads the real model --------------------------------------

def test_the_tiny_replica_is_complete_and_loads_through_the_production_loader(tiny_root: Path) -> None:
    import torch

    prepare_torchvision()  # what the model manager does before any load
    from transformers import DepthAnythingForDepthEstimation, DPTImageProcessor

    spec = tiny_model_set(tiny_root, depth="da2-small").depth
    folder = hub.resolve_model_dir(spec)  # checks every file the loader reads is there
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "depth_anything" and config["backbone_config"]["model_type"] == "dinov2"
    assert config["depth_estimation_type"] == "relative"
    loaded = depth_loader(spec)(folder, torch.device("cpu"))   # the manager's loader: the spec's model's
    assert isinstance(loaded.obj.model.model, DepthAnythingForDepthEstimation)
    assert isinstance(loaded.obj.model.processor, DPTImageProcessor)
    picture = Image.open(HOUSE).convert("RGB").resize((320, 200))
    depth = estimate_depth(loaded.obj, picture, CancelToken())
    assert depth.values.shape == (200, 320) and depth.kind == "disparity" and depth.fov_degrees is None
    assert np.isfinite(depth.values).all() and depth.values.min() > 0
    assert depth.values.std() > 0.01  # it varies over the picture: a statistic can tell targets apart
    cancelled = CancelToken()
    cancelled.cancel()
    with pytest.raises(ProtocolError) as caught:
        estimate_depth(loaded.obj, picture, cancelled)
    assert caught.value.code is ErrorCode.CANCELLED


def test_a_replica_without_its_processor_is_incomplete(tiny_root: Path, tmp_path: Path) -> None:
    import shutil

    spec = tiny_model_set(tmp_path, depth="da2-small").depth
    shutil.copytree(tiny_root / "depth-anything", spec.local_path)
    (spec.local_path / "preprocessor_config.json").unlink()
    with pytest.raises(ProtocolError) as caught:
        hub.resolve_model_dir(spec)
    assert caught.value.code is ErrorCode.MODEL_MISSING and "preprocessor_config.json" in caught.value.message


def test_the_real_model_is_pinned_and_fetches_only_what_the_loader_reads() -> None:
    spec = DEPTH["da2-small"]
    assert spec.repo_id == "depth-anything/Depth-Anything-V2-Small-hf" and len(spec.revision) == 40
    assert set(spec.allow_patterns) == {"config.json", "preprocessor_config.json", "model.safetensors"}
    assert not spec.trust_remote_code


# --- the statistic -----------------------------------------------------------------------------

def test_the_statistic_is_the_median_over_the_opaque_matte() -> None:
    depth = np.full((100, 120), 0.2, dtype=np.float32)       # background, far
    depth[40:80, 50:90] = 2.0                                 # the object, near
    depth[40:42, 50:90] = np.nan                              # a few pixels the model could not say
    rect = (40, 30, 100, 90)                                  # the crop around it
    alpha = np.zeros((60, 60), dtype=np.uint8)
    alpha[10:50, 10:50] = 255                                 # the matte over the object
    alpha[8:10, 8:52] = 200                                   # a soft edge on the background
    alpha[50:52, 10:50] = 60                                  # too faint to count
    stat = matte_statistic(depth, alpha, rect)
    assert stat is not None and stat.disparity == pytest.approx(2.0)
    assert stat.pixels == 40 * 40 - 2 * 40 + 2 * 44
    assert matte_statistic(depth, np.zeros((60, 60), np.uint8), rect) is None
    with pytest.raises(ValueError, match="crop"):
        matte_statistic(depth, alpha[:50], rect)


# --- the job records the scene ------------------------------------------------------------------

def test_a_job_records_the_depth_map_statistics_camera_and_placements(engine: Engine) -> None:
    events: list = []
    options = JobOptions(**{**FAST_OPTIONS, "fov_degrees": 62.0, "keep": "all"})
    request = GenerateRequest(id="scene", image=str(HOUSE), targets=["house", "barrel"], options=options)
    data = engine.run(request, Job(id="scene", emit=events.append))
    run = Path(data.run_dir)
    manifest = json.loads((run / "manifest.json").read_text())
    depth = manifest["scene"]["depth"]
    assert depth["model"] == "tiny/depth-anything" and depth["kind"] == "disparity"
    saved = np.load(run / depth["map"])
    assert saved.shape == (1024, 1024) and saved.dtype == np.float32 and depth["map_size"] == [1024, 1024]
    assert Image.open(run / depth["preview"]).size == (1024, 1024)
    assert manifest["scene"]["layout"] == {"fov_degrees": 62.0, "ground": True, "near_distance": 4.0, "metric": False,
                                           "floor": None}  # a relative map has no points to measure a floor in
    assert "floor" not in manifest["scene"]
    assert manifest["scene"]["scale"].startswith("relative: the nearest object put 4 m from the camera")
    camera = manifest["scene"]["camera"]
    assert camera["fov_degrees"] == 62.0 and camera["width"] == camera["height"] == 1024
    assert camera["sensor_fit"] == "HORIZONTAL" and len(camera["rotation_euler"]) == 3
    records = manifest["records"]
    assert [r["stem"] for r in records] == ["house", "barrel", "barrel-2", "barrel-3"]
    assert all(r["depth"]["pixels"] > 0 and r["depth"]["disparity"] > 0 for r in records)
    # Each placement follows from what the folder keeps: boxes, statistics, image size, settings.
    layout = solve(manifest["image"]["original_size"], targets_from_records(TargetRecord.from_dict(r) for r in records),
                   LayoutSettings(**manifest["scene"]["layout"]))
    for record in records:
        mesh = trimesh.load(run / record["mesh"], force="mesh")
        again = layout.place(record["stem"], mesh_extents(mesh)).to_dict()
        assert _close(again, record["placement"]), (again, record["placement"])
        assert record["placement"]["scale"] > 0
    kinds = [e.kind for e in events if isinstance(e, Artifact)]
    assert kinds.index("layout") < kinds.index("mesh")  # the add-on can lay out the first mesh


def _close(a: dict, b: dict) -> bool:
    return (a["key"] == b["key"] and a["on_floor"] == b["on_floor"]
            and np.allclose(a["location"], b["location"], rtol=1e-4, atol=1e-6)
            and all(abs(a[k] - b[k]) <= 1e-4 * max(1.0, abs(b[k])) for k in ("yaw", "scale", "distance")))


def test_without_a_depth_model_objects_are_laid_out_by_their_boxes(tiny_root: Path, tmp_path: Path) -> None:
    import dataclasses

    models = dataclasses.replace(tiny_model_set(tiny_root), depth=None)
    engine = Engine(EngineSettings(models=models, runs_dir=tmp_path, device="cpu"))
    request = GenerateRequest(id="flat", image=str(HOUSE), targets=["chimney", "door"],
                              options=JobOptions(**{**FAST_OPTIONS, "ground": False}))
    data = engine.run(request, Job(id="flat", emit=lambda event: None))
    manifest = json.loads(Path(data.manifest).read_text())
    assert manifest["scene"]["depth"]["model"] is None and not (Path(data.run_dir) / "depth.npy").exists()
    assert [r["depth"] for r in manifest["records"]] == [{"disparity": None, "pixels": 0}] * 2
    placements = [r["placement"] for r in manifest["records"]]
    assert {p["distance"] for p in placements} == {4.0} and not any(p["on_floor"] for p in placements)
    assert manifest["scene"]["camera"]["pitch"] == 0.0


def test_a_depth_model_out_of_memory_places_the_objects_by_their_boxes(engine: Engine, monkeypatch) -> None:
    import torch

    from img23d_backend.layout import scene

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(scene, "estimate_depth", out_of_memory)
    request = GenerateRequest(id="oom", image=str(HOUSE), targets=["house", "chimney"],
                              options=JobOptions(**FAST_OPTIONS))
    data = engine.run(request, Job(id="oom", emit=lambda event: None))
    manifest = json.loads(Path(data.manifest).read_text())
    assert manifest["status"] == "finished" and all(t.status == "done" for t in data.targets)
    assert manifest["scene"]["depth"]["model"] is None and "map" not in manifest["scene"]["depth"]
    [error] = manifest["errors"]
    assert error["code"] == ErrorCode.OUT_OF_MEMORY.value and "retried" not in error
    assert error["message"].startswith("the depth model ran out of memory (OutOfMemoryError)")
    assert "placed by their boxes" in error["message"] and "Tried to allocate" in error["detail"]
    assert manifest["depth_skipped"] == data.depth_skipped
    assert data.depth_skipped.startswith("depth skipped: the depth model (tiny/depth-anything) could not be "
                                         "loaded or run: it ran out of memory (OutOfMemoryError)")
    assert all(t["placement"] is not None and t["depth"]["disparity"] is None for t in manifest["records"])


def test_pixels_a_metric_model_saw_no_surface_at_are_not_counted() -> None:
    """MoGe-2's 1 / z is 0 where its mask says nothing is there: a matte half over such pixels took their 0 into its
    median and stood its object twice as far or further (issue 98); only the measured pixels count, and a matte
    over none of them has no statistic (the object is then laid out by its box, as without depth)."""
    values = np.full((40, 40), 0.5, dtype=np.float32)
    mask = np.ones((40, 40), dtype=bool)
    mask[:, :30] = False
    values[~mask] = 0.0
    depth = DepthMap(values, kind="metric", mask=mask)
    alpha = np.full((40, 40), 255, dtype=np.uint8)
    assert matte_statistic(depth.values, alpha, (0, 0, 40, 40)).disparity == 0.0  # what the 0s did
    stat = matte_statistic(measured_values(depth), alpha, (0, 0, 40, 40))
    assert stat.disparity == 0.5 and stat.pixels == 400
    assert matte_statistic(measured_values(depth), alpha[:, :20], (0, 0, 20, 40)) is None
    relative = DepthMap(values)  # no mask: every value counts, as before
    assert measured_values(relative) is relative.values


def test_a_matte_over_no_measured_pixel_is_laid_out_by_its_box_and_the_manifest_says_so() -> None:
    """A point map the model made with NaN, or with no valid pixel under a matte (issue 98): that object has no
    statistic, its record says why, and the layout stands it by its box at the others' median distance."""
    from img23d_backend.layout.scene import NO_STATISTIC, record_statistics

    values = np.full((40, 80), 0.25, dtype=np.float32)
    values[:, 40:] = np.nan                       # the model gave NaN over the right half
    mask = np.ones((40, 80), dtype=bool)
    mask[:, :10] = False                          # and measured nothing at the far left
    live = [TargetRecord("lamp", stem="lamp", box=[0, 0, 10, 40]),
            TargetRecord("pot", stem="pot", box=[45, 0, 80, 40]), TargetRecord("box", stem="box", box=[15, 0, 35, 40])]
    rects = {"lamp": (0, 0, 10, 40), "pot": (45, 0, 80, 40), "box": (15, 0, 35, 40)}
    alphas = {stem: np.full((y1 - y0, x1 - x0), 255, np.uint8) for stem, (x0, y0, x1, y1) in rects.items()}
    record_statistics(DepthMap(values, "metric", mask=mask), live, rects, alphas)
    depth = {record.stem: record.depth for record in live}
    assert depth["box"]["disparity"] == pytest.approx(0.25) and "note" not in depth["box"]
    for stem in ("lamp", "pot"):
        assert depth[stem] == {"disparity": None, "pixels": 0, "note": NO_STATISTIC}
    scene = solve((80, 40), targets_from_records(live), LayoutSettings(metric=True, ground=False))
    assert scene.anchors["lamp"].distance == pytest.approx(4.0) == scene.anchors["pot"].distance
