"""A mesh and its cut-out in, the mesh textured by Step1X-3D's texture model out: render -> control
maps -> six views -> bake, as upstream's ``Step1X3DTexturePipeline.__call__`` chains them.

With the texture sync on (``settings.views.sync``, upstream's default), the mesh gets its UVs
(``bake.uv_mesh``) once, before the views: the sync's latent atlas and the bake share them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
import trimesh
from PIL import Image

from ....env.job_control import CancelToken
from .bake import BakeSettings, bake_views, uv_mesh
from .conditions import control_maps
from .generate import NUM_VIEWS, MultiviewSettings, generate_views, vae_scale
from .loader import Step1XTextureModel
from .render import render_maps
from .uv_latents import build_atlas

ProgressFn = Callable[[int, int, str], None]   # (steps done, steps in all, what was done)


@dataclass(frozen=True)
class TextureSettings:
    """The multiview sampling's and the bake's settings; every default is upstream's."""

    views: MultiviewSettings = MultiviewSettings()
    bake: BakeSettings = BakeSettings()


@dataclass
class PaintRecord:
    """What a run leaves for its folder: the six views, the control maps as pictures (positions and
    normals, one of each per view), the share of the UV layout's texels a view painted (the rest were
    filled), the seconds each phase took, and ``bake``: other images of the views baked into the
    painted mesh's UV layout as its colour was (``families.family.ViewBake``)."""

    views: list[Image.Image] = field(default_factory=list)
    positions: list[Image.Image] = field(default_factory=list)
    normals: list[Image.Image] = field(default_factory=list)
    painted_fraction: float = 0.0
    texture_sync: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    bake: Callable[[Sequence[Image.Image]], Image.Image] | None = None


def paint_steps(settings: TextureSettings) -> int:
    """How many steps ``paint_mesh`` reports: the maps, each denoising step, each view baked."""
    return 1 + settings.views.steps + NUM_VIEWS


def paint_mesh(model: Step1XTextureModel, mesh: trimesh.Trimesh, cutout: Image.Image, seed: int,
               settings: TextureSettings = TextureSettings(), on_step: ProgressFn | None = None,
               cancel: CancelToken | None = None, record: PaintRecord | None = None) -> trimesh.Trimesh:
    """``mesh`` (y-up, any scale; its UVs kept, or img23d's unwrap when it has none) with a base-colour
    texture painted from ``cutout`` (the object's RGBA cut-out) by the multiview model."""
    settings.views.check(model)
    if cancel is not None:
        cancel.check()
    total, done = paint_steps(settings), 0

    def advance(message: str) -> None:
        nonlocal done
        done += 1
        if on_step is not None:
            on_step(done, total, message)

    timings: dict[str, float] = {}
    started = time.perf_counter()
    maps = render_maps(mesh, settings.views.size, model.device)
    controls = control_maps(maps.positions, maps.normals, maps.masks)
    timings["render"] = time.perf_counter() - started
    advance("rendered position and normal maps")
    atlas = None
    if settings.views.sync.enabled:
        started = time.perf_counter()
        mesh = uv_mesh(mesh)
        atlas = build_atlas(mesh, settings.views.size // vae_scale(model), settings.views.sync.texture_size,
                            model.device)
        timings["sync"] = time.perf_counter() - started
    started = time.perf_counter()
    views = generate_views(model, controls, cutout, seed, settings.views,
                           lambda step, steps: advance(f"painting the views {step}/{steps}"), cancel, atlas)
    timings["multiview"] = time.perf_counter() - started
    started = time.perf_counter()
    baked = bake_views(mesh, views, settings.bake, model.device,
                       on_view=lambda view, count: advance(f"baked view {view}/{count}"), cancel=cancel)
    timings["bake"] = time.perf_counter() - started
    if record is not None:
        record.views = views
        record.positions = [_picture(controls[view, :3]) for view in range(NUM_VIEWS)]
        record.normals = [_picture(controls[view, 3:]) for view in range(NUM_VIEWS)]
        record.painted_fraction = float(baked.painted.sum() / max(int(baked.covered.sum()), 1))
        record.texture_sync = atlas is not None
        record.timings = {name: round(seconds, 4) for name, seconds in timings.items()}
        # The painted mesh keeps the UVs the colour was baked into: baking onto it reuses that layout.
        record.bake = lambda images: bake_views(baked.mesh, images, settings.bake, model.device, cancel=cancel).image
    return baked.mesh


def _picture(channels: torch.Tensor) -> Image.Image:
    """[3, H, W] in [0, 1] as an 8-bit RGB image."""
    array = (channels.float().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(array, "RGB")
