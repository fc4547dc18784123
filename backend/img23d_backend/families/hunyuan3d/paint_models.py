"""Hunyuan3D-2's two texture models, on any device: loaders and the wrappers the paint stage calls.

hy3dgen's own wrappers (``Light_Shadow_Remover``, ``Multiview_Diffusion_Net``) hard-code CUDA and
fp16, and its multiview pipeline converts PIL conditions with ``.half().to("cuda")``. This
module builds the same diffusers pipelines itself, in the working dtype of the device it is
given, and its wrappers hand the multiview pipeline ready tensors on the pipeline's own device,
which skips that hard-coded conversion. Nothing here caches a device: every call reads it
from the pipeline, so the model manager may move the modules freely.

* ``delight_loader`` / ``Delighter``: InstructPix2Pix that removes lighting from the reference.
* ``multiview_loader`` / ``MultiviewDiffusion``: hy3dgen's HunyuanPaintPipeline, which paints
  the object from six cameras given normal and position renders of the mesh.

Both check what their pipeline returned before anything converts it: half precision can
overflow (fp16 on Apple GPUs), and NaN turned into 8-bit colours is black. Output that is not
a number raises ``NotFinite``; ``full_precision()`` is the way to run the call again in fp32.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
from PIL import Image

from img23d_protocol import ErrorCode, ProtocolError

from ...env.library_output import no_loading_bar
from ...models.dtypes import working_dtype
from .fast_load import load_paint_unet
from ...models.manager import Loader
from ...models.placement import LoadedModel, cast_for_call
from ...models.registry import ModelSpec
from .specs import DELIGHT_SUBFOLDER, PAINT_SUBFOLDER

# (steps done, steps total); may raise to stop the denoising loop (cancellation).
StepFn = Callable[[int, int], None]

# hy3dgen's delight settings: image guidance 1.5, no text guidance, empty prompt.
_DELIGHT_IMAGE_GUIDANCE = 1.5
_DELIGHT_TEXT_GUIDANCE = 1.0
_DELIGHT_ERODE = 3           # px: the alpha edge is eroded so halo pixels become backdrop
_COLOR_MATCH_SCALE = 0.95    # how much of the means is moved in the colour correction

# Camera index table of the multiview model: elevation -> (azimuth step divisor, index offset).
# The model was trained on 12 azimuths at elevations -20/0/20 and 4 at the poles.
_CAMERA_TABLE = {-20: (1, 0), 0: (1, 12), 20: (1, 24), -90: (3, 36), 90: (3, 40)}
SUPPORTED_ELEVATIONS = tuple(sorted(_CAMERA_TABLE))


# --------------------------------------------------------------------------------------------
# Loaders
# --------------------------------------------------------------------------------------------


def delight_loader(spec: ModelSpec) -> Loader:
    """A loader for the delight model in ``<folder>/<spec.subfolder or hunyuan3d-delight-v2-0>``."""

    def load(folder: Path, device: Any) -> LoadedModel:
        from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionInstructPix2PixPipeline

        path = Path(folder) / (spec.subfolder or DELIGHT_SUBFOLDER)
        with no_loading_bar():
            pipe = StableDiffusionInstructPix2PixPipeline.from_pretrained(
                str(path), torch_dtype=working_dtype(device), safety_checker=None,
                requires_safety_checker=False, use_safetensors=True)  # never a pickle
        pipe.scheduler = EulerAncestralDiscreteScheduler.from_config(pipe.scheduler.config)
        pipe.set_progress_bar_config(disable=True)  # stdout belongs to the protocol
        pipe.to(device)
        delighter = Delighter(pipe)
        return LoadedModel(obj=delighter, modules=delighter.modules)

    return load


def multiview_loader(spec: ModelSpec) -> Loader:
    """A loader for the multiview model in ``<folder>/<spec.subfolder or hunyuan3d-paint-v2-0>``.

    The pipeline is assembled from its parts rather than with ``DiffusionPipeline.from_pretrained(
    custom_pipeline=...)``: since diffusers 0.3x that call refuses local custom code unless
    ``trust_remote_code`` is set, and then it would also execute the snapshot's own
    ``unet/modules.py``. Building it here runs only the installed hy3dgen code. The text encoder
    and tokenizer are not loaded: the pipeline conditions on learned embeddings stored in the
    UNet and never encodes a prompt (diffusers then takes the prompt dtype from the UNet).
    """

    def load(folder: Path, device: Any) -> LoadedModel:
        from diffusers import AutoencoderKL, EulerAncestralDiscreteScheduler
        from hy3dgen.texgen.hunyuanpaint.pipeline import HunyuanPaintPipeline

        path = Path(folder) / (spec.subfolder or PAINT_SUBFOLDER)
        check_multiview_index(path)
        dtype = working_dtype(device)
        # hy3dgen's UNet2p5DConditionModel.from_pretrained builds it with random weights first.
        unet = load_paint_unet(path / "unet", device, dtype)
        # diffusers builds on the meta device and reads in the dtype; pipe.to moves it once.
        vae = AutoencoderKL.from_pretrained(str(path / "vae"), torch_dtype=dtype, use_safetensors=True)
        # hy3dgen swaps the shipped DDIM scheduler for Euler ancestral with trailing spacing.
        scheduler = EulerAncestralDiscreteScheduler.from_pretrained(
            str(path), subfolder="scheduler", timestep_spacing="trailing")
        pipe = HunyuanPaintPipeline(vae=vae, text_encoder=None, tokenizer=None, unet=unet,
                                    scheduler=scheduler, feature_extractor=None)
        pipe.set_progress_bar_config(disable=True)
        pipe.to(device)
        multiview = MultiviewDiffusion(pipe)
        return LoadedModel(obj=multiview, modules=multiview.modules)

    return load


def check_multiview_index(path: Path) -> None:
    """Refuse a folder whose model_index.json is not hy3dgen's multiview pipeline."""
    index_file = path / "model_index.json"
    try:
        index = json.loads(index_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProtocolError(ErrorCode.MODEL_MISSING, f"{index_file} is missing or unreadable",
                            f"{type(exc).__name__}: {exc}") from exc
    unet_entry = index.get("unet") or [None, None]
    if unet_entry[-1] != "UNet2p5DConditionModel":
        raise ProtocolError(ErrorCode.MODEL_MISSING,
                            f"{path} is not a Hunyuan3D-2 paint model (its unet is {unet_entry[-1]!r})")


# --------------------------------------------------------------------------------------------
# Helpers shared by the wrappers
# --------------------------------------------------------------------------------------------


class NotFinite(ValueError):
    """A paint model's output held NaN or infinite values."""

    def __init__(self, model: str, dtype: Any) -> None:
        super().__init__(f"the {model} model's output is not a number (NaN or inf) in {dtype}")
        self.model = model
        self.dtype = dtype


class _PipelineWrapper:
    """What both wrappers share: their pipeline, its weights' dtype, and a full-precision run."""

    name = ""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline

    @property
    def modules(self) -> list[Any]:
        """The modules holding the weights (those the loader hands the manager)."""
        raise NotImplementedError

    @property
    def dtype(self) -> Any:
        return next(self.pipeline.unet.parameters()).dtype

    @property
    def half(self) -> bool:
        import torch

        return self.dtype in (torch.float16, torch.bfloat16)

    @contextmanager
    def full_precision(self) -> Iterator[None]:
        """The pipeline in fp32 for the block, then back in its own dtype."""
        import torch

        with cast_for_call(self.modules, torch.float32):
            yield

    def _check(self, values: Any) -> None:
        import torch

        if not bool(torch.isfinite(values).all()):
            raise NotFinite(self.name, self.dtype)


def _step_callback(on_step: StepFn | None, total: int) -> Callable[..., dict] | None:
    """diffusers' ``callback_on_step_end`` adapter: report each finished step, change nothing."""
    if on_step is None:
        return None

    def callback(pipe: Any, step: int, timestep: Any, tensors: dict) -> dict:
        on_step(step + 1, total)
        return {}

    return callback


@contextmanager
def global_seed(seed: int, device: Any) -> Iterator[None]:
    """Seed torch's global RNGs for one call and restore them after.

    The diffusion noise comes from an explicit CPU generator, but the VAE's posterior sampling
    inside hy3dgen's pipeline draws from the global RNG of the device; hy3dgen seeds it
    globally, this keeps the seeding local to the call.
    """
    import torch

    target = torch.device(device)
    cuda = [target.index or 0] if target.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield


def camera_indices(azimuths: Sequence[float], elevations: Sequence[float]) -> list[int]:
    """The multiview model's camera class for each (azimuth, elevation), as hy3dgen computes it."""
    indices = []
    for azimuth, elevation in zip(azimuths, elevations):
        if elevation not in _CAMERA_TABLE:
            raise ValueError(f"elevation {elevation} is not one of {SUPPORTED_ELEVATIONS}")
        divisor, offset = _CAMERA_TABLE[int(elevation)]
        indices.append(int((((azimuth // 30) + 9) % 12) // divisor + offset))
    return indices


# --------------------------------------------------------------------------------------------
# Delight
# --------------------------------------------------------------------------------------------


class Delighter(_PipelineWrapper):
    """Removes shading and highlights from an object cut-out, keeping its colours calibrated."""

    name = "delight"

    @property
    def modules(self) -> list[Any]:
        return [self.pipeline.unet, self.pipeline.vae, self.pipeline.text_encoder]

    def __call__(self, image: Image.Image, *, size: int, steps: int, seed: int,
                 on_step: StepFn | None = None) -> Image.Image:
        """The delit RGB image, ``size`` x ``size``, composited on white outside the object."""
        import torch

        pipe = self.pipeline
        model_input, alpha = _prepare_delight_input(image, size)
        device = pipe.device
        result = pipe(prompt="", image=model_input, num_inference_steps=steps,
                      image_guidance_scale=_DELIGHT_IMAGE_GUIDANCE, guidance_scale=_DELIGHT_TEXT_GUIDANCE,
                      generator=torch.Generator(device="cpu").manual_seed(seed), output_type="pt",
                      callback_on_step_end=_step_callback(on_step, steps)).images
        self._check(result)
        delit = result[0].permute(1, 2, 0).to(device=device, dtype=torch.float32)
        target = _to_tensor(np.asarray(model_input), device)
        alpha_t = _to_tensor(alpha[..., None], device)
        corrected = _match_colors(delit, target, alpha_t)
        on_white = corrected * alpha_t + (1.0 - alpha_t)
        return Image.fromarray((on_white.clamp(0, 1) * 255.0).round().byte().cpu().numpy(), "RGB")


def _prepare_delight_input(image: Image.Image, size: int) -> tuple[Image.Image, np.ndarray]:
    """The model's RGB input and the alpha (uint8, eroded) that masks the colour correction."""
    import cv2

    resized = image.resize((size, size), Image.Resampling.BICUBIC)
    if resized.mode != "RGBA":
        rgb = np.asarray(resized.convert("RGB")).copy()
        return Image.fromarray(rgb, "RGB"), np.full(rgb.shape[:2], 255, dtype=np.uint8)
    pixels = np.asarray(resized).copy()
    kernel = np.ones((_DELIGHT_ERODE, _DELIGHT_ERODE), np.uint8)
    alpha = cv2.erode(pixels[..., 3], kernel, iterations=1)
    rgb = pixels[..., :3]
    rgb[alpha == 0] = 255  # the backdrop the model was trained on
    return Image.fromarray(rgb, "RGB"), alpha


def _to_tensor(pixels: np.ndarray, device: Any) -> Any:
    import torch

    return torch.from_numpy(pixels.astype(np.float32) / 255.0).to(device)


def _match_colors(source: Any, target: Any, alpha: Any) -> Any:
    """Move ``source``'s per-channel colour statistics towards ``target``'s inside the object.

    The delight model can shift the overall colour; matching mean and spread to the input keeps
    the object's palette. The correction is kept only when it brings the image closer to the
    input (the mean squared error decides), as hy3dgen does.
    """
    import torch

    inside = alpha[..., 0] > 0.5
    if int(inside.sum()) < 2:  # nothing (or one pixel) to take statistics from
        return source
    src, tgt = source[inside], target[inside]
    src_mean, src_std = src.mean(0), src.std(0).clamp_min(1e-6)
    tgt_mean, tgt_std = tgt.mean(0), tgt.std(0)
    corrected = ((source - _COLOR_MATCH_SCALE * src_mean) * (tgt_std / src_std)
                 + _COLOR_MATCH_SCALE * tgt_mean).clamp(0, 1)
    if torch.mean((source - target) ** 2) < torch.mean((corrected - target) ** 2):
        return source
    return corrected


# --------------------------------------------------------------------------------------------
# Multiview
# --------------------------------------------------------------------------------------------


class MultiviewDiffusion(_PipelineWrapper):
    """Paints N views of the object from the reference and per-view normal/position renders."""

    name = "multiview"
    # hy3dgen generates each view with one reference image at camera class 0.
    REFERENCE_CAMERA = 0

    @property
    def modules(self) -> list[Any]:
        return [self.pipeline.unet, self.pipeline.vae]

    def __call__(self, reference: Image.Image, normals: Any, positions: Any, cameras: Sequence[int], *,
                 size: int, steps: int, seed: int, on_step: StepFn | None = None) -> Any:
        """Views as a float tensor [N, 3, size, size] in [0, 1] on the pipeline's device.

        ``normals`` and ``positions`` are [N, 3, H, W] tensors in [0, 1] on any device; they are
        resized to ``size`` and moved to the pipeline's device and dtype here.
        """
        import torch

        pipe = self.pipeline
        device, dtype = pipe.device, pipe.vae.dtype
        if not (len(cameras) == normals.shape[0] == positions.shape[0]):
            raise ValueError("one normal map, one position map and one camera per view")
        conditions = {
            "normal_imgs": condition_batch(normals, size, device, dtype),
            "position_imgs": condition_batch(positions, size, device, dtype),
            "camera_info_gen": [list(cameras)],
            "camera_info_ref": [[self.REFERENCE_CAMERA]],
            "num_in_batch": len(cameras),
        }
        reference = reference.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
        with global_seed(seed, device):
            views = pipe(reference, width=size, height=size, num_inference_steps=steps,
                         generator=torch.Generator(device="cpu").manual_seed(seed), output_type="pt",
                         callback_on_step_end=_step_callback(on_step, steps), **conditions).images
        self._check(views)
        return views.to(device=device, dtype=torch.float32)


def condition_batch(maps: Any, size: int, device: Any, dtype: Any) -> Any:
    """[N, 3, H, W] in [0, 1] -> [1, N, 3, size, size] on the pipeline's device and dtype."""
    import torch.nn.functional as F

    maps = maps.float()
    if maps.shape[-1] != size or maps.shape[-2] != size:
        # Area averaging is the antialiased downscale every backend implements.
        mode = "area" if maps.shape[-1] > size else "bilinear"
        maps = F.interpolate(maps, size=(size, size), mode=mode)
    return maps.clamp(0, 1).to(device=device, dtype=dtype).unsqueeze(0)
