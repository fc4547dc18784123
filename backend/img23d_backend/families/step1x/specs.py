"""Step1X-3D's facts (``families.facts.FamilyFacts``): its models' rows, their folders' files, the
precision its geometry runs in and how its shape stage's memory grows.

Data, not code: importing this imports none of the family's networks (the catalog and the model list
read it without them). The paint model's own rows and folders live beside, in ``texture_folders``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from img23d_protocol import CLEAN, SHAPE_MODELS, TINY_STEP1X_LABEL_MODEL, model_family

from ...models import dtypes
from ...models.dtypes import BF16_CAPABILITY, DeviceKind, Precision
from ...models.shape_memory import MIB, ShapeMemory
from ...models.specs import ModelSpec
from ..facts import FamilyFacts, TinyModels
from .texture_folders import CLEAN_PAINT, tiny_clean_paint

GB = 1 << 30

# -- the geometry folders' files --------------------------------------------------------------------
# Step1X-3D's geometry folders (``Step1X-3D-Geometry-1300m``, ``...-Label-1300m``), as upstream's
# ``save_pretrained`` lays them out.
STEP1X_WEIGHTS = "diffusion_pytorch_model.safetensors"
STEP1X_PARTS = ("transformer", "vae", "visual_encoder")
# The files a geometry folder needs: what a download fetches and the loader opens.
STEP1X_FILES = ("model_index.json", "scheduler/scheduler_config.json",
                *(f"{part}/{name}" for part in STEP1X_PARTS for name in ("config.json", STEP1X_WEIGHTS)))
# The Label folder (``Step1X-3D-Geometry-Label-1300m``) has a label encoder besides.
STEP1X_LABEL_PART = "label_encoder"
STEP1X_LABEL_FILES = (*STEP1X_FILES, f"{STEP1X_LABEL_PART}/config.json", f"{STEP1X_LABEL_PART}/{STEP1X_WEIGHTS}")


def _in(subfolder: str, names: tuple[str, ...]) -> tuple[str, ...]:
    """``names`` inside ``subfolder``, as a spec's allow_patterns name them."""
    return tuple(f"{subfolder}/{name}" for name in names)


# -- the rows -----------------------------------------------------------------------------------------
# stepfun-ai/Step1X-3D (Apache-2.0): public recipes of September 2026 pin it at this commit (then
# the repository's head) for its geometry, label-geometry and texture folders. No public source
# lists its files' digests: the folder's own file list (upstream's pipeline and installers that
# fetch "Step1X-3D-Geometry-1300m/*") decides what is fetched.
STEP1X_REPO = "stepfun-ai/Step1X-3D"
STEP1X_REVISION = "bf7084495b3a72222f36549b7942948aa4d9daa7"
STEP1X_GEOMETRY = "Step1X-3D-Geometry-1300m"
# The Label model (same repository and commit; symmetry and edge labels). Its training config's
# table: VAE 191M, visual 731M (DINOv2-large 304M + the whole CLIP ViT-L/14 428M), label 8.2K,
# denoiser 1.3B. At 16 bits as loaded (no VAE encoder, CLIP's vision tower only): ~4.1 GB.
STEP1X_LABEL_GEOMETRY = "Step1X-3D-Geometry-Label-1300m"
SHAPE = {
    # At 16 bits per parameter (bf16 or fp16): the 1.3B denoiser, DINOv2-large with registers (0.3B) and
    # the VAE's decoder half (0.12B; its training encoder is not loaded). On disk the folder is float32,
    # ~7.3 GB. The dtype it runs in depends on the device (``step1x_precision``: fp32 on a CPU or an
    # Apple GPU, twice this); the preflight scales this estimate to it (jobs/context.py shape_weights).
    "step1x": ModelSpec(role="shape", repo_id=STEP1X_REPO, revision=STEP1X_REVISION, subfolder=STEP1X_GEOMETRY,
                        allow_patterns=_in(STEP1X_GEOMETRY, STEP1X_FILES),
                        size_bytes=int(3.5 * GB), shape_kind=SHAPE_MODELS["step1x"], exact_files=True),
    "step1x-label": ModelSpec(role="shape", repo_id=STEP1X_REPO, revision=STEP1X_REVISION,
                              subfolder=STEP1X_LABEL_GEOMETRY,
                              allow_patterns=_in(STEP1X_LABEL_GEOMETRY, STEP1X_LABEL_FILES),
                              size_bytes=int(4.1 * GB), shape_kind=SHAPE_MODELS["step1x-label"], exact_files=True),
}


def tiny_models(root: Path, paint: str, shape: str | None) -> TinyModels:
    """Its replicas: the Step1X-3D geometry replica (the Label model's for a ``shape`` that takes
    labels) and the paint model's; no delight (upstream's chain has none) and no views model."""
    chosen = model_family(CLEAN)
    label = shape in SHAPE_MODELS and SHAPE_MODELS[shape].labels and SHAPE_MODELS[shape].family == chosen.name
    subfolder, files = (STEP1X_LABEL_GEOMETRY, STEP1X_LABEL_FILES) if label else (STEP1X_GEOMETRY, STEP1X_FILES)
    return TinyModels(shape=ModelSpec(role="shape", repo_id="tiny/step1x-3d", local_path=root / "step1x-3d",
                                      subfolder=subfolder, size_bytes=2 << 20, allow_patterns=_in(subfolder, files),
                                      exact_files=True,
                                      shape_kind=SHAPE_MODELS[TINY_STEP1X_LABEL_MODEL if label else chosen.tiny_shape]),
                      paint=tiny_clean_paint(root))


# -- precision ---------------------------------------------------------------------------------------
def step1x_precision(device: DeviceKind) -> Precision:
    """The Step1X-3D geometry models' precision (the base and the Label model; not its texture model).

    Upstream's README and inference scripts load the pipeline with no dtype, so its reference runs
    in fp32; the geometry diffusion was trained in bf16-mixed (its training configs'
    ``trainer.precision``). So bf16 where the device computes it (CUDA from compute capability
    8.0, and ROCm, as ``bf16_native``), else the reference's fp32: on Apple GPUs (fp16 overflows
    Flux-style DiTs; bf16 on Metal needs macOS 14 and is unproven for this model) and on the CPU.
    An older CUDA GPU has neither fast bf16 nor, often, the memory for fp32: fp16 there, checked.
    """
    if device.type == "cuda":
        if device.hip or (device.capability is not None and device.capability >= BF16_CAPABILITY):
            return Precision("bfloat16")
        return Precision("float16", checked=True)
    return Precision("float32")


# -- memory ------------------------------------------------------------------------------------------
# Step1X-3D at full size in bfloat16 on the CPU (bench/results/step1x-geometry-cpu.json,
# ``peak_over_loaded``): one guided step of one image (a batch of two, the image encoder included)
# peaked 746 MiB above the loaded model, so 373 MiB per image; one decoder call of 65,536 points
# 1,667 MiB. Rounded up.
# The clean paint model's sampling activations (its weights: texture_folders.CLEAN_PAINT_PARTS):
# twelve 96x96 latents (six views, guidance) through SDXL's UNet, the multiview and reference
# attention's extra projections, the reference pass's kept states (one per self-attention layer,
# shared by the views). An estimate from the architecture, not measured: no GPU.
PAINT_SAMPLING_BYTES = 4096 * MIB
STEP1X_DIT_BYTES_PER_IMAGE = 384 * MIB
STEP1X_DECODER_CALL_BYTES = 1_700 * MIB
# Step1X-3D (surfaces/volume.py): one target's grid at a time, so nothing grows with the batch but the
# DiT. Host: the field copied for marching cubes and lewiner's arrays: 7.7 B/point measured between
# octree 256 and 384 on the CPU (the tiny replica: the grid's cost does not depend on the model's
# size). Device: the finest float32 grid, its trilinear upsampling and the refinement mask and
# indices: 10 B/point, from the code. The DiT's activations per image and one decoder call of
# 65,536 points (its chunk) were measured at full size in bfloat16 (the size of float16) on the CPU
# (bench/step1x_geometry.py --footprint); CPU attention keeps whole score matrices that a GPU's
# fused attention does not, so these bound a GPU's from above.
STEP1X_MEMORY = ShapeMemory(host_per_point=8, target_per_point=0, device_per_point=10, device_target_per_point=0,
                            dit_per_image=STEP1X_DIT_BYTES_PER_IMAGE, decoder_call=STEP1X_DECODER_CALL_BYTES)


def step1x_memory(precision: Precision, parameters: int) -> ShapeMemory:
    """Step1X-3D's memory in ``precision`` (``step1x_precision``) for a model of ``parameters``.

    The grid is float32 whatever the model's dtype; the DiT's and the decoder's activations are in
    the model's dtype: the measured (16-bit) ones scale with its size, twice them in float32. In a
    checked precision (float16) one target may be made again in float32: its activations at that
    size, and 2 bytes more per parameter while the weights are float32.
    """
    scale = precision.bytes_per_parameter / 2
    memory = replace(STEP1X_MEMORY, dit_per_image=int(STEP1X_DIT_BYTES_PER_IMAGE * scale),
                     decoder_call=int(STEP1X_DECODER_CALL_BYTES * scale))
    if not precision.checked:
        return memory
    return replace(memory, retry=step1x_memory(Precision("float32"), parameters),
                   retry_weights=parameters * precision.retry_bytes_per_parameter)


def _shape_precision(device: object) -> Precision:
    return step1x_precision(dtypes.device_kind(device))  # looked up at call time: tests stand in other devices


def _shape_memory(precision: Precision | None, parameters: int) -> ShapeMemory:
    return step1x_memory(precision or Precision("float32"), parameters)


# Its one paint model (Step1X-3D's multiview adapter over SDXL base 1.0) whatever the --paint choice.
FACTS = FamilyFacts(name=CLEAN, rows={"shape": SHAPE, "paint": {"step1x": CLEAN_PAINT}},
                    texture=lambda paint: (None, CLEAN_PAINT), tiny=tiny_models,
                    shape_precision=_shape_precision, shape_memory=_shape_memory)
