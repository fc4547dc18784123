"""Step1X-3D's surface decoding for a raw signed distance beside a truncated one: queries and seconds.

    .venv-py313/bin/python bench/step1x_band.py [--octree 384] [--chunk 16384] [--repeat 3]
        [--json bench/results/step1x-band-cpu.json]

Upstream's published VAE training config leaves the field a raw signed distance (issue 54, item 13),
which the real weights may give. The fields are analytic stand-ins for the decoder: a ball of
radius 0.35 and beside it a plate 0.016 thick placed between two coarse samples (the thin part the
band is for; ``tests/backend/surfaces/test_step1x_volume.py``'s scene), once truncated at 0.01 and scaled to
[-1, 1], once raw. Each is decoded by ``volume.hierarchical_grid`` with the product's grid for the
octree (``GridSettings.for_octree``), with the guard and without it (``band_share_bound`` above 1:
main's code before the guard), recording the decoder queries, the band's share, what was said and
the grid's own seconds (the analytic field costs next to nothing). The decoder's cost per query is
measured apart: the full-size VAE decoder half (1300m's sizes, random weights: they change no
compute) in the production CPU dtype, 2048 latent tokens, ``--repeat`` calls of ``--chunk``
points; a decode's projected seconds are its queries times that, plus the grid's own seconds.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
for source in ("backend", "protocol", "bench"):
    if str(REPO / source) not in sys.path:
        sys.path.insert(0, str(REPO / source))

import torch  # noqa: E402

from img23d_backend.families.step1x.geometry import replica  # noqa: E402
from img23d_backend.families.step1x.geometry.configs import ShapeVAEConfig  # noqa: E402
from img23d_backend.families.step1x.geometry.shape_decoder import ShapeDecoder  # noqa: E402
from img23d_backend.surfaces.volume import (BOUNDS, GridSettings, GridStats,  # noqa: E402
                                                            extract_surface, hierarchical_grid)
from img23d_backend.families.step1x.specs import step1x_precision  # noqa: E402
from img23d_backend.models.dtypes import device_kind  # noqa: E402
from img23d_backend.models.replica_common import write_json  # noqa: E402
from timing import conditions, timed  # noqa: E402

TRUNCATION = 0.01
PLATE_THICKNESS = 0.016
UNGUARDED = 2.0   # a band_share_bound no share reaches: the grid as it was before the guard


def _box_distance(points: torch.Tensor, centre: torch.Tensor, half: torch.Tensor) -> torch.Tensor:
    q = (points - centre).abs() - half
    return q.clamp(min=0).norm(dim=-1) + q.max(dim=-1).values.clamp(max=0)


def scene(settings: GridSettings, truncated: bool) -> Callable[[torch.Tensor], torch.Tensor]:
    """A ball and a plate (positive inside); the plate's middle halfway between two coarse samples."""
    spacing = 2 * BOUNDS / settings.resolutions()[0]
    plate_x = -BOUNDS + (round((0.45 + BOUNDS) / spacing) + 0.5) * spacing
    ball_centre, plate_centre = torch.tensor([-0.45, 0.0, 0.0]), torch.tensor([plate_x, 0.0, 0.0])
    plate_half = torch.tensor([PLATE_THICKNESS / 2, 0.4, 0.4])

    def field(points: torch.Tensor) -> torch.Tensor:
        distance = torch.minimum((points - ball_centre).norm(dim=-1) - 0.35,
                                 _box_distance(points, plate_centre, plate_half))
        return (-distance / TRUNCATION).clamp(-1, 1) if truncated else -distance

    return field


def decode(octree: int, truncated: bool, guarded: bool) -> dict[str, Any]:
    settings = GridSettings.for_octree(octree)
    if not guarded:
        settings = GridSettings(resolution=settings.resolution, chunk=settings.chunk, band_share_bound=UNGUARDED)
    stats = GridStats()
    started = time.perf_counter()
    grid = hierarchical_grid(scene(settings, truncated), settings, torch.device("cpu"), stats)
    seconds = time.perf_counter() - started
    surface = extract_surface(grid, BOUNDS)
    del grid
    gc.collect()
    pieces = 0
    if surface is not None:
        import trimesh

        pieces = len(trimesh.Trimesh(*surface).split(only_watertight=False))
    return {"levels": settings.resolutions(), "queried": stats.queried, "dense": stats.dense,
            "queried_over_dense": round(stats.queried / stats.dense, 4), "band_share": round(stats.band_share, 4),
            "band": stats.band, "note": stats.note, "grid_seconds": round(seconds, 2), "pieces": pieces}


def seconds_per_query(chunk: int, repeat: int) -> dict[str, Any]:
    """The full-size decoder's seconds per query point, one call of ``chunk`` points at a time."""
    dims = replica.config("full")
    names = {f.name for f in fields(ShapeVAEConfig)}
    dtype = step1x_precision(device_kind(torch.device("cpu"))).dtype
    with torch.inference_mode():
        decoder = ShapeDecoder(ShapeVAEConfig(**{k: v for k, v in dims.vae.items() if k in names})).to(dtype).eval()
        tokens = torch.randn(1, decoder.config.num_latents, decoder.config.width, dtype=dtype)
        points = torch.rand(1, chunk, 3) * 2 * BOUNDS - BOUNDS
        decoder.query(points, tokens)   # the first call pays the allocations
        seconds, _ = timed(lambda: decoder.query(points, tokens), repeat)
    return {"dtype": str(dtype).removeprefix("torch."), "chunk": chunk, "latents": decoder.config.num_latents,
            "seconds_per_call": round(seconds, 3), "seconds_per_query": seconds / chunk}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--octree", type=int, default=384)
    parser.add_argument("--chunk", type=int, default=16_384, help="query points per timed decoder call")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    cost = seconds_per_query(args.chunk, args.repeat)
    print(f"decoder: {cost['seconds_per_call']} s per {args.chunk} points ({cost['dtype']})", flush=True)
    runs: dict[str, Any] = {}
    for name, truncated, guarded in (("truncated", True, True), ("raw_guarded", False, True),
                                     ("raw_unguarded", False, False), ("truncated_unguarded", True, False)):
        figures = decode(args.octree, truncated, guarded)
        figures["projected_hours"] = round((figures["queried"] * cost["seconds_per_query"]
                                            + figures["grid_seconds"]) / 3600, 3)
        runs[name] = figures
        print(f"{name}: {figures['queried']:,} queries ({figures['queried_over_dense']:.1%} of dense), "
              f"band share {figures['band_share']:.1%}, grid {figures['grid_seconds']} s, "
              f"projected {figures['projected_hours']} h, {figures['pieces']} pieces"
              + (f"; said: {figures['note']}" if figures["note"] else ""), flush=True)
    report = {"device": f"cpu ({platform.machine()}, {os.cpu_count()} cores)", "octree": args.octree,
              "grid": asdict(GridSettings.for_octree(args.octree)), "decoder": cost, "runs": runs,
              "conditions": conditions(load_before)}
    if args.json:
        write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
