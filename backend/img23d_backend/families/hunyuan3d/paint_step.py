"""One target painted by Hunyuan3D-Paint: the family's paint step (``families.family.PaintStep``),
the job's side of ``paint.paint_mesh``, with its out-of-memory retry at a smaller render size.

What it adds to the chain: the job's settings (its paint and delight steps, texture and render
sizes, the spec's view size), the stage's progress and cancel, the run folder's record of the
views and the delit reference, and the job's errors: invalid values even in full precision, out
of memory twice and anything else fail this target only (``jobs.kinds.generate`` keeps its untextured
mesh). A model that cannot be loaded raises ``skips.TextureUnavailable``.
"""

from __future__ import annotations

import functools
import logging
import traceback
from typing import Any, Callable

from img23d_protocol import ErrorCode, ProtocolError

from ...models import preflight
from ...models.oom import is_out_of_memory
from ...models.registry import paint_steps
from ...runs.folders import TargetRecord
from ...stages import skips
from ...stages.step_context import StepContext
from ..family import Painted
from . import paint as hunyuan

log = logging.getLogger(__name__)

# The views are baked from renders of at most this many times their side when the job leaves the render's
# side to img23d: hy3dgen bakes Hunyuan3D-Paint's 512 px views from 2048 px renders, four times their side.
# The tiny replicas' 64 px views were baked from 2048 px renders too, each view upsampled 32 times: most of
# a tiny textured object's minutes on a CPU (issue 89), for detail the views never had.
RENDER_PER_VIEW = 4


def render_side(options: Any, view_size: int) -> int:
    """The side of the renders the views are baked from: the job's ``render_size`` when it gives one, else the
    texture's side up to the detailed size (``bake_render_size``) and ``RENDER_PER_VIEW`` times a view's side;
    a whole multiple of the view's side, and never below it."""
    render = options.render_size or min(options.bake_render_size(), RENDER_PER_VIEW * view_size)
    return max(view_size, render // view_size * view_size)


def paint_target(run: StepContext, record: TargetRecord, mesh: Any, cutout: Any,
                 unwrap: Callable[[], Any] | None = None) -> Painted:
    """``mesh`` painted from ``cutout`` (its UVs kept; else ``unwrap()``'s, made ahead), the views
    and the delit reference written under ``views/<stem>/``; the views and their bake with it. A job that
    ``defers_fills`` gets the atlas's fill left in ``Painted.pending``."""
    paint_spec = run.manager.spec("paint")
    view_size = int(paint_spec.options.get("view_size", 512))
    render = render_side(run.options, view_size)
    settings = hunyuan.PaintSettings(texture_size=run.options.texture_size, render_size=render,
                                     view_size=view_size, delight_steps=run.options.delight_steps,
                                     multiview_steps=paint_steps(paint_spec, run.options.paint_steps),
                                     seed=int(record.seed or 0))
    kept: dict[str, Any] = {}
    with run.stage("paint"):
        with skips.texture_models(run.manager) as (delighter, multiview):
            # Beside the loaded models: running out of RAM is a kill, not an error to retry.
            preflight.check_paint(run.options, run.engine.device)
            # The retry at a smaller size paints the same unwrap: it is taken once.
            unwrap_once = functools.cache(unwrap) if unwrap is not None else None

            def paint(paint_settings: Any) -> Any:
                # Each try its own list: a try that ran out of memory leaves nothing in it.
                kept["pending"] = [] if getattr(run, "defers_fills", False) else None
                return hunyuan.paint_mesh(mesh, cutout, delighter=delighter, multiview=multiview,
                                          settings=paint_settings, device=run.engine.device,
                                          cancel=run.job.cancel, progress=run.progress, keep=kept,
                                          unwrap=unwrap_once, pending=kept["pending"])
            lowered = settings.lowered()
            try:
                painted = run.retry_smaller("paint", lambda: paint(settings), lambda: paint(lowered),
                                            f"with all {lowered.views} views at {lowered.render_size} px")
            except ProtocolError:
                raise
            except hunyuan.NotFinite as exc:  # never a black texture: this target is not painted
                raise ProtocolError(ErrorCode.INTERNAL, f"the paint model produced invalid values (NaN or inf) "
                                    f"for {record.target!r}, even in full precision", str(exc)) from exc
            except Exception as exc:  # the boundary of one target's painting
                if is_out_of_memory(exc):
                    raise ProtocolError(ErrorCode.OUT_OF_MEMORY, "painting ran out of memory twice",
                                        str(exc)[:300]) from exc
                log.error("painting %s failed:\n%s", record.target, traceback.format_exc())
                raise ProtocolError(ErrorCode.INTERNAL, f"{type(exc).__name__}: {exc}"[:300]) from exc
        for model in kept.get("redone_in_fp32", []):
            message = (f"painting {record.target!r}: the {model} model's output was not a number in half "
                       "precision; it was run again in fp32")
            log.warning(message)
            run.run_folder.manifest.errors.append({"code": ErrorCode.INTERNAL.value, "message": message,
                                                   "target": record.target, "retried": True})
        record.timings.update({f"paint_{phase}": seconds for phase, seconds in kept.get("timings", {}).items()})
        for index, view in enumerate(kept.get("views", [])):
            run.run_folder.write_image(f"views/{record.stem}/view_{index}.png", view)
        if "reference" in kept:
            run.run_folder.write_image(f"views/{record.stem}/reference_delit.png", kept["reference"])
    return Painted(mesh=painted, views=tuple(kept["views"]), bake=kept["bake"], pending=kept["pending"] or [])
