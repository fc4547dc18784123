"""One target painted by the licence-clean family's texture model (Step1X-3D's adapter over SDXL):
the family's paint step (``families.family.PaintStep``), the job's side of ``paint.paint_mesh``.

What it adds to the chain: the job's settings (its paint steps, texture and render sizes, the
spec's view size), the stage's progress and cancel, the run folder's record of the views and
control maps, and the job's errors: a setting the model refuses (``ValueError``) is a
``bad_request``; out of memory and anything else fail this target only (``jobs.kinds.generate`` keeps
its untextured mesh). A model that cannot be loaded raises ``skips.TextureUnavailable``, as
Hunyuan's does. Nothing here imports hy3dgen.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any, Callable

from img23d_protocol import ErrorCode, ProtocolError

from ....models import preflight
from ....models.oom import is_out_of_memory
from ....models.registry import paint_steps
from ....runs.folders import TargetRecord
from ....stages import skips
from ....uv.uvs import has_uvs, with_uvs
from ....stages.step_context import StepContext
from ...family import Painted
from .bake import BakeSettings
from .generate import VIEW_SIZE, MultiviewSettings
from .paint import PaintRecord, TextureSettings, paint_mesh
from .sync import SYNC_TEXTURE_SIZE, SyncSettings

log = logging.getLogger(__name__)

STAGE = "paint"


def texture_settings(run: StepContext) -> TextureSettings:
    """The job's options as the texture model's settings: steps (0: the model's own 50), the spec's
    view size (upstream's 768; the tiny replica's 64), the texture sync (on unless the job turns it
    off; the spec's texture size for it, upstream's 1536 unless it names one), the texture and the
    renders it is baked from."""
    spec = run.manager.spec("paint")
    return TextureSettings(
        views=MultiviewSettings(steps=paint_steps(spec, run.options.paint_steps),
                                size=int(spec.options.get("view_size", VIEW_SIZE)),
                                sync=SyncSettings(enabled=run.options.texture_sync,
                                                  texture_size=int(spec.options.get("sync_texture_size",
                                                                                    SYNC_TEXTURE_SIZE)))),
        bake=BakeSettings(texture_size=run.options.texture_size, render_size=run.options.bake_render_size()))


def paint_clean(run: StepContext, record: TargetRecord, mesh: Any, cutout: Any,
                unwrap: Callable[[], Any] | None = None) -> Painted:
    """``mesh`` painted from ``cutout`` (its UVs kept; else ``unwrap()``'s, made ahead by
    ``stages.unwrap``, or an unwrap here), the views and maps written under ``views/<stem>/``; the
    views and their bake with it."""
    settings = texture_settings(run)
    paint_record = PaintRecord()
    with run.stage(STAGE):
        with skips.texture_models(run.manager) as (model,):
            preflight.check_paint(run.options, run.engine.device)  # beside the loaded model
            target = mesh if has_uvs(mesh) or unwrap is None else with_uvs(mesh, unwrap())
            try:
                painted = paint_mesh(model, target, cutout, int(record.seed or 0), settings,
                                     on_step=lambda done, total, message: run.progress(STAGE, done, total, message),
                                     cancel=run.job.cancel, record=paint_record)
            except ProtocolError:
                raise
            except ValueError as exc:  # a setting the model cannot take (a view size, a step count)
                raise ProtocolError(ErrorCode.BAD_REQUEST, f"the Step1X-3D texture model refused the settings: {exc}"
                                    ) from exc
            except Exception as exc:  # the boundary of one target's painting
                if is_out_of_memory(exc):
                    raise ProtocolError(ErrorCode.OUT_OF_MEMORY, "painting ran out of memory", str(exc)[:300]) from exc
                log.error("painting %s failed:\n%s", record.target, traceback.format_exc())
                raise ProtocolError(ErrorCode.INTERNAL, f"{type(exc).__name__}: {exc}"[:300]) from exc
        write_record(run, record, paint_record)
    assert paint_record.bake is not None  # paint_mesh sets it with the views
    return Painted(mesh=painted, views=tuple(paint_record.views), bake=paint_record.bake)


def write_record(run: StepContext, record: TargetRecord, kept: PaintRecord) -> None:
    """The views, the control maps, whether the views were synchronised and what the bake painted, in
    the run folder; the phases' seconds in the target's timings (``paint_render``, ``paint_sync``
    when it ran, ``paint_multiview``, ``paint_bake``)."""
    folder = f"views/{record.stem}"
    for kind, pictures in (("view", kept.views), ("position", kept.positions), ("normal", kept.normals)):
        for index, picture in enumerate(pictures):
            run.run_folder.write_image(f"{folder}/{kind}_{index}.png", picture)
    run.run_folder.write_json(f"{folder}/paint.json", {"model": run.manager.spec("paint").display,
                                                       "painted_fraction": round(kept.painted_fraction, 4),
                                                       "texture_sync": kept.texture_sync,
                                                       "timings": kept.timings})
    record.timings.update({f"paint_{phase}": seconds for phase, seconds in kept.timings.items()})
