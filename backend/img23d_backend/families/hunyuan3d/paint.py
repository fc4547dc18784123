"""Texture painting with Hunyuan3D-2 (hy3dgen texgen): a mesh and its cut-out in, a textured mesh out.

This stage reproduces ``Hunyuan3DPaintPipeline.__call__`` on any device: recentre the reference, delight it, give
the mesh UVs (img23d's box unwrap, unless it already has some: those are kept exactly, so artist meshes can be
re-textured), render normal and position maps from six cameras, paint those views with the multiview model,
back-project them into the UV atlas, fill what no camera saw, and return a trimesh with a PBR material. The models
and their loaders live in ``paint_models``; the hole filling in ``uv.fill``; rasterization comes from
``raster``, which stands in for hy3dgen's compiled ``custom_rasterizer``.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator, Sequence, TypeVar

import numpy as np
import trimesh
from PIL import Image

from img23d_protocol import ErrorCode, ProtocolError

from ...env import failpoints
from ...env.job_control import CancelToken, ProgressFn
from ...env.torch_shims import prepare_torchvision
from ...uv.fill import fill_texture
from ...uv.unwrap import Arrays
from ...uv.uvs import has_uvs, with_uvs
from .paint_models import SUPPORTED_ELEVATIONS, Delighter, MultiviewDiffusion, NotFinite, StepFn, camera_indices

log = logging.getLogger(__name__)

STAGE = "paint"
_SIZE_RANGE = (64, 8192)
_REFERENCE_BORDER = 0.2       # margin around the object in the recentred reference, per side
_DELIGHT_SEED_OFFSET = 42     # hy3dgen seeds the delight with 42 and the multiview with 0
_LATENT_MULTIPLE = 16         # view sizes must survive the VAE (x8) and one UNet downsampling
T = TypeVar("T")


@dataclass
class PaintSettings:
    """Sizes, step counts and cameras; the defaults are hy3dgen's."""

    texture_size: int = 2048
    render_size: int = 2048
    view_size: int = 512
    delight_steps: int = 50
    multiview_steps: int = 30
    seed: int = 0
    camera_azimuths: tuple[float, ...] = (0, 90, 180, 270, 0, 180)
    camera_elevations: tuple[float, ...] = (0, 0, 0, 0, 90, -90)
    view_weights: tuple[float, ...] = (1.0, 0.1, 0.5, 0.1, 0.05, 0.05)
    bake_exp: int = 4

    def validate(self) -> None:
        low, high = _SIZE_RANGE
        for name in ("texture_size", "render_size", "view_size"):
            value = getattr(self, name)
            if not low <= value <= high:
                raise ProtocolError(ErrorCode.BAD_REQUEST, f"{name} {value} is outside {low}..{high}")
        if self.view_size % _LATENT_MULTIPLE:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"view_size must be a multiple of {_LATENT_MULTIPLE}")
        if self.render_size % self.view_size:
            # Whole-pixel averaging is exact and runs on every backend (MPS pools only those).
            raise ProtocolError(ErrorCode.BAD_REQUEST, "render_size must be a multiple of view_size")
        if min(self.delight_steps, self.multiview_steps) < 1:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "step counts must be at least 1")
        views = len(self.camera_azimuths)
        if views == 0 or not views == len(self.camera_elevations) == len(self.view_weights):
            raise ProtocolError(ErrorCode.BAD_REQUEST, "one azimuth, elevation and weight per camera")
        if any(e not in SUPPORTED_ELEVATIONS for e in self.camera_elevations):
            raise ProtocolError(ErrorCode.BAD_REQUEST,
                                f"camera elevations must be among {SUPPORTED_ELEVATIONS}")

    @property
    def views(self) -> int:
        return len(self.camera_azimuths)

    def lowered(self) -> "PaintSettings":
        """Settings for a retry after running out of memory: every view, rendered at half the size.

        The cameras all stay: each covers surface no other sees (top and bottom most of all), and
        the multiview model paints the views together, attending across them, so they cannot be
        split into smaller batches without painting views that disagree.
        """
        render = max(self.view_size, self.render_size // 2 // self.view_size * self.view_size)
        return replace(self, render_size=render)


class _Steps:
    """One progress counter across the stage's phases; also the place cancellation is checked."""

    def __init__(self, settings: PaintSettings, cancel: CancelToken, progress: ProgressFn) -> None:
        # delight + UVs + condition renders + multiview + one bake per view + filling
        self.total = settings.delight_steps + 2 + settings.multiview_steps + settings.views + 1
        self.done = 0
        self._cancel = cancel
        self._progress = progress
        self.timings: dict[str, float] = {}  # seconds per phase, for the run's manifest

    def advance(self, message: str) -> None:
        self.done += 1
        self._progress(STAGE, self.done, self.total, message)
        self._cancel.check()

    def denoising(self, message: str) -> StepFn:
        """A per-step callback for a denoising loop; raising in it stops the loop."""
        before = self.done

        def on_step(step: int, steps: int) -> None:
            self._cancel.check()
            self.done = before + step
            self._progress(STAGE, self.done, self.total, f"{message} {step}/{steps}")

        return on_step

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Check for cancellation before a phase starts; log how long it took."""
        self._cancel.check()
        started = time.perf_counter()
        yield
        seconds = time.perf_counter() - started
        self.timings[name] = round(self.timings.get(name, 0.0) + seconds, 4)
        log.info("paint: %s took %.2fs", name, seconds)


def paint_mesh(mesh: trimesh.Trimesh, reference: Image.Image, *, delighter: Delighter,
               multiview: MultiviewDiffusion, settings: PaintSettings, device: Any,
               cancel: CancelToken, progress: ProgressFn, keep: dict[str, Any] | None = None,
               unwrap: Callable[[], Arrays] | None = None,
               pending: list[Callable[[], None]] | None = None) -> trimesh.Trimesh:
    """A copy of ``mesh`` with UVs and a PBR base-colour texture painted from ``reference``.

    ``reference`` is the object's RGBA cut-out. Existing UVs are kept as they are; a mesh without them is unwrapped
    (``uv.box_unwrap``: its vertices split along the seams), or takes ``unwrap()``'s result, the same
    unwrap made ahead in a worker (``uv.unwrap``). With ``keep``, the delit reference and the painted
    views are put there (as PIL images) for the run folder, the seconds each phase took under ``"timings"``
    (delight, uv, render, multiview, bake, fill), under ``"bake"`` a function baking other images of the views as
    the colour was baked (``families.family.ViewBake``), and under ``"redone_in_fp32"`` the models whose
    half-precision output was not a number and which were run again in fp32. Raises ``NotFinite`` when a model's
    output is still not a number (or was already in fp32): never a black texture. ``pending``: the fills (the
    colour's, each ``keep["bake"]``'s) are left there (``families.family.Painted.pending``)."""
    settings.validate()
    if len(mesh.faces) == 0:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "the mesh to paint has no faces")
    steps = _Steps(settings, cancel, progress)
    redone: list[str] = []
    if keep is not None:
        keep["redone_in_fp32"] = redone
    with steps.phase("delight"):
        centred = recenter_reference(reference)
        delit = _finite(delighter, redone, lambda: delighter(
            centred, size=settings.view_size, steps=settings.delight_steps,
            seed=settings.seed + _DELIGHT_SEED_OFFSET, on_step=steps.denoising("removing lighting from the reference")))
    with steps.phase("uv"):
        unwrapped = with_uvs(mesh, unwrap() if unwrap is not None and not has_uvs(mesh) else None)
    steps.advance("kept the mesh's UVs" if has_uvs(mesh) else "unwrapped UVs")
    geometry: dict[tuple[float, float], Any] = {}  # each camera's trusted pixels, for both bakes
    with steps.phase("render"):
        render = _mesh_renderer(unwrapped, settings, device)
        normals, positions = _render_conditions(render, settings, geometry)
    steps.advance("rendered normal and position maps")
    with steps.phase("multiview"):
        cameras = camera_indices(settings.camera_azimuths, settings.camera_elevations)
        views = _finite(multiview, redone, lambda: multiview(
            delit, normals, positions, cameras, size=settings.view_size, steps=settings.multiview_steps,
            seed=settings.seed, on_step=steps.denoising("painting the views")))
    del normals, positions
    if keep is not None:
        keep["reference"] = delit
        keep["views"] = [_to_image(view) for view in views]
    with steps.phase("bake"):
        texture, painted = _bake(render, views, settings, steps.advance, geometry)
    with steps.phase("fill"):
        image = _filled(unwrapped, texture, painted, pending)
    steps.advance("filled the texels no camera saw" if pending is None else "the texels no camera saw left to fill")
    if keep is not None:
        keep["timings"] = steps.timings
        keep["bake"] = _view_bake(render, unwrapped, settings, cancel, geometry, pending)
    return _textured(unwrapped, image)


def _filled(unwrapped: trimesh.Trimesh, texture: Any, painted: Any,
            pending: list[Callable[[], None]] | None) -> Image.Image:
    """The baked atlas, its unseen texels filled now, or (``pending``) by a task left there that fills the
    image returned (blank until then) in place; copied off the device now, whenever the task runs."""
    arrays = (texture.cpu().numpy(), painted.cpu().numpy(), np.asarray(unwrapped.vertices),
              np.asarray(unwrapped.faces), np.asarray(unwrapped.visual.uv))

    def fill() -> Image.Image:
        failpoints.hit("paint.fill")
        return Image.fromarray(fill_texture(*arrays), "RGB")

    if pending is None:
        return fill()
    image = Image.new("RGB", (arrays[0].shape[1], arrays[0].shape[0]))
    pending.append(lambda: image.paste(fill()))
    return image


def _view_bake(render: Any, unwrapped: trimesh.Trimesh, settings: PaintSettings, cancel: CancelToken,
               geometry: dict[tuple[float, float], Any],
               pending: list[Callable[[], None]] | None = None) -> Callable[[Sequence[Image.Image]], Image.Image]:
    """Bakes RGB images of the painted views (each the view's size) into the texture as the colour was
    baked: the same renderer (cameras, UV layout), view weights, blend and hole filling (left in ``pending``
    as the colour's); the cameras' trusted pixels as the colour's bake found them (``geometry``)."""
    def bake(images: Sequence[Image.Image]) -> Image.Image:
        import torch

        if len(images) != settings.views:
            raise ValueError(f"{len(images)} images for {settings.views} painted views: give one per view")
        views = torch.stack([torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0)
                             .permute(2, 0, 1) for image in images])
        texture, painted = _bake(render, views, settings, lambda message: cancel.check(), geometry)
        return _filled(unwrapped, texture, painted, pending)

    return bake


def _finite(model: Any, redone: list[str], call: Callable[[], T]) -> T:
    """``call()``; if ``model``'s output was not a number in half precision, the same call once
    more with the model in fp32 (its name added to ``redone``). ``NotFinite`` otherwise."""
    try:
        return call()
    except NotFinite as exc:
        if not model.half:
            raise
        log.warning("paint: %s; running it again in fp32", exc)
        redone.append(exc.model)
    with model.full_precision():
        return call()


# --------------------------------------------------------------------------------------------
# Reference and UVs
# --------------------------------------------------------------------------------------------


def recenter_reference(image: Image.Image, border: float = _REFERENCE_BORDER) -> Image.Image:
    """The object cropped to its alpha, centred on a transparent square with a margin.

    Images without alpha are returned as RGB, untouched: there is no object mask to crop to.
    """
    if image.mode != "RGBA":
        return image.convert("RGB")
    ys, xs = np.nonzero(np.asarray(image.getchannel("A")))
    if ys.size == 0:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "the reference cut-out is fully transparent")
    crop = image.crop((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1))
    width, height = crop.size
    side = max(width + 2 * int(width * border), height + 2 * int(height * border))
    canvas = Image.new("RGBA", (side, side), (255, 255, 255, 0))
    canvas.paste(crop, ((side - width) // 2, (side - height) // 2))
    return canvas


def _to_image(view: Any) -> Image.Image:
    """A [3, H, W] tensor in [0, 1] as an 8-bit RGB image."""
    array = (view.detach().float().clamp(0, 1) * 255 + 0.5).byte().permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(array, "RGB")


def _textured(mesh: trimesh.Trimesh, texture: Image.Image) -> trimesh.Trimesh:
    material = trimesh.visual.material.PBRMaterial(
        name="painted", baseColorTexture=texture, baseColorFactor=[255, 255, 255, 255],
        metallicFactor=0.0, roughnessFactor=1.0)
    return trimesh.Trimesh(vertices=mesh.vertices, faces=mesh.faces,
                           visual=trimesh.visual.TextureVisuals(uv=mesh.visual.uv, material=material),
                           process=False)


# --------------------------------------------------------------------------------------------
# Rendering and baking
# --------------------------------------------------------------------------------------------


def _mesh_renderer(mesh: trimesh.Trimesh, settings: PaintSettings, device: Any) -> Any:
    """hy3dgen's MeshRender on ``device``, with our rasterizer standing in for the compiled one."""
    from .raster import install_custom_rasterizer

    prepare_torchvision()  # importing hy3dgen.texgen imports diffusers and transformers
    install_custom_rasterizer()
    from hy3dgen.texgen.differentiable_renderer.mesh_render import MeshRender

    render = MeshRender(default_resolution=settings.render_size, texture_size=settings.texture_size,
                        device=device)
    render.load_mesh(mesh)
    return render


def _render_conditions(render: Any, settings: PaintSettings,
                       geometry: dict[tuple[float, float], Any] | None = None) -> tuple[Any, Any]:
    """Normal and position maps per camera, [N, 3, view, view] in [0, 1], white background.

    The same maps as MeshRender.render_normal(use_abs_coor=True) and render_position, but each
    view is rasterized once for both (rasterization is most of the cost on CPU/MPS) and the
    vertex normals, which do not depend on the camera, are computed once. Maps are rendered
    at ``render_size`` and averaged down to ``view_size`` straight away (the renderer does not
    antialias; the downscale does), so full-size maps never pile up. With ``geometry``, each camera's
    trusted pixels for the bake (``back_project.view_geometry``) are found from the same rasterization and
    kept there: the bake then rasterizes no view again.
    """
    import torch
    import torch.nn.functional as F

    normals_attr = _absolute_vertex_normals(render)[None]
    positions_attr = (0.5 - render.vtx_pos[:, :3] / render.scale_factor).contiguous()[None]
    # Both maps in one interpolation, each channel blended alone: the same values as two calls, one gather.
    both_attr = torch.cat([normals_attr, positions_attr], dim=-1)

    def finish(values: Any, visible: Any) -> Any:
        on_white = values[0] * visible + (1.0 - visible)
        chw = on_white.permute(2, 0, 1).unsqueeze(0).float()
        return F.interpolate(chw, size=(settings.view_size,) * 2, mode="area")[0]

    normals, positions = [], []
    for elevation, azimuth in zip(settings.camera_elevations, settings.camera_azimuths):
        _, clip = render.get_pos_from_mvp(elevation, azimuth, None, None)
        raster, _ = render.raster_rasterize(clip, render.pos_idx, resolution=render.default_resolution)
        if geometry is not None:
            from .back_project import view_geometry

            size = tuple(render.default_resolution)
            geometry[(elevation, azimuth)] = view_geometry(render, elevation, azimuth, size, raster)
        visible = raster[0, ..., -1:].clamp(0, 1)
        both, _ = render.raster_interpolate(both_attr, raster, render.pos_idx)
        normal, position = both[..., :3], both[..., 3:]
        # Normals map from [-1, 1] to colours; the background is white for both, as in hy3dgen.
        normals.append(finish((normal + 1.0) * 0.5, visible))
        positions.append(finish(position, visible))
    return torch.stack(normals), torch.stack(positions)


def _absolute_vertex_normals(render: Any) -> Any:
    """Per-vertex normals in the renderer's world frame (the mean of the adjacent face normals)."""
    import torch
    import torch.nn.functional as F

    corners = render.vtx_pos[render.pos_idx.long()]
    face_normals = F.normalize(torch.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0], dim=-1),
                               dim=-1)
    normals = trimesh.geometry.mean_vertex_normals(vertex_count=render.vtx_pos.shape[0],
                                                   faces=render.pos_idx.cpu().numpy(),
                                                   face_normals=face_normals.cpu().numpy())
    return torch.from_numpy(np.asarray(normals, dtype=np.float32)).to(render.vtx_pos.device)


def _bake(render: Any, views: Any, settings: PaintSettings, advance: Callable[[str], None],
          geometry: dict[tuple[float, float], Any] | None = None) -> tuple[Any, Any]:
    """Back-project every view into the atlas and blend by view weight x cos^bake_exp.

    Same blend as MeshRender.fast_bake_texture (a view that adds under 1% new texels is
    skipped), accumulated view by view so only one view's maps are held at a time; each view put in
    by ``back_project`` (hy3dgen's, with its box filters made cheap). ``geometry`` keeps each camera's
    trusted pixels (``back_project.view_geometry``) for a later bake of the same views.
    """
    import torch
    import torch.nn.functional as F

    from .back_project import put_view, view_geometry

    size = (settings.render_size,) * 2
    height, width = render.texture_size[1], render.texture_size[0]
    accumulated = trust = scratch = None
    cameras = zip(views, settings.camera_elevations, settings.camera_azimuths, settings.view_weights)
    for number, (view, elevation, azimuth, weight) in enumerate(cameras, start=1):
        # hy3dgen upsamples each generated view to the render size before projecting it.
        view = view.to(device=render.device, dtype=torch.float32).unsqueeze(0)
        image = F.interpolate(view, size=size, mode="bicubic", align_corners=False)
        image = image[0].clamp(0, 1).permute(1, 2, 0).contiguous()
        camera = (elevation, azimuth)
        found = geometry.get(camera) if geometry is not None else None
        if found is None or found.resolution != size:  # not rendered at this size (a bake of its own)
            found = view_geometry(render, elevation, azimuth, size)
            if geometry is not None:
                geometry[camera] = found
        if scratch is None:
            channels = image.shape[-1]
            scratch = image.new_zeros(height * width, channels + 2)
            accumulated, trust = image.new_zeros(height * width, channels), image.new_zeros(height * width, 1)
        # Only the texels the view reaches: everywhere else its texture and weight are 0 (back_project's).
        texels, texture, cos_map = put_view(scratch, width, found, image, render.device)
        cos_map = weight * cos_map ** settings.bake_exp
        if not _mostly_painted(cos_map, trust[texels]):
            accumulated.index_add_(0, texels, texture * cos_map)
            trust.index_add_(0, texels, cos_map)
        advance(f"baked view {number}/{settings.views}")
    assert accumulated is not None and trust is not None  # validate() guarantees a camera
    accumulated, trust = accumulated.view(height, width, -1), trust.view(height, width, 1)
    return accumulated / trust.clamp_min(1e-8), trust[..., 0] > 1e-8


def _mostly_painted(cos_map: Any, trust: Any) -> bool:
    seen = cos_map > 0
    seen_count = int(seen.sum())
    return seen_count > 0 and int((seen & (trust > 0)).sum()) / seen_count > 0.99
