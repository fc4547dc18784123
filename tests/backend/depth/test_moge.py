"""MoGe-2 ViT-S with normals, the metric depth model: its tiny replica (the real ``model.pt``'s format) through the
production loader, its map and camera, the focal and shift recovery against a camera of known focal, and a
damaged or foreign ``model.pt`` refused in one sentence naming it. The depth role's contract over its row is
test_role_depth.py's (its parameters are every row of the room's table)."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from role_contracts import LARGE, one_sentence
from testdata import FAST_OPTIONS, HOUSE
from img23d_backend.catalog import tiny_model_set
from img23d_backend.depth.driver import depth_loader, estimate_depth, matte_statistic
from img23d_backend.depth.moge import replica
from img23d_backend.depth.moge.dinov2 import TINY_BACKBONE
from img23d_backend.depth.moge.geometry import metric_geometry, recover_focal_shift
from img23d_backend.depth.moge.network import MoGeModel
from img23d_backend.depth.table import DEPTH_ROWS
from img23d_backend.env.job_control import CancelToken
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.layout.relayout import relayout
from img23d_backend.models import hub
from img23d_backend.models.manager import ModelManager
from img23d_protocol import ErrorCode, GenerateRequest, JobOptions, ProtocolError, model_licence

NAME = "moge2-vits-normal"


@pytest.fixture(scope="module")
def loaded(tiny_root: Path):
    spec = DEPTH_ROWS[NAME].tiny_spec(tiny_root)
    return depth_loader(spec)(hub.resolve_model_dir(spec), torch.device("cpu")).obj


# --- the replica, loaded as production loads the real model -------------------------------------------------

def test_the_replica_is_the_real_files_format_and_loads_through_the_production_loader(tiny_root: Path,
                                                                                     loaded) -> None:
    spec = DEPTH_ROWS[NAME].tiny_spec(tiny_root)
    folder = hub.resolve_model_dir(spec)   # checks every file the loader reads is there
    checkpoint = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)   # no code in it
    assert set(checkpoint) == {"model_config", "model"}
    config = checkpoint["model_config"]
    assert config["encoder"]["backbone"] == TINY_BACKBONE and config["remap_output"] == "exp"
    assert {"points_head", "normal_head", "mask_head", "scale_head"} <= set(config)
    assert all(tensor.dtype == torch.float32 for tensor in checkpoint["model"].values())
    assert loaded.code.name == NAME and isinstance(loaded.model, MoGeModel)
    # Every tensor of the file is the network's, and every one of the network's came from the file.
    assert set(loaded.model.state_dict()) == set(checkpoint["model"])
    assert not any(tensor.is_meta for tensor in loaded.model.state_dict().values())


def test_it_maps_the_picture_in_metres_with_the_camera_it_recovers(loaded) -> None:
    picture = Image.open(HOUSE).convert("RGB").resize((320, 200))
    depth = estimate_depth(loaded, picture, CancelToken())
    assert depth.kind == "metric" and depth.values.shape == (200, 320) and depth.values.dtype == np.float32
    assert depth.points.shape == (200, 320, 3) and depth.points.dtype == np.float32
    assert depth.mask.shape == (200, 320) and depth.mask.dtype == bool and depth.mask.all()   # the replica's
    assert np.isfinite(depth.points).all() and (depth.points[..., 2] > 0).all()
    # values is the metric disparity the statistics read: 1 / z, varying over the picture.
    np.testing.assert_allclose(depth.values, 1 / depth.points[..., 2], rtol=1e-5)
    assert depth.values.std() > 0.01
    assert matte_statistic(depth.values, np.full((50, 60), 255, np.uint8), (10, 20, 70, 70)) is not None
    np.testing.assert_allclose(np.linalg.norm(depth.normals, axis=-1), 1, atol=1e-4)
    # The replica's points are what a pinhole camera of focal replica.FOCAL sees: that camera is recovered.
    focal_px = replica.FOCAL * math.hypot(320, 200) / 2
    assert depth.focal_px == pytest.approx(focal_px, rel=0.01)
    assert depth.fov_degrees == pytest.approx(math.degrees(2 * math.atan(160 / focal_px)), rel=0.01)
    # Each point is on its pixel's ray through that camera: x / z and y / z are the pixel's place over the focal.
    u = (np.arange(320) + 0.5 - 160) / depth.focal_px
    np.testing.assert_allclose(depth.points[..., 0] / depth.points[..., 2], np.broadcast_to(u, (200, 320)),
                               atol=1e-5)


def test_a_cancel_stops_it_before_and_after_the_pass(loaded) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(ProtocolError) as caught:
        estimate_depth(loaded, Image.new("RGB", (32, 24)), token)
    assert caught.value.code is ErrorCode.CANCELLED


def test_a_job_with_it_records_a_metric_map_and_lays_out_with_its_field_of_view(tiny_root: Path,
                                                                             tmp_path: Path) -> None:
    models = dataclasses.replace(tiny_model_set(tiny_root), depth=DEPTH_ROWS[NAME].tiny_spec(tiny_root))
    engine = Engine(EngineSettings(models=models, runs_dir=tmp_path, device="cpu"))
    options = JobOptions(**{**FAST_OPTIONS, "fov_degrees": 62.0, "estimate_fov": True})
    request = GenerateRequest(id="metric", image=str(HOUSE), targets=["house", "chimney"], options=options)
    data = engine.run(request, Job(id="metric", emit=lambda event: None))
    manifest = json.loads(Path(data.manifest).read_text())
    depth = manifest["scene"]["depth"]
    assert depth["model"] == "tiny/moge-2-vits-normal" and depth["kind"] == "metric"
    # The replica's camera (focal replica.FOCAL over the square picture's half diagonal), within a per cent.
    fov = math.degrees(2 * math.atan(1 / (replica.FOCAL * math.sqrt(2))))
    assert depth["fov_estimate"] == pytest.approx(fov, rel=0.01)
    assert manifest["scene"]["camera"]["fov_degrees"] == pytest.approx(fov, rel=0.01)   # the estimate, not 62
    assert all(record["depth"]["disparity"] > 0 for record in manifest["records"])
    # Each mesh fitted to its own points where enough of them meet it (random weights: it may not), and Re-layout
    # stands every object where the backend did, the fit included, from what the run folder keeps.
    again = relayout(Path(data.manifest).parent)
    for record in manifest["records"]:
        assert again.placements[record["stem"]]["location"] == pytest.approx(record["placement"]["location"])


# --- the camera recovery, against a known answer ----------------------------------------------------------

WIDTH, HEIGHT, FOCAL_PX = 160, 120, 150.0     # the picture's half diagonal is 100 pixels: focal 1.5 in its units


def _seen_scene() -> np.ndarray:
    """Camera-frame points [H, W, 3] of a floor 1.5 m below a level camera, a wall 6 m ahead and a box 3 m ahead,
    seen by a pinhole camera of focal ``FOCAL_PX`` (x right, y down, z forward)."""
    x = (np.arange(WIDTH) + 0.5 - WIDTH / 2) / FOCAL_PX
    y = (np.arange(HEIGHT) + 0.5 - HEIGHT / 2) / FOCAL_PX
    rx, ry = np.meshgrid(x, y)
    z = np.minimum(np.where(ry > 0, 1.5 / np.maximum(ry, 1e-9), np.inf), 6.0)
    box = (np.abs(rx) < 0.15) & (ry > -0.1) & (ry < 1.5 / 3)
    z = np.where(box, 3.0, z)
    return np.stack([rx * z, ry * z, z], axis=-1).astype(np.float32)


def _affine_invariant(points: np.ndarray, scale: float, shift: float) -> torch.Tensor:
    """What the network predicts: the points over an unknown scale, moved along z by an unknown shift."""
    found = points / scale
    found[..., 2] -= shift
    return torch.from_numpy(found)


@pytest.mark.parametrize("scale, shift", [(4.0, 0.5), (0.5, -2.0), (10.0, 0.0)])
def test_the_focal_and_shift_of_a_known_camera_are_recovered(scale: float, shift: float) -> None:
    focal, found_shift = recover_focal_shift(_affine_invariant(_seen_scene(), scale, shift), None)
    assert focal == pytest.approx(FOCAL_PX / 100, rel=0.01)
    assert found_shift == pytest.approx(shift, rel=0.01, abs=1e-3)


def test_pixels_outside_the_mask_do_not_move_the_recovered_camera() -> None:
    points = _affine_invariant(_seen_scene(), 4.0, 0.5)
    mask = torch.ones(HEIGHT, WIDTH, dtype=torch.bool)
    mask[:30] = False
    points[:30] = torch.rand(30, WIDTH, 3) * 50 - 25    # sky the model could not place: garbage, masked out
    focal, shift = recover_focal_shift(points, mask)
    assert focal == pytest.approx(1.5, rel=0.01) and shift == pytest.approx(0.5, rel=0.01)
    assert recover_focal_shift(points, torch.zeros(HEIGHT, WIDTH, dtype=torch.bool)) == (1.0, 0.0)  # upstream's


def test_the_metric_points_are_the_scene_in_metres() -> None:
    truth = _seen_scene()
    mask = np.ones((HEIGHT, WIDTH), np.float32)
    mask[:5] = 0.2   # below one half: not a surface
    output = {"points": _affine_invariant(truth, 4.0, 0.5)[None], "mask": torch.from_numpy(mask)[None],
              "metric_scale": torch.tensor([4.0])}
    geometry = metric_geometry(output)
    valid = geometry.mask.numpy()
    assert not valid[:5].any() and valid[5:].all()
    np.testing.assert_allclose(geometry.points.numpy()[valid], truth[valid], rtol=0.01, atol=1e-3)
    assert geometry.fov_degrees == pytest.approx(math.degrees(2 * math.atan(80 / FOCAL_PX)), rel=0.01)
    assert geometry.focal_px == pytest.approx(FOCAL_PX, rel=0.01) and geometry.scale == 4.0


# --- a damaged or foreign model.pt: one sentence naming it -------------------------------------------------

def _copied(tiny_root: Path, tmp_path: Path):
    spec = DEPTH_ROWS[NAME].tiny_spec(tmp_path)
    shutil.copytree(tiny_root / DEPTH_ROWS[NAME].tiny_folder, spec.local_path)
    return spec, spec.local_path / "model.pt"


def _refusal(spec) -> ProtocolError:
    manager = ModelManager(torch.device("cpu"), budget_bytes=LARGE)
    manager.register(spec, depth_loader(spec))
    with pytest.raises(ProtocolError) as refused, manager.use("depth"):
        pass
    return refused.value


def _headless(path: Path) -> None:
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["model"] = {k: v for k, v in checkpoint["model"].items() if not k.startswith("normal_head.")}
    torch.save(checkpoint, path)


class _Code:   # a pickled object of a class: code to run on load, which no MoGe checkpoint holds
    pass


@pytest.mark.parametrize("damage, said", [
    (_headless, "does not hold the weights its model_config describes"),
    (lambda path: torch.save({"model_config": {}, "model": {}, "code": _Code()}, path), "names code to run"),
    (lambda path: torch.save({"state_dict": {}}, path), "is not a MoGe checkpoint"),
    (lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]), "is cut off"),
], ids=["a-head-missing", "pickled-code", "another-checkpoint", "cut-off"])
def test_a_bad_model_file_is_refused_in_one_sentence_naming_it(tiny_root: Path, tmp_path: Path, damage,
                                                               said: str) -> None:
    spec, path = _copied(tiny_root, tmp_path)
    damage(path)
    refused = _refusal(spec)
    assert refused.code is ErrorCode.MODEL_DAMAGED and one_sentence(refused.message), refused.message
    assert f"model.pt in {path.parent}" in refused.message and said in refused.message
    assert path.exists()   # the file is named, never deleted: the sentence says how to rebuild it


# --- the real model's row --------------------------------------------------------------------------------

def test_the_real_model_is_pinned_to_its_one_file_and_its_digest() -> None:
    row = DEPTH_ROWS[NAME]
    spec = row.spec
    assert spec.repo_id == "Ruicheng/moge-2-vits-normal" and len(spec.revision) == 40
    assert spec.allow_patterns == ("model.pt",) and spec.exact_files and not spec.trust_remote_code
    assert len(spec.options["sha256"]["model.pt"]) == 64
    assert model_licence(spec.repo_id).licence.key == "mit"
    # The replica is its own file: the real file's digest is not held against it.
    assert "sha256" not in row.tiny_spec(Path("/tiny")).options
    assert row.tiny_spec(Path("/tiny")).options["depth"] == NAME
