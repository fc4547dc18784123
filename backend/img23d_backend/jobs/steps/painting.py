"""Jobs that paint meshes (generate, regenerate, re-texture): one target's mesh painted from its
cut-out by the model set's paint model, through its family's paint step (``families.family``:
Hunyuan3D-Paint's with its out-of-memory retry, or the licence-clean family's, which needs no
hy3dgen), and, for a Generate, its material maps (``jobs.steps.materials``).
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from img23d_protocol import ErrorCode, ProtocolError

from ...families.family import Painted
from ...families.table import family_of
from ...runs.folders import TargetRecord
from ..base import JobRun, Request

# A painting job's request: one a step may read (the run is handed to its family's paint step).
P = TypeVar("P", bound=Request)


class PaintingRun(JobRun[P]):
    """A job whose targets may be painted."""

    def paint_mesh(self, record: TargetRecord, mesh: Any, cutout: Any,
                   unwrap: Callable[[], Any] | None = None) -> Painted:
        """Paint ``mesh`` from ``cutout``, keeping the views in the run folder: the textured mesh, the
        views and their bake. Raises ``skips.TextureUnavailable`` when a texture model cannot be
        loaded, and ``ProtocolError``: out of memory twice (the second time with smaller renders), or
        anything else that went wrong (as ``internal``, with the trace in the log)."""
        if not self.engine.can_paint:
            raise ProtocolError(ErrorCode.BAD_REQUEST, self.engine.no_texture)
        return family_of(self.manager.spec("paint")).paint_target(self, record, mesh, cutout, unwrap)
