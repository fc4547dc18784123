"""Step1X-3D's volume decoding keeps parts thinner than a coarse cell (issue 43, item 1), and a
field that is not truncated does not make it query more than a dense grid (issue 54, item 13).

The field here is what the geometry model was trained to give: a truncated signed distance,
clipped at 0.01 and scaled to [-1, 1] (upstream's ``tsdf_threshold``), positive inside. A ball and,
beside it, a plate 0.016 thick (a blade, a sheet) whose middle lies halfway between two samples of
the coarsest grid, so that no coarse sample lands inside it. Decoded with the grid settings the
product uses for an octree resolution (``GridSettings.for_octree``: img23d's former default 256,
the out-of-memory retry's 128, and Step1X's default 384), every grid point keeps the side of the
surface a dense grid gives it, and the plate comes out as a piece of its own.

Upstream's published training config leaves the target a raw signed distance (its
``supervision_type`` default, "sdf"), which the real weights may give: then the band covers most of
the volume. The same scenes as raw distances must be decoded with about the queries of the
truncated ones, the surface and the plate found, and the narrowing said in one sentence.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from img23d_backend.families.step1x.geometry.stage import geometry_settings
from img23d_backend.mesh.shapes import ShapeSettings
from img23d_backend.surfaces.volume import (BAND, BOUNDS, MIN_COARSE, GridSettings, GridStats,
                                                            extract_surface, hierarchical_grid, positions)

TSDF_THRESHOLD = 0.01     # upstream's training data: distances clipped here, then divided by it
PLATE_THICKNESS = 0.016


def _tsdf(distance: torch.Tensor) -> torch.Tensor:
    """Signed distance (negative inside) -> the model's field (positive inside, in [-1, 1])."""
    return (-distance / TSDF_THRESHOLD).clamp(-1, 1)


def _box_distance(points: torch.Tensor, centre: torch.Tensor, half: torch.Tensor) -> torch.Tensor:
    q = (points - centre).abs() - half
    return q.clamp(min=0).norm(dim=-1) + q.max(dim=-1).values.clamp(max=0)


def _raw(distance: torch.Tensor) -> torch.Tensor:
    """Signed distance (negative inside) -> a raw field as upstream's config trains (positive inside)."""
    return -distance


def scene(plate_x: float, truncated: bool = True, thickness: float = PLATE_THICKNESS):
    """The field of a ball at x = -0.45 and a plate ``thickness`` thick normal to x, centred at ``plate_x``."""
    ball_centre = torch.tensor([-0.45, 0.0, 0.0])
    plate_centre = torch.tensor([plate_x, 0.0, 0.0])
    plate_half = torch.tensor([thickness / 2, 0.4, 0.4])
    convert = _tsdf if truncated else _raw

    def field(points: torch.Tensor) -> torch.Tensor:
        ball = (points - ball_centre).norm(dim=-1) - 0.35
        plate = _box_distance(points, plate_centre, plate_half)
        return torch.maximum(convert(ball), convert(plate))

    return field


def between_coarse_samples(settings: GridSettings) -> float:
    """An x halfway between two samples of the coarsest grid, near 0.45."""
    coarse = settings.resolutions()[0]
    spacing = 2 * BOUNDS / coarse
    index = round((0.45 + BOUNDS) / spacing)
    return -BOUNDS + (index + 0.5) * spacing


def dense(field, resolution: int) -> torch.Tensor:
    axis = positions(resolution, BOUNDS, torch.device("cpu"))
    grid = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1)
    return torch.cat([field(part) for part in grid.reshape(-1, 3).split(1 << 20)]).reshape(grid.shape[:3])


def pieces(grid: torch.Tensor) -> int:
    import trimesh

    vertices, faces = extract_surface(grid, BOUNDS)
    return len(trimesh.Trimesh(vertices, faces).split(only_watertight=False))


@pytest.mark.parametrize("octree", [256, 128])
def test_a_plate_thinner_than_a_coarse_cell_survives_as_on_a_dense_grid(octree: int) -> None:
    settings = GridSettings.for_octree(octree)
    assert settings.resolutions()[0] >= MIN_COARSE
    coarse_cell = 2 * BOUNDS / settings.resolutions()[0]
    assert PLATE_THICKNESS < coarse_cell / 2, "the plate must be thinner than half a coarse cell"
    plate_x = between_coarse_samples(settings)
    field = scene(plate_x)
    # No sample of the coarsest grid lands inside the plate: only its band can find it.
    coarse_axis = positions(settings.resolutions()[0], BOUNDS, torch.device("cpu"))
    assert (coarse_axis - plate_x).abs().min() > PLATE_THICKNESS / 2

    stats = GridStats()
    grid = hierarchical_grid(field, settings, torch.device("cpu"), stats)
    reference = dense(field, settings.resolution)
    wrong = (grid > 0) != (reference > 0)
    assert not wrong.any(), f"{int(wrong.sum())} grid points changed sides (the plate has {int((reference > 0).sum())})"
    assert pieces(grid) == pieces(reference) == 2
    assert stats.queried < stats.dense / 4, (stats.queried, stats.dense)
    # A truncated field keeps upstream's band: the guard below does not fire for it.
    assert stats.band == BAND and stats.note == "" and stats.band_share < 0.05, stats


def test_steps_default_octree_keeps_the_plate() -> None:
    settings = GridSettings.for_octree(384)
    assert settings.resolutions() == [96, 192, 384]
    grid = hierarchical_grid(scene(between_coarse_samples(settings)), settings, torch.device("cpu"))
    assert pieces(grid) == 2


@pytest.mark.parametrize("octree, levels", [(256, [64, 128, 256]), (384, [96, 192, 384]), (128, [64, 128]),
                                            (200, [100, 200]), (257, [65, 130, 260]), (100, [100]), (32, [32]),
                                            (512, [64, 128, 256, 512])])
def test_the_coarsest_level_is_never_under_64_cells(octree: int, levels: list[int]) -> None:
    settings = GridSettings.for_octree(octree)
    assert settings.resolutions() == levels
    assert settings.resolution >= octree


@pytest.mark.parametrize("decoder, kept", [("flashvdm", False), ("dense", True)])
def test_a_sheet_thinner_than_the_band_reaches_is_kept_when_the_dense_decoder_is_asked_for(decoder: str,
                                                                                           kept: bool) -> None:
    """A plate 0.008 thick midway between two samples of 64 coarse cells lies 0.0124 from each, outside the
    band's 0.0095: lost whole, at every quality (the decoder choice was Hunyuan3D-2's alone). Quality Standard
    and High ask for the dense decoder: Step1X then starts from a coarse grid no sheet falls through."""
    shape = ShapeSettings(steps=1, octree_resolution=256, guidance_scale=7.5, batch_size=1, decoder=decoder)
    settings = geometry_settings(shape).grid
    grid = hierarchical_grid(scene(between_coarse_samples(settings), thickness=0.008), settings, torch.device("cpu"))
    assert pieces(grid) == (2 if kept else 1)
    assert settings.resolutions() == ([128, 256] if kept else [64, 128, 256])


def test_a_grid_too_small_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be decoded"):
        GridSettings(resolution=1).resolutions()


def test_no_band_loses_the_plate() -> None:
    """The check that the test above can fail: without the band, the plate between coarse samples is lost."""
    settings = GridSettings.for_octree(256)
    field = scene(between_coarse_samples(settings))
    without_band = GridSettings(resolution=settings.resolution, band=0.0)
    grid = hierarchical_grid(field, without_band, torch.device("cpu"))
    assert pieces(grid) == 1
    assert np.isfinite(grid.numpy()).all()


NARROWED = ("of the coarse grid lies within the band of the surface (|value| < 0.95), so the field is not a "
            "truncated distance: refining within |value| < ")


def _sphere(radius: float, truncated: bool):
    def field(points: torch.Tensor) -> torch.Tensor:
        distance = points.norm(dim=-1) - radius
        return _tsdf(distance) if truncated else _raw(distance)

    return field


def test_a_raw_signed_distance_queries_about_what_a_truncated_one_does() -> None:
    """Issue 54, item 13: without the guard a raw distance refines nearly every cell (2.4 million
    queries here, more than the dense grid's 2.1 million; at octree 384, 65 million)."""
    settings = GridSettings(resolution=128, min_coarse=32)
    assert settings.resolutions() == [32, 64, 128]
    truncated, raw = GridStats(), GridStats()
    hierarchical_grid(_sphere(0.5, truncated=True), settings, torch.device("cpu"), truncated)
    grid = hierarchical_grid(_sphere(0.5, truncated=False), settings, torch.device("cpu"), raw)
    assert raw.queried < raw.dense / 4, f"{raw.queried} queries for a raw distance, a dense grid makes {raw.dense}"
    assert abs(raw.queried - truncated.queried) <= truncated.queried // 20, (raw.queried, truncated.queried)
    assert raw.band_share > 0.9 and truncated.band_share < 0.02, (raw.band_share, truncated.band_share)
    # The narrowed band is a truncated field's 0.0095 units, in this field's units (slope 1).
    assert raw.band == pytest.approx(BAND * TSDF_THRESHOLD, rel=0.02), raw.band
    assert raw.note.startswith("93% " + NARROWED), raw.note
    assert truncated.band == BAND and truncated.note == ""
    vertices, _ = extract_surface(grid, BOUNDS)
    assert abs(np.linalg.norm(vertices, axis=1).mean() - 0.5) < 0.002


def test_a_plate_in_a_raw_distance_survives_as_on_a_dense_grid() -> None:
    settings = GridSettings.for_octree(128)
    field = scene(between_coarse_samples(settings), truncated=False)
    stats = GridStats()
    grid = hierarchical_grid(field, settings, torch.device("cpu"), stats)
    assert NARROWED in stats.note
    assert stats.queried < stats.dense / 4, (stats.queried, stats.dense)
    reference = dense(field, settings.resolution)
    wrong = (grid > 0) != (reference > 0)
    assert not wrong.any(), f"{int(wrong.sum())} grid points changed sides"
    assert pieces(grid) == pieces(reference) == 2


def test_a_field_whose_slope_cannot_be_read_is_refined_where_its_signs_change() -> None:
    """A field alternating in sign from one coarse sample to the next, every sample in the band: its
    central differences on the coarse grid are zero, so no band in its units can be read."""
    settings = GridSettings(resolution=64, min_coarse=16)
    spacing = 2 * BOUNDS / settings.resolutions()[0]

    def alternating(points: torch.Tensor) -> torch.Tensor:
        return 0.5 * torch.cos(torch.pi * (points[:, 0] + BOUNDS) / spacing)

    stats = GridStats()
    hierarchical_grid(alternating, settings, torch.device("cpu"), stats)
    assert stats.band == 0.0 and stats.note == (
        "100% of the coarse grid lies within the band of the surface (|value| < 0.95), so the field is not a "
        "truncated distance: refining only the cells whose signs change (a part thinner than a coarse cell may "
        "be lost)"), stats.note


def test_a_surface_in_every_cell_stops_the_grid_where_it_would_pass_the_bound() -> None:
    """A field with a surface nearly everywhere (as a random decoder's) is not refined past the level whose
    surface would pass ``max_faces`` triangles (issue 74 item 4): taken at the coarse level, said once."""
    def foam(points: torch.Tensor) -> torch.Tensor:
        return (torch.sin(40 * points) .prod(dim=-1) + 0.1).float()

    stats = GridStats()
    settings = GridSettings(resolution=256, max_faces=400_000)
    grid = hierarchical_grid(foam, settings, torch.device("cpu"), stats)
    assert grid.shape[0] - 1 == stats.resolution == 64
    assert "taken at 64" in stats.stopped and "400,000" in stats.stopped and stats.stopped in stats.note
    assert stats.queried == 65 ** 3                         # the finer levels never asked
    vertices, _ = extract_surface(grid, settings.bounds)
    # Extracted at 64: every vertex lies on an edge of the coarse grid (two of its coordinates on its lines).
    steps = (vertices.astype(np.float64) + settings.bounds) / (2 * settings.bounds / 64)
    on_lines = (np.abs(steps - np.round(steps)) < 1e-3).sum(axis=1)
    assert (on_lines >= 2).all()


def test_a_surface_under_the_bound_is_refined_to_the_asked_grid() -> None:
    stats = GridStats()
    ball = lambda points: (0.5 - points.norm(dim=-1)).float()  # noqa: E731 (a field is a one-line function)
    hierarchical_grid(ball, GridSettings(resolution=256), torch.device("cpu"), stats)
    assert stats.resolution == 256 and "taken at" not in stats.note
