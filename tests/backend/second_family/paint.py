"""Silhouette's paint model: the picture projected onto the mesh from the front (the family interface's
``PaintStep``).

Its one view is the cut-out's object, cropped to its box and passed through its network (``Projector``, one file:
``projector.pt``: a colour matrix, the identity in its replica), its background the object's mean colour. Each
texel of the mesh's UV layout (its own UVs; else the unwrap made ahead; else one made here) is found on the
surface by img23d's own rasterizer (``clean_raster``) and takes the view's colour where that point falls when the
mesh's front (its x and y extent) is laid over the view: the picture's left half colours the mesh's left half.
Texels no triangle covers take the covered ones' mean colour, here and in a Re-texture's bake (``UV_BAKE``).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch
import trimesh
from img23d_protocol import ErrorCode, ProtocolError
from PIL import Image

from img23d_backend.clean_raster import interpolate, rasterize
from img23d_backend.families.family import Painted
from img23d_backend.models.preflight import PaintModel
from img23d_backend.models.specs import ModelSpec
from img23d_backend.runs.folders import TargetRecord
from img23d_backend.stages import skips
from img23d_backend.uv.retexture import UVBake
from img23d_backend.uv.uvs import has_uvs, with_uvs
from img23d_backend.stages.step_context import StepContext

from .specs import PAINT_FILE, VIEW_SIZE
from .weights import weights_builder, weights_loader

STAGE = "paint"


def network() -> torch.nn.Linear:
    """Its known weights: the colours as they are."""
    projector = torch.nn.Linear(3, 3)
    with torch.no_grad():
        projector.weight.copy_(torch.eye(3))
        projector.bias.zero_()
    return projector


loader = weights_loader(network, PAINT_FILE)
build = weights_builder(network, PAINT_FILE, "Projector")


def paint_model(spec: ModelSpec, device: Any) -> PaintModel:
    return PaintModel("the front projection model", spec.size_bytes, 1 << 20)   # one view's colours


def _bad(sentence: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_REQUEST, sentence)


def front_view(projector: torch.nn.Linear, cutout: Image.Image, side: int) -> Image.Image:
    """The object of ``cutout`` (its box) at ``side`` x ``side``, its colours through ``projector``, its
    background its mean colour."""
    rgba = cutout.convert("RGBA")
    crop = rgba.crop(rgba.getchannel("A").getbbox()).resize((side, side), Image.Resampling.BILINEAR)
    pixels = np.asarray(crop, np.float32) / 255.0
    parameter = next(projector.parameters())
    with torch.inference_mode():
        colours = projector(torch.from_numpy(pixels[..., :3]).to(parameter.device, parameter.dtype)).cpu().numpy()
    alpha = pixels[..., 3:]
    mean = (colours * alpha).sum(axis=(0, 1)) / max(float(alpha.sum()), 1e-6)
    blended = colours * alpha + mean * (1 - alpha)
    return Image.fromarray((np.clip(blended, 0, 1) * 255).round().astype(np.uint8), "RGB")


def _fill(texture: np.ndarray, covered: np.ndarray, target: Any, texel_faces: np.ndarray) -> np.ndarray:
    """Every texel no triangle covers takes the covered ones' mean colour (uint8 [H, W, 3])."""
    filled = np.array(texture, np.float32)
    filled[~covered] = filled[covered].mean(axis=0) if covered.any() else 0.5
    return (np.clip(filled, 0, 1) * 255).round().astype(np.uint8)


UV_BAKE = UVBake(rasterize=rasterize, interpolate=interpolate, fill=_fill)


def bake_front(target: trimesh.Trimesh, size: int, views: Sequence[Image.Image]) -> Image.Image:
    """The first of ``views`` (the front's) laid over ``target``'s front and baked into its UVs at ``size``."""
    faces = torch.as_tensor(np.asarray(target.faces), dtype=torch.int64)
    uv = torch.as_tensor(np.asarray(target.visual.uv), dtype=torch.float32)
    clip = torch.cat([uv * 2 - 1, torch.zeros_like(uv[:, :1]), torch.ones_like(uv[:, :1])], dim=1)
    found, weights = rasterize(clip, faces, (size, size))
    positions = torch.as_tensor(np.asarray(target.vertices), dtype=torch.float32)
    points = interpolate(positions, found, weights, faces)[0].numpy()
    covered = (found > 0).numpy()
    low, high = np.asarray(target.vertices)[:, :2].min(axis=0), np.asarray(target.vertices)[:, :2].max(axis=0)
    across = np.maximum(high - low, 1e-9)
    view = np.asarray(views[0].convert("RGB"), np.float32) / 255.0
    column = np.clip(((points[..., 0] - low[0]) / across[0] * view.shape[1]).astype(np.int64), 0, view.shape[1] - 1)
    row = np.clip(((high[1] - points[..., 1]) / across[1] * view.shape[0]).astype(np.int64), 0, view.shape[0] - 1)
    texture = np.where(covered[..., None], view[row, column], 0.0)
    # The rasterizer's row 0 is v = 0; an image's row 0 is v = 1.
    return Image.fromarray(_fill(texture[::-1], covered[::-1], target, found.numpy()[::-1]), "RGB")


def _refuse(mesh: Any, cutout: Image.Image) -> None:
    if len(np.asarray(mesh.faces)) == 0:
        raise _bad("the mesh to paint has no faces")
    if cutout.convert("RGBA").getchannel("A").getbbox() is None:
        raise _bad("the cut-out is fully transparent: there is no picture to project")


def paint_target(run: StepContext, record: TargetRecord, mesh: Any, cutout: Any,
                 unwrap: Callable[[], Any] | None = None) -> Painted:
    """``mesh`` painted from ``cutout``: its UVs kept (else ``unwrap()``'s, else an unwrap here), the one view
    written under ``views/<stem>/``; the view and its bake with it."""
    _refuse(mesh, cutout)
    size = run.options.texture_size
    with run.stage(STAGE):
        with skips.texture_models(run.manager) as (projector,):
            run.job.cancel.check()
            target = with_uvs(mesh, unwrap() if unwrap is not None and not has_uvs(mesh) else None)
            view = front_view(projector, cutout, int(run.manager.spec("paint").options.get("view_size", VIEW_SIZE)))
            run.progress(STAGE, 1, 2, "projected the picture")
            run.job.cancel.check()

            def bake(views: Sequence[Image.Image]) -> Image.Image:
                return bake_front(target, size, views)

            texture = bake([view])
            run.progress(STAGE, 2, 2, "baked the front view")
        run.run_folder.write_image(f"views/{record.stem}/view_0.png", view)
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=texture)
    painted = trimesh.Trimesh(target.vertices, target.faces, process=False,
                              visual=trimesh.visual.TextureVisuals(uv=target.visual.uv, material=material))
    return Painted(mesh=painted, views=(view,), bake=bake)
