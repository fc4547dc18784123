"""How a shape model's memory grows: per grid point and per image (``ShapeMemory``), and the dense grid's
figures (``DENSE_GRID_MEMORY``) every family's shape figures are measured against.

Numbers only, standard library only: each family's facts (``families/<family>/specs.py``) give their
own ``ShapeMemory`` and the catalog imports them for every command, so this stays light (the preflight,
which reads the machine's memory through psutil, imports these from here)."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1 << 20

# -- shape (hy3dgen volume decoding + marching cubes), bytes per grid point ----------------------
# Host RAM, whatever the device: the numpy grid (24 B/point while it is stacked, 12 while it is
# used) and marching cubes (lewiner's working arrays, the mesh before clean-up). Measured on
# the CPU, whole jobs on house_scene.png, one target: 128 -> 24.6, 256 -> 26.8, 384 -> 27.3 B
# per point above the loaded models (bench/preflight_calibration.py --chain house).
HOST_BYTES_PER_POINT = 28
# Per target in one batch: its logits (float32, chunked then concatenated: 8 B) and its mesh
# until clean-up. Measured: three targets at 256 took 7.9 B/point more than one (and 128: 9.6).
TARGET_BYTES_PER_POINT = 10
# On a GPU the volume lives on the device: coordinates in half precision (6 B/point) and per
# target the half-precision chunks, their concatenation and the float32 copy (8 B/point).
# Derived from hy3dgen's code (VanillaVolumeDecoder), not measured: there is no GPU here.
DEVICE_BYTES_PER_POINT = 6
DEVICE_TARGET_BYTES_PER_POINT = 8
# The DiT's activations per image: two with classifier-free guidance (the batch is doubled: the
# non-turbo models; the turbo ones embed the guidance, one pass per image).
# An estimate for Hunyuan3D-2 (4096 latent tokens, width 2048, fp16, attention chunked): not
# measured here; the tiny replica's are a few MB.
DIT_BYTES_PER_IMAGE = 384 * MIB


@dataclass(frozen=True)
class ShapeMemory:
    """A shape model's memory per grid point and per image (each family's, in its ``specs``)."""

    host_per_point: float
    target_per_point: float
    device_per_point: float
    device_target_per_point: float
    dit_per_image: int
    decoder_call: int = 0      # one decoder call's activations (a chunk of query points), beside the grid
    # A model run in float16 with a check (models/dtypes.py): a target whose values overflow is made
    # again alone with the weights in float32; ``retry`` is how that run grows, ``retry_weights`` the
    # bytes the float32 weights take beyond the loaded ones meanwhile.
    retry: "ShapeMemory | None" = None
    retry_weights: int = 0


# A shape model that decodes one dense grid per batch (hy3dgen's volume decoding: the figures above were
# measured on it): the preflight's figures where a caller names no family's (families/*/specs.py).
DENSE_GRID_MEMORY = ShapeMemory(HOST_BYTES_PER_POINT, TARGET_BYTES_PER_POINT, DEVICE_BYTES_PER_POINT,
                                DEVICE_TARGET_BYTES_PER_POINT, DIT_BYTES_PER_IMAGE)
