"""Clean cut-out edges: a soft edge's colour is the object's, not the background's.

The picture is synthetic, so the truth is known: a red disc whose edge fades linearly into a
green background, every pixel exactly alpha x red + (1 - alpha) x green. A cut-out that keeps
those colours has green in every semi-transparent pixel, which painting would bake into the
texture as a green halo.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from testdata import FAST_OPTIONS
from img23d_backend.jobs import loaders
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.models.placement import LoadedModel
from img23d_backend.catalog import tiny_model_set
from img23d_backend.matting import driver as matting
from img23d_backend.env.job_control import CancelToken
from img23d_backend.env.room_table import Held
from img23d_backend.matting.table import MATTING_CODE
from img23d_backend.matting.foreground import blur_radii, estimate_foreground, refine_cutout
from img23d_protocol import Artifact, GenerateRequest, JobOptions, ProtocolError

RED, GREEN = (220, 30, 30), (30, 200, 40)
GREEN_LEFT = 60   # the most green an edge pixel of the red object may keep (the object's own is 30)
RED_KEPT = 180    # the least red it must keep (the object's own is 220)


def _red_disc_on_green(size: int = 256, radius: float = 80, ramp: float = 8) -> tuple[np.ndarray, np.ndarray]:
    """The picture [H, W, 3] uint8 and its true matte [H, W] in 0..1: opaque inside
    ``radius - ramp``, fading linearly to nothing at ``radius``."""
    ys, xs = np.mgrid[:size, :size] + 0.5
    alpha = np.clip((radius - np.hypot(xs - size / 2, ys - size / 2)) / ramp, 0.0, 1.0)
    mixed = alpha[..., None] * np.array(RED) + (1.0 - alpha[..., None]) * np.array(GREEN)
    return (mixed + 0.5).astype(np.uint8), alpha


def _edge(alpha: np.ndarray) -> np.ndarray:
    return (alpha > 0) & (alpha < 255)


def _assert_edges_are_red(rgba: np.ndarray) -> None:
    edge = _edge(rgba[..., 3])
    assert edge.sum() > 100, "the cut-out has no soft edge to check"
    colours = rgba[..., :3][edge].astype(int)
    assert colours[:, 1].max() < GREEN_LEFT, f"green left in the edge: up to {colours[:, 1].max()}/255"
    assert colours[:, 0].min() > RED_KEPT, f"the edge lost its red: down to {colours[:, 0].min()}/255"


class KnownMatte(torch.nn.Module):
    """A matting stand-in that answers the picture's true matte, at whatever size it is asked."""

    def __init__(self, alpha: np.ndarray) -> None:
        super().__init__()
        self.gain = torch.nn.Parameter(torch.ones(()))
        probability = torch.from_numpy(alpha.astype(np.float32)).clamp(1e-4, 1 - 1e-4)
        self.register_buffer("logits", torch.logit(probability)[None, None], persistent=False)

    def forward(self, pixels: torch.Tensor) -> list[torch.Tensor]:
        logits = F.interpolate(self.logits, size=pixels.shape[-2:], mode="bilinear", align_corners=False)
        return [(logits * self.gain).expand(pixels.shape[0], -1, -1, -1).to(pixels.dtype)]


# ------------------------------------------------------------------------------ the estimate


def test_the_synthetic_picture_has_green_in_its_edge() -> None:
    """The premise: without the estimate, the edge colours are the mix."""
    rgb, alpha = _red_disc_on_green()
    matte = (alpha * 255 + 0.5).astype(np.uint8)
    assert rgb[_edge(matte)][:, 1].max() > 150


def test_the_estimate_gives_the_edge_the_objects_colour_and_keeps_the_rest() -> None:
    rgb, alpha = _red_disc_on_green()
    matte = (alpha * 255 + 0.5).astype(np.uint8)
    cutout = Image.fromarray(np.dstack([rgb, matte]), "RGBA")
    refined = np.asarray(refine_cutout(cutout))
    _assert_edges_are_red(refined)
    assert np.array_equal(refined[..., 3], matte)  # the matte, byte for byte
    opaque = matte == 255
    assert np.array_equal(refined[..., :3][opaque], rgb[opaque])  # the inside, exactly


def test_an_opaque_picture_comes_back_unchanged() -> None:
    rgb, _ = _red_disc_on_green(64)
    cutout = Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)]), "RGBA")
    assert np.array_equal(np.asarray(refine_cutout(cutout)), np.asarray(cutout))


@pytest.mark.parametrize("size, expected", [((256, 200), (90, 6)), ((1024, 700), (90, 6)),
                                            ((2048, 1500), (180, 12))])
def test_the_radii_grow_with_crops_larger_than_the_matting_resolution(size, expected) -> None:
    assert blur_radii(size) == expected


def test_a_large_soft_edge_is_cleaned_too() -> None:
    rgb, alpha = _red_disc_on_green(1536, radius=500, ramp=24)
    matte = (alpha * 255 + 0.5).astype(np.uint8)
    _assert_edges_are_red(np.dstack([estimate_foreground(rgb, matte), matte]))


# ------------------------------------------------------------------------------ where cut-outs are made


def test_matting_gives_cutouts_with_clean_edges() -> None:
    rgb, alpha = _red_disc_on_green()
    [cutout] = matting.matte(Held(MATTING_CODE["birefnet"], KnownMatte(alpha)), [Image.fromarray(rgb, "RGB")],
                             batch_size=1, cancel=CancelToken(), progress=lambda *args: None, input_size=1024)
    _assert_edges_are_red(np.asarray(cutout))


def test_the_jobs_saved_cutout_is_the_clean_one(tiny_root: Path, tmp_path: Path, monkeypatch) -> None:
    rgb, alpha = _red_disc_on_green()
    picture = tmp_path / "disc.png"
    Image.fromarray(rgb, "RGB").save(picture)
    stand_in = KnownMatte(alpha)
    monkeypatch.setitem(loaders.LOADERS, "matting",
                        lambda spec: lambda folder, device: LoadedModel(obj=Held(MATTING_CODE["birefnet"], stand_in),
                                                                 modules=[stand_in]))
    engine = Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path / "runs", device="cpu"))
    events: list = []
    request = GenerateRequest(id="t", image=str(picture), targets=[], options=JobOptions(**FAST_OPTIONS))
    try:
        engine.run(request, Job(id="t", emit=events.append))
    except ProtocolError:
        pass  # random tiny weights may extract no surface: the cut-out is written before shape
    [run] = [Path(e.path) for e in events if isinstance(e, Artifact) and e.kind == "run"]
    [record] = json.loads((run / "manifest.json").read_text())["records"]
    saved = np.asarray(Image.open(run / record["matte"]).convert("RGBA"))
    _assert_edges_are_red(saved)
