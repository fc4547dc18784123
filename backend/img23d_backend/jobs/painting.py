"""Jobs that paint meshes (generate, regenerate, re-texture): one target's mesh painted from its
cut-out by the model set's paint model. Hunyuan3D-Paint runs here, with its out-of-memory retry at
a smaller render size; the licence-clean family's model runs in clean_paint.py, which needs no
hy3dgen.
"""

from __future__ import annotations

import functools
import logging
import traceback
from typing import Any, Callable

from img23d_protocol import ErrorCode, ProtocolError

from ..families.hunyuan3d import paint as hunyuan
from ..models import preflight
from ..models.oom import is_out_of_memory
from ..models.registry import is_clean_paint, paint_steps
from ..runs.folders import TargetRecord
from ..stages import skips
from . import clean_paint
from .base import JobRun

log = logging.getLogger(__name__)


class PaintingRun(JobRun):
    """A job whose targets may be painted."""

    def paint_mesh(self, record: TargetRecord, mesh: Any, cutout: Any,
                   unwrap: Callable[[], Any] | None = None) -> Any:
        """Paint ``mesh`` from ``cutout``, keeping the views in the run folder. Raises
        ``skips.TextureUnavailable`` when a texture model cannot be loaded, and
        ``ProtocolError``: out of memory twice (the second time with smaller renders), or
        anything else that went wrong (as ``internal``, with the trace in the log)."""
        if not self.engine.can_paint:
            raise ProtocolError(ErrorCode.BAD_REQUEST, self.engine.no_texture)
        paint_spec = self.manager.spec("paint")
        if is_clean_paint(paint_spec):  # the licence-clean family's model: img23d's own chain, no hy3dgen
            return clean_paint.paint_clean(self, record, mesh, cutout, unwrap)
        view_size = int(paint_spec.options.get("view_size", 512))
        render = self.options.bake_render_size()
        render = max(view_size, render // view_size * view_size)  # whole multiples of the view size
        settings = hunyuan.PaintSettings(texture_size=self.options.texture_size, render_size=render,
                                       view_size=view_size, delight_steps=self.options.delight_steps,
                                       multiview_steps=paint_steps(paint_spec, self.options.paint_steps),
                                       seed=int(record.seed or 0))
        kept: dict[str, Any] = {}
        with self.stage("paint"):
            with skips.texture_models(self.manager) as (delighter, multiview):
                # Beside the loaded models: running out of RAM is a kill, not an error to retry.
                preflight.check_paint(self.options, self.engine.device)
                # The retry at a smaller size paints the same unwrap: it is taken once.
                unwrap_once = functools.cache(unwrap) if unwrap is not None else None

                def run(paint_settings: Any) -> Any:
                    return hunyuan.paint_mesh(mesh, cutout, delighter=delighter, multiview=multiview,
                                            settings=paint_settings, device=self.engine.device,
                                            cancel=self.job.cancel, progress=self.progress, keep=kept,
                                            unwrap=unwrap_once)
                lowered = settings.lowered()
                try:
                    painted = self.retry_smaller("paint", lambda: run(settings), lambda: run(lowered),
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
                self.run_folder.manifest.errors.append({"code": ErrorCode.INTERNAL.value, "message": message,
                                                        "target": record.target, "retried": True})
            record.timings.update({f"paint_{phase}": seconds for phase, seconds in kept.get("timings", {}).items()})
            for index, view in enumerate(kept.get("views", [])):
                self.run_folder.write_image(f"views/{record.stem}/view_{index}.png", view)
            if "reference" in kept:
                self.run_folder.write_image(f"views/{record.stem}/reference_delit.png", kept["reference"])
        return painted
