"""Matting, whichever model mattes: each crop becomes an RGBA cut-out of the object in it (``matte``, the call a
job makes, through ``JobRun.matte_all``); the manager's loader for the matting role (``matting_loader``) is the
spec's model's (``table.matter_of``), its network held with its code (``env.room_table.Held``).

A matte with NaN or infinite values (half precision overflowing) is never turned into a
cut-out: it would read as fully transparent, an empty cut-out and an empty mesh. Such crops are
run again in fp32, and a crop whose matte is still not finite comes back as ``UnusableMatte``.

A cut-out's colours are the object's own, not the crop's: in its soft edge the crop mixes the
background in, so the colours there are estimated (``foreground``); the alpha is the matte.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from ..env.job_control import CancelToken, ProgressFn
from ..env.room_table import Held, held_loader
from ..models.specs import ModelSpec
from .foreground import flattened, refine_cutout
from .matter import Matter
from .table import matter_of

log = logging.getLogger(__name__)

MIN_FOREGROUND = 0.002  # a cut-out with less than 0.2% opaque pixels has nothing in it


def matting_loader(spec: ModelSpec):  # -> Loader
    """The manager's loader for the matting role: the spec's model's, its network held with its code."""
    return held_loader(matter_of(spec), spec)


@dataclass(frozen=True)
class UnusableMatte:
    """Stands in the results for a crop whose matte is not a number, even in fp32."""

    reason: str


def matte(model: Held[Matter], crops: list[Image.Image], *, batch_size: int, cancel: CancelToken,
          progress: ProgressFn, input_size: int) -> list[Image.Image | UnusableMatte]:
    """RGBA cut-outs of ``crops``, same sizes, in batches of ``batch_size``, each read by the model at
    ``input_size`` x ``input_size`` (the side it was trained at: ``table.input_side``)."""
    import torch

    network, predict = model.model, model.code.predict
    dtype = next(network.parameters()).dtype
    results: list[Image.Image | UnusableMatte] = []
    crops = [flattened(crop) for crop in crops]
    for start in range(0, len(crops), max(1, batch_size)):
        cancel.check()
        chunk = crops[start:start + max(1, batch_size)]
        masks = list(predict(network, chunk, input_size))
        broken = [i for i, mask in enumerate(masks) if not np.isfinite(mask).all()]
        if broken and dtype != torch.float32:
            log.warning("the matting model (%s) gave a matte with NaN/inf in %s; running %d crop(s) again in fp32",
                        model.code.name, dtype, len(broken))
            for index, mask in zip(broken, _predict_in_fp32(model, [chunk[i] for i in broken], input_size)):
                masks[index] = mask
        for crop, mask in zip(chunk, masks):
            if not np.isfinite(mask).all():
                results.append(UnusableMatte("the matting model's output is not a number (NaN or inf) "
                                             "even in full precision"))
                continue
            alpha = Image.fromarray((mask * 255.0 + 0.5).clip(0, 255).astype(np.uint8), "L")
            alpha = alpha.resize(crop.size, Image.Resampling.BILINEAR)
            cutout = crop.copy()
            cutout.putalpha(alpha)
            # Every cut-out goes to shape and paint from here: the edge's colours are cleaned once.
            results.append(refine_cutout(cutout))
        progress("matting", len(results), len(crops), f"cut out {len(results)}/{len(crops)}")
    return results


def _predict_in_fp32(model: Held[Matter], crops: list[Image.Image], input_size: int) -> Any:
    """The model's prediction with its network briefly in fp32 (twice its memory), then back as it was.

    fp16 -> fp32 -> fp16 is exact, so the model the manager keeps is unchanged afterwards.
    """
    import torch

    network = model.model
    dtype = next(network.parameters()).dtype
    network.to(dtype=torch.float32)
    try:
        return model.code.predict(network, crops, input_size)
    finally:
        network.to(dtype=dtype)


def foreground_fraction(rgba: Image.Image) -> float:
    alpha = np.asarray(rgba.getchannel("A"))
    return float(np.count_nonzero(alpha >= 128)) / alpha.size
