"""Matting, whichever model mattes: each crop becomes an RGBA cut-out of the object in it (``matte``); the call a
job makes (``matte_all``) mattes its crops in batches as large as the memory free beside the model holds
(``memory.matting_batch``) and, after running out of memory, one at a time, a crop that runs out even alone standing
in the results as an ``OutOfMemory``. The manager's loader for the matting role (``matting_loader``) is the spec's
model's (``table.matter_of``), its network held with its code (``env.room_table.Held``).

A matte with NaN or infinite values (half precision overflowing) is never turned into a
cut-out: it would read as fully transparent, an empty cut-out and an empty mesh. Such crops are
run again in fp32, and a crop whose matte is still not finite comes back as ``UnusableMatte``.

A cut-out's colours are the object's own, not the crop's: in its soft edge the crop mixes the
background in, so the colours there are estimated (``foreground``); the alpha is the matte.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Protocol, TypeVar

import numpy as np
from PIL import Image

from ..env.job_control import CancelToken, ProgressFn
from ..env.room_table import Held, held_loader
from ..models.manager import ModelManager
from ..models.oom import OutOfMemory, or_out_of_memory
from ..models.specs import ModelSpec
from .foreground import flattened, refine_cutout
from .matter import Matter
from .memory import matting_batch
from .table import input_side, matter_of

log = logging.getLogger(__name__)
T = TypeVar("T")

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


class _Cancellable(Protocol):
    @property
    def cancel(self) -> CancelToken: ...


class MattingRun(Protocol):
    """The job ``matte_all`` mattes for, as it sees it (``stages.step_context.StepContext`` is one): its model
    manager, its cancel token, its progress and its out-of-memory retry."""

    @property
    def manager(self) -> ModelManager: ...

    @property
    def job(self) -> _Cancellable: ...

    def progress(self, stage: str, step: int, total: int, message: str) -> None: ...

    def retry_smaller(self, stage: str, first: Callable[[], T], smaller: Callable[[], T], how: str) -> T: ...


def matte_all(run: MattingRun, model: Held[Matter],
              crops: list[Image.Image]) -> list[Image.Image | UnusableMatte | OutOfMemory]:
    """Each crop's cut-out (an RGBA picture, an ``UnusableMatte``, or an ``OutOfMemory`` where even that crop
    alone ran out): the crops in batches as large as the memory free beside the model holds; after running out
    of memory, one at a time."""
    spec = run.manager.spec("matting")
    side = input_side(spec)  # 2048 for a high-resolution model
    size = matting_batch(spec, run.manager.device_of("matting"), len(crops))
    if size < len(crops):
        log.info("matting %d crops %d at a time: the memory free now holds no more", len(crops), size)

    def batch(chunk: list[Image.Image], size: int) -> list[Any]:
        return matte(model, chunk, batch_size=size, cancel=run.job.cancel, progress=run.progress, input_size=side)

    def one_by_one() -> list[Any]:
        results: list[Any] = []
        for crop in crops:
            result = or_out_of_memory(lambda: batch([crop], 1))
            results.extend([result] if isinstance(result, OutOfMemory) else result)
        return results

    return run.retry_smaller("matting", lambda: batch(crops, size), one_by_one, "one crop at a time")


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
